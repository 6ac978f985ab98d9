// JWT access tokens, RFC 9068: `typ: at+jwt`, the §2.2 claims, signed by the key set's active key.

import { constants, sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { isCompactJws } from '../core/compact-jws.js';
import { canonicalIssuer } from '../core/config.js';
import type { KeySet, SigningKey } from '../keys/index.js';
import { timeOrderedUuid } from './time-ordered-id.js';
import type {
  AccessTokenClaims,
  AccessTokenStrategy,
  IssuedAccessToken,
  RecognisedAccessToken,
} from './access-token-strategy.js';

/** Claims an application may not set through `extraClaims`: they carry the token's meaning. */
const registeredClaims = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'scope']);

export interface JwtAccessTokenStrategyOptions {
  readonly keys: KeySet;
  /** The issuer tokens must name to be recognised; trailing slashes are removed, as compose() does. */
  readonly issuer: string;
}

/**
 * Creates the RFC 9068 JWT access-token strategy. The `jti` is a time-ordered UUID (version 7,
 * see {@link timeOrderedUuid}) and is what stores keep.
 *
 * @example
 * const strategy = jwtAccessTokenStrategy({ keys: createStaticKeySet([key]), issuer: 'https://auth.example.com' });
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2
 */
export function jwtAccessTokenStrategy(options: JwtAccessTokenStrategyOptions): AccessTokenStrategy {
  const { keys } = options;
  // The same spelling compose() gives the config, which is what issued tokens carry as `iss`.
  const issuer = canonicalIssuer(options.issuer);
  return {
    format: 'jwt',
    keys,
    issuer,
    async issueAccessToken(claims: AccessTokenClaims): Promise<IssuedAccessToken> {
      const key = await keys.getSigningKey();
      const jti = timeOrderedUuid();
      const token = await signCompactJwt(key, toJwtPayload(claims, jti));
      return { token, signature: jti };
    },
    async recogniseAccessToken(token: string): Promise<RecognisedAccessToken | undefined> {
      // A variant of an issued token (a space added, its last character changed) is not it.
      if (!isCompactJws(token)) return undefined;
      // Outside the try: a key set that cannot answer (its store unreachable, say) is a failure
      // to report, not a token that is not ours; read as "not ours", introspection would say
      // inactive and revocation would answer 200 having revoked nothing.
      const jwks = createLocalJWKSet({ keys: [...(await keys.getPublicJwks()).keys] });
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer,
          typ: 'at+jwt',
          algorithms: [...keys.algorithms],
          // Expiry is judged by the caller with its own clock.
          currentDate: new Date(0),
        });
        if (typeof payload.jti !== 'string') return undefined;
        return { signature: payload.jti, claims: fromJwtPayload(payload) };
      } catch {
        return undefined;
      }
    },
  };
}

/** The encoded protected header of each key, made once: `{"alg","typ":"at+jwt","kid"}`. */
const encodedHeaders = new WeakMap<SigningKey, string>();

/**
 * Signs a JWT in JWS compact serialisation (RFC 7515 §7.1) with node:crypto. RSA signatures
 * (about 1 ms each) are made on libuv's thread pool, so the event loop keeps serving meanwhile;
 * ES256 and EdDSA signatures take a few tens of microseconds, less than handing them to the pool
 * costs, so they are made on the event loop, together at the end of the turn (see
 * {@link inlineSignatures}). jose wraps each signature in WebCrypto key preparation that costs
 * more than an ES256 or EdDSA signature itself; this path skips it. Every token it makes is
 * verified with jose in the tests.
 */
export function signCompactJwt(key: SigningKey, payload: JWTPayload): Promise<string> {
  let header = encodedHeaders.get(key);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid })).toString('base64url');
    encodedHeaders.set(key, header);
  }
  const signingInput = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const [digest, signingKey] = signatureParameters(key);
  if (key.alg === 'ES256' || key.alg === 'EdDSA') {
    return inlineSignatures.add(signingInput, () => sign(digest, Buffer.from(signingInput), signingKey));
  }
  return new Promise((resolve, reject) => {
    sign(digest, Buffer.from(signingInput), signingKey, (error, signature) => {
      if (error) reject(error);
      else resolve(`${signingInput}.${signature.toString('base64url')}`);
    });
  });
}

interface PendingSignature {
  readonly signingInput: string;
  readonly sign: () => Buffer;
  readonly resolve: (token: string) => void;
  readonly reject: (error: Error) => void;
}

/** Most signatures made in one go, so a burst cannot hold the event loop for long. */
export const maxInlineSignatureBatch = 64;

/**
 * Signatures made on the event loop wait for the end of the current turn (`setImmediate`, after
 * the turn's I/O callbacks) and are then made one after another. A server under load parses a
 * burst of requests per turn; signing each between the others' parsing and answering finds the
 * curve's tables and code out of the CPU caches every time. Made together they stay warm: on the
 * benchmark machine an ES256 signature costs about 60 µs of CPU when interleaved and about 26 µs
 * in a run. The wait is the rest of the current turn, not a timer.
 */
export const inlineSignatures = createSignatureBatch(maxInlineSignatureBatch);

/** A queue of inline signatures made together at the end of each turn of the event loop. */
export function createSignatureBatch(maxBatch: number) {
  let waiting: PendingSignature[] = [];
  let scheduled = false;

  const run = (): void => {
    scheduled = false;
    const batch = waiting.length > maxBatch ? waiting.splice(0, maxBatch) : waiting;
    if (batch === waiting) waiting = [];
    // What is left (a burst beyond maxBatch) goes in the next turn, after other callbacks had theirs.
    if (waiting.length > 0) schedule();
    for (const entry of batch) {
      let signature: Buffer;
      try {
        signature = entry.sign();
      } catch (error) {
        entry.reject(error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      entry.resolve(`${entry.signingInput}.${signature.toString('base64url')}`);
    }
  };

  const schedule = (): void => {
    scheduled = true;
    setImmediate(run);
  };

  return {
    /** Signs `signingInput` with `sign` at the end of this turn; resolves to the compact JWS. */
    add(signingInput: string, sign: () => Buffer): Promise<string> {
      return new Promise((resolve, reject) => {
        waiting.push({ signingInput, sign, resolve, reject });
        if (!scheduled) schedule();
      });
    },
    /** How many signatures wait for the end of the turn (for tests). */
    get size(): number {
      return waiting.length;
    },
  };
}

/** RFC 7518 §3.1: the digest and key options node:crypto needs for each JWS algorithm. */
function signatureParameters(key: SigningKey): [string | null, KeyObject | SignKeyObjectInput] {
  switch (key.alg) {
    case 'RS256':
      return ['sha256', key.privateKey];
    case 'PS256':
      // §3.5: the salt is as long as the digest.
      return ['sha256', { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }];
    case 'ES256':
      // §3.4: R and S concatenated, not the DER structure OpenSSL produces by default.
      return ['sha256', { key: key.privateKey, dsaEncoding: 'ieee-p1363' }];
    case 'EdDSA':
      return [null, key.privateKey];
  }
}

/** The §2.2 claim set, in wire spelling. */
export function toJwtPayload(claims: AccessTokenClaims, jti: string): JWTPayload {
  const payload: JWTPayload = {
    ...extraClaimsOf(claims),
    iss: claims.issuer,
    sub: claims.subject,
    aud: claims.audience.length === 1 ? claims.audience[0] : [...claims.audience],
    exp: Math.floor(claims.expiresAt / 1000),
    iat: Math.floor(claims.issuedAt / 1000),
    jti,
    client_id: claims.clientId,
  };
  // §2.2.3: scope is a space-separated string; absent when nothing was granted.
  if (claims.scopes.length > 0) payload.scope = claims.scopes.join(' ');
  return payload;
}

/** The caller's extra claims without the registered ones, which the strategy sets itself. */
function extraClaimsOf(claims: AccessTokenClaims): Record<string, unknown> | undefined {
  const extra = claims.extraClaims;
  // Most tokens carry none: no copies made for them.
  if (extra === undefined) return undefined;
  let kept: Record<string, unknown> | undefined;
  for (const name in extra) {
    if (!Object.hasOwn(extra, name) || registeredClaims.has(name)) continue;
    // No prototype: a claim named __proto__ stays a claim.
    (kept ??= Object.create(null) as Record<string, unknown>)[name] = extra[name];
  }
  return kept;
}

function fromJwtPayload(payload: JWTPayload): AccessTokenClaims {
  const { iss, sub, aud, exp, iat, client_id, scope, jti: _jti, nbf: _nbf, ...extraClaims } = payload;
  return {
    issuer: String(iss),
    subject: String(sub),
    clientId: String(client_id),
    audience: aud === undefined ? [] : Array.isArray(aud) ? aud : [aud],
    scopes: typeof scope === 'string' && scope !== '' ? scope.split(' ') : [],
    issuedAt: Number(iat) * 1000,
    expiresAt: Number(exp) * 1000,
    extraClaims,
  };
}
