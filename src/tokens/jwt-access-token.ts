// JWT access tokens, RFC 9068: `typ: at+jwt`, the §2.2 claims, signed by the key set's active key.

import { randomUUID } from 'node:crypto';
import { SignJWT, createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { KeySet } from '../keys/index.js';
import type {
  AccessTokenClaims,
  AccessTokenStrategy,
  IssuedAccessToken,
  RecognisedAccessToken,
} from './access-token-strategy.js';

/** Claims an application may not set through `extraClaims`: they carry the token's meaning. */
const registeredClaims = new Set([
  'iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'scope',
]);

export interface JwtAccessTokenStrategyOptions {
  readonly keys: KeySet;
  /** The issuer tokens must name to be recognised. */
  readonly issuer: string;
}

/**
 * Creates the RFC 9068 JWT access-token strategy. The `jti` is a random UUID and is what
 * stores keep.
 *
 * @example
 * const strategy = jwtAccessTokenStrategy({ keys: createStaticKeySet([key]), issuer: 'https://auth.example.com' });
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2
 */
export function jwtAccessTokenStrategy(options: JwtAccessTokenStrategyOptions): AccessTokenStrategy {
  const { keys, issuer } = options;
  return {
    format: 'jwt',
    keys,
    async issueAccessToken(claims: AccessTokenClaims): Promise<IssuedAccessToken> {
      const key = await keys.getSigningKey();
      const jti = randomUUID();
      const token = await new SignJWT(toJwtPayload(claims, jti))
        .setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid })
        .sign(key.privateKey);
      return { token, signature: jti };
    },
    async recogniseAccessToken(token: string): Promise<RecognisedAccessToken | undefined> {
      try {
        const jwks = createLocalJWKSet({ keys: [...(await keys.getPublicJwks()).keys] });
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

/** The §2.2 claim set, in wire spelling. */
export function toJwtPayload(claims: AccessTokenClaims, jti: string): JWTPayload {
  const extra = Object.fromEntries(
    Object.entries(claims.extraClaims ?? {}).filter(([name]) => !registeredClaims.has(name)),
  );
  const payload: JWTPayload = {
    ...extra,
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
