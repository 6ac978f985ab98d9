// Validating JWT access tokens at a resource server, RFC 9068 §4.

import {
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';
import {
  OAuthError,
  asymmetricJwsAlgorithms,
  isCompactJws,
  systemClock,
  type AsymmetricJwsAlgorithm,
  type Clock,
} from '../core/index.js';
import { checkTokenIsActive, type IntrospectionCheckOptions } from './introspection-check.js';
import { longestTimerMs } from '../core/timer-limit.js';
import { createLocalJwkSet, KeySourceError, sharedRemoteJwkSet, type KeyResolver } from './remote-jwk-set.js';

/** Asymmetric JWS algorithms a verifier may accept. `none` and the HMAC family never are. */
export type AccessTokenAlgorithm = AsymmetricJwsAlgorithm;

const acceptableAlgorithms: ReadonlySet<string> = new Set<string>(asymmetricJwsAlgorithms);

/** What Tessera signs with: the default allow-list. */
const defaultAlgorithms: readonly AccessTokenAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** Claims RFC 9068 §2.2 makes mandatory in every JWT access token. */
const requiredClaims = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'];

/** How a resource server validates access tokens. Durations are in seconds. */
export interface AccessTokenVerifierOptions {
  /** The authorization server's issuer identifier; `iss` must equal it exactly (§4 step 3). */
  readonly issuer: string;
  /** This resource server's identifier(s); `aud` must contain one of them (§4 step 4). */
  readonly audience: string | readonly string[];
  /** Scopes every token must carry (more can be asked per call). */
  readonly requiredScopes?: readonly string[];
  /**
   * The authorization server's keys: its `jwks_uri` (fetched and cached), a resolver made by
   * `createRemoteJwkSet` for its own cache settings, or a JWK Set held in memory.
   */
  readonly jwks: string | URL | KeyResolver | JSONWebKeySet;
  /** The `alg` values accepted. Default RS256, PS256, ES256, EdDSA. Never `none` nor HS*. */
  readonly algorithms?: readonly AccessTokenAlgorithm[];
  /** Allowed clock difference for `exp`, `nbf` and `iat`. Default 10. */
  readonly clockTolerance?: number;
  readonly clock?: Clock;
  /** Also asks the introspection endpoint, so a revoked token is refused before it expires. */
  readonly introspection?: IntrospectionCheckOptions;
}

/** A token that passed every check, with its claims. */
export interface VerifiedAccessToken {
  readonly issuer: string;
  readonly subject: string;
  readonly clientId: string;
  readonly audience: readonly string[];
  readonly scopes: readonly string[];
  readonly tokenId: string;
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Every claim of the token, as sent. */
  readonly claims: Readonly<JWTPayload>;
  /** The `kid` of the key that signed it. */
  readonly keyId: string | undefined;
}

/** Checks access tokens with fixed options. */
export interface AccessTokenVerifier {
  /**
   * Validates `token` as RFC 9068 §4 asks.
   *
   * @param requiredScopes scopes needed here, on top of the verifier's own.
   * @throws OAuthError `invalid_token` (401), `insufficient_scope` (403), or
   *   `temporarily_unavailable` (503) when the JWK Set or the introspection endpoint cannot be reached.
   */
  verify(token: string, requiredScopes?: readonly string[]): Promise<VerifiedAccessToken>;
  /** The scopes every token must hold, whatever `verify` is asked for on top (named in challenges). */
  readonly requiredScopes?: readonly string[];
}

/**
 * Creates a verifier for JWT access tokens of one authorization server, for one resource server.
 *
 * @throws TypeError for an algorithm that is not an asymmetric JWS algorithm, a bad scope name, or
 *   introspection options that cannot work (an endpoint that is not an http(s) URL, say).
 * @example
 * const verifier = createAccessTokenVerifier({
 *   issuer: 'https://auth.example.com',
 *   audience: 'https://api.example.com',
 *   jwks: 'https://auth.example.com/.well-known/jwks.json',
 * });
 * const auth = await verifier.verify(token, ['invoices:read']);
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const {
    issuer,
    requiredScopes = [],
    algorithms = defaultAlgorithms,
    clockTolerance = 10,
    clock = systemClock,
    introspection,
  } = options;
  const audience = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  if (!issuer) throw new TypeError('issuer is required');
  if (audience.length === 0 || audience.some((value) => !value)) {
    throw new TypeError('audience must name this resource server');
  }
  if (algorithms.length === 0) throw new TypeError('algorithms must name at least one algorithm');
  for (const alg of algorithms) {
    if (!acceptableAlgorithms.has(alg)) {
      throw new TypeError(`"${String(alg)}" is not an asymmetric JWS algorithm; none and HS* are never accepted`);
    }
  }
  checkScopeNames(requiredScopes);
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0) {
    throw new TypeError('clockTolerance must be a non-negative number of seconds');
  }
  if (introspection) checkIntrospectionOptions(introspection);
  const keys = pinKeyAlgorithms(toKeyResolver(options.jwks), algorithms);
  const allowed = new Set<string>(algorithms);

  return {
    requiredScopes: [...requiredScopes],
    async verify(token, extraScopes = []) {
      checkScopeNames(extraScopes);
      const verified = await verifyJwt(token);
      // A revoked token is invalid whatever its scopes, so revocation is checked first.
      if (introspection) await checkTokenIsActive(token, introspection);
      const missing = [...requiredScopes, ...extraScopes].filter((scope) => !verified.scopes.includes(scope));
      if (missing.length > 0) {
        throw new OAuthError('insufficientScope', { hint: `missing scope: ${missing.join(' ')}` });
      }
      return verified;
    },
  };

  async function verifyJwt(token: string): Promise<VerifiedAccessToken> {
    if (typeof token !== 'string' || token.split('.').length !== 3) {
      throw invalid(
        typeof token === 'string' && token.split('.').length === 5
          ? 'Encrypted access tokens are not accepted here.'
          : 'The access token is not a signed JWT.',
      );
    }
    // RFC 7515 §5.2: exactly base64url, which jose would read past (a space, `=` padding).
    if (!isCompactJws(token)) throw invalid('The access token is not a signed JWT.');
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw invalid('The access token is not a signed JWT.');
    }
    // §4 step 1: `typ` must say at+jwt; media types compare case-insensitively and may omit `application/`.
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined;
    if (typ !== 'at+jwt' && typ !== 'application/at+jwt') {
      throw invalid('The token is not a JWT access token (typ must be at+jwt).');
    }
    // §4 step 5: only the algorithms agreed with the authorization server; never none or HMAC.
    if (typeof header.alg !== 'string' || !allowed.has(header.alg)) {
      throw invalid('The access token is signed with an algorithm that is not accepted.');
    }
    const verifyOptions = {
      issuer,
      audience,
      algorithms: [...allowed],
      typ: 'at+jwt',
      clockTolerance,
      currentDate: new Date(clock.now()),
      requiredClaims,
    };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, verifyOptions));
    } catch (error) {
      if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw fromVerificationError(error);
      // A token without a kid may match several published keys (during a rotation, say): it
      // is good if one of them verifies it.
      payload = await verifyWithEachKey(token, error, verifyOptions);
    }
    const { sub, client_id: clientId, jti, scope, iat, exp, aud } = payload;
    // RFC 7519 §2: a NumericDate is a number of seconds. JSON's 1e400 parses as an infinity,
    // which jose takes for a number: an exp no clock ever reaches. (An infinite nbf jose refuses.)
    for (const [name, value] of [
      ['exp', exp],
      ['iat', iat],
    ] as const) {
      if (value !== undefined && !Number.isFinite(value)) {
        throw invalid(`The access token has a malformed ${name} claim.`);
      }
    }
    if (typeof sub !== 'string' || typeof clientId !== 'string' || typeof jti !== 'string') {
      throw invalid('The access token has a malformed sub, client_id or jti claim.');
    }
    if (scope !== undefined && typeof scope !== 'string') {
      throw invalid('The access token has a malformed scope claim.');
    }
    // RFC 7519 §4.1.3: one string, or an array of strings. jose only looks for ours among the
    // members, so a token whose other members are not strings would pass as malformed audiences.
    if (Array.isArray(aud) && aud.some((member) => typeof member !== 'string')) {
      throw invalid('The access token has a malformed aud claim.');
    }
    return {
      issuer,
      subject: sub,
      clientId,
      audience: Array.isArray(aud) ? aud : aud === undefined ? [] : [aud],
      scopes: scope ? scope.split(' ').filter(Boolean) : [],
      tokenId: jti,
      issuedAt: Number(iat) * 1000,
      expiresAt: Number(exp) * 1000,
      claims: payload,
      keyId: header.kid,
    };
  }
}

/** Tries every key a JWK Set matched; the first that verifies the signature decides. */
async function verifyWithEachKey(
  token: string,
  matches: errors.JWKSMultipleMatchingKeys,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  for await (const key of matches) {
    try {
      return (await jwtVerify(token, key, options)).payload;
    } catch (error) {
      if (!(error instanceof errors.JWSSignatureVerificationFailed)) throw fromVerificationError(error);
    }
  }
  throw fromVerificationError(matches);
}

/**
 * Validates one access token as RFC 9068 §4 asks. With a `jwks` URL, the fetched JWK Set is
 * cached per URL across calls; for many calls, create a verifier once with
 * {@link createAccessTokenVerifier}.
 *
 * @throws OAuthError `invalid_token` (401), `insufficient_scope` (403), `temporarily_unavailable` (503).
 * @example
 * const auth = await verifyAccessToken(token, {
 *   issuer: 'https://auth.example.com',
 *   audience: 'https://api.example.com',
 *   requiredScopes: ['invoices:read'],
 *   jwks: 'https://auth.example.com/.well-known/jwks.json',
 * });
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export async function verifyAccessToken(
  token: string,
  options: AccessTokenVerifierOptions,
): Promise<VerifiedAccessToken> {
  // Async, so options that cannot work reject the promise instead of throwing before it exists.
  return createAccessTokenVerifier(options).verify(token);
}

function toKeyResolver(jwks: AccessTokenVerifierOptions['jwks']): KeyResolver {
  if (typeof jwks === 'function') return jwks;
  if (typeof jwks === 'string' || jwks instanceof URL) return sharedRemoteJwkSet(jwks);
  return createLocalJwkSet(jwks);
}

/**
 * The token's `alg` is not the one algorithm its key is used with (RFC 8725 §3.1), though the key
 * matched its `kid` and key type.
 */
class KeyAlgorithmMismatch extends Error {
  override readonly name = 'KeyAlgorithmMismatch';
}

/** A key source whose current JWK Set can be read (jose's local and remote sets, ours). */
type KeySetResolver = KeyResolver & { readonly jwks?: () => JSONWebKeySet | undefined };

/**
 * The one algorithm a key without `alg` is used with, or undefined when none of `algorithms` fits
 * it. EC keys by their curve; Ed25519 keys with EdDSA (Ed25519 when only that name is accepted);
 * RSA keys with RS256, or when RS256 is not accepted, the first RSA algorithm of `algorithms`.
 */
function impliedAlgorithm(jwk: Record<string, unknown>, algorithms: readonly string[]): string | undefined {
  const accepted = (alg: string) => (algorithms.includes(alg) ? alg : undefined);
  switch (jwk.kty) {
    case 'RSA':
      return accepted('RS256') ?? algorithms.find((alg) => /^(RS|PS)(256|384|512)$/.test(alg));
    case 'EC': {
      const byCurve: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
      const alg = typeof jwk.crv === 'string' && Object.hasOwn(byCurve, jwk.crv) ? byCurve[jwk.crv] : undefined;
      return alg === undefined ? undefined : accepted(alg);
    }
    case 'OKP':
      return jwk.crv === 'Ed25519' ? (accepted('EdDSA') ?? accepted('Ed25519')) : undefined;
    default:
      return undefined;
  }
}

/**
 * The JWK Set with each key bound to one algorithm: a key with `alg` keeps it, a key without gets
 * the algorithm its type implies, and one without an implied algorithm is left out. Anything that
 * is not a JWK Set is returned as it is, for jose to refuse.
 */
function pinnedJwkSet(jwks: JSONWebKeySet, algorithms: readonly string[]): JSONWebKeySet {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) return jwks;
  const keys = [];
  for (const jwk of jwks.keys as unknown[]) {
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return jwks;
    const member = jwk as Record<string, unknown>;
    if (member.alg !== undefined) {
      keys.push(member);
      continue;
    }
    const alg = impliedAlgorithm(member, algorithms);
    if (alg !== undefined) keys.push({ ...member, alg });
  }
  return { ...jwks, keys } as JSONWebKeySet;
}

/**
 * RFC 8725 §3.1: each key is used with exactly one algorithm, so a token cannot choose, with its
 * header, how a key without `alg` is used (an RSA key for both RS256 and PS256, say). The source
 * still fetches, caches and matches `kid` and key type as before; the key is then taken from the
 * same set with every key bound to its algorithm. A resolver that does not show its JWK Set (one
 * written by the caller) is used as it is.
 */
function pinKeyAlgorithms(source: KeySetResolver, algorithms: readonly string[]): KeyResolver {
  const current = source.jwks;
  if (typeof current !== 'function') return source;
  let seenSet: unknown;
  let seenText: string | undefined;
  let pinned: KeyResolver | undefined;
  return async (protectedHeader, token) => {
    try {
      await source(protectedHeader, token);
    } catch (error) {
      // A key named by the token is there, but bound by its own alg to another algorithm.
      if (error instanceof errors.JWKSNoMatchingKey && boundToAnotherAlgorithm(current.call(source), protectedHeader)) {
        throw new KeyAlgorithmMismatch('the key that matched is used with another algorithm', { cause: error });
      }
      // Several candidates are sorted out below, among the pinned keys.
      if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    }
    const jwks = current.call(source);
    if (!jwks) throw new KeySourceError('the JWK Set could not be read');
    // The remote set hands over the same object until it fetches again: then nothing is redone.
    // A source that hands over a new object each time is compared by content.
    if (jwks !== seenSet || !pinned) {
      const text = JSON.stringify(jwks);
      if (text !== seenText || !pinned) {
        pinned = createLocalJwkSet(pinnedJwkSet(jwks, algorithms));
        seenText = text;
      }
      seenSet = jwks;
    }
    try {
      return await pinned(protectedHeader, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey) {
        throw new KeyAlgorithmMismatch('the key that matched is used with another algorithm', { cause: error });
      }
      throw error;
    }
  };
}

/**
 * Whether the set holds the key the header names by `kid`, with an `alg` other than the header's:
 * jose then finds no key, and the token was refused for its algorithm, not for an unknown key.
 */
function boundToAnotherAlgorithm(jwks: JSONWebKeySet | undefined, header: { alg?: string; kid?: string } | undefined) {
  if (!jwks || !Array.isArray(jwks.keys) || typeof header?.kid !== 'string') return false;
  return jwks.keys.some(
    (jwk) =>
      typeof jwk === 'object' &&
      jwk !== null &&
      jwk.kid === header.kid &&
      typeof jwk.alg === 'string' &&
      jwk.alg !== header.alg,
  );
}

function invalid(description: string, cause?: unknown): OAuthError {
  return new OAuthError('invalidToken', { description, cause });
}

/** Says what failed, in words safe for a `WWW-Authenticate` header; never the token itself. */
function fromVerificationError(error: unknown): OAuthError {
  if (error instanceof KeySourceError) {
    return new OAuthError('temporarilyUnavailable', {
      description: 'The keys to check the access token could not be fetched.',
      cause: error,
    });
  }
  if (error instanceof errors.JWTExpired) return invalid('The access token expired.', error);
  if (error instanceof errors.JWTClaimValidationFailed) {
    const described: Record<string, string> = {
      iss: 'The access token was issued by another authorization server.',
      aud: 'The access token is not meant for this resource server.',
      nbf: 'The access token is not valid yet.',
      iat: 'The access token has an invalid issue time.',
      typ: 'The token is not a JWT access token (typ must be at+jwt).',
    };
    return invalid(
      error.reason === 'missing'
        ? `The access token lacks the ${error.claim} claim.`
        : (described[error.claim] ?? `The access token has an invalid ${error.claim} claim.`),
      error,
    );
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return invalid('The access token was signed by an unknown key.', error);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalid('The access token signature is invalid.', error);
  }
  if (error instanceof KeyAlgorithmMismatch) {
    return invalid('The access token is signed with an algorithm its key is not used with.', error);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return invalid('The access token is signed with an algorithm that is not accepted.', error);
  }
  return invalid('The access token is malformed.', error);
}

/**
 * Options of the introspection call that can never work, refused when the verifier is made: at
 * request time each would be a 503 temporarily_unavailable for every token, blamed on the network.
 */
function checkIntrospectionOptions(options: IntrospectionCheckOptions): void {
  const { endpoint, clientId, clientSecret, authMethod, timeout } = options;
  const url = endpoint instanceof URL ? endpoint : URL.canParse(endpoint) ? new URL(endpoint) : undefined;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new TypeError('introspection.endpoint must be an http(s) URL');
  }
  if (typeof clientId !== 'string' || clientId === '' || typeof clientSecret !== 'string') {
    throw new TypeError('introspection.clientId and introspection.clientSecret must be strings');
  }
  if (authMethod !== undefined && authMethod !== 'client_secret_basic' && authMethod !== 'client_secret_post') {
    throw new TypeError('introspection.authMethod must be client_secret_basic or client_secret_post');
  }
  if (
    timeout !== undefined &&
    !(Number.isFinite(timeout) && timeout > 0 && Math.ceil(timeout * 1000) <= longestTimerMs)
  ) {
    throw new TypeError(`introspection.timeout must be a positive number of seconds, at most ${longestTimerMs / 1000}`);
  }
}

/** RFC 6749 §3.3 scope tokens; they also appear quoted in `WWW-Authenticate` (RFC 6750 §3). */
function checkScopeNames(scopes: readonly string[]): void {
  for (const scope of scopes) {
    if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope)) {
      throw new TypeError(`"${scope}" is not a valid scope name (RFC 6749 §3.3)`);
    }
  }
}
