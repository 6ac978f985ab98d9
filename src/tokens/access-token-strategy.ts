// What a token strategy does: make an access token and tell the store what to keep of it.

import type { KeySet } from '../keys/index.js';

/** The facts an access token carries, in domain spelling. */
export interface AccessTokenClaims {
  readonly issuer: string;
  readonly subject: string;
  readonly clientId: string;
  readonly audience: readonly string[];
  readonly scopes: readonly string[];
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly extraClaims?: Readonly<Record<string, unknown>>;
}

/** A freshly issued token and the value a store keeps instead of it. */
export interface IssuedAccessToken {
  /** The bearer token to hand to the client. Never stored. */
  readonly token: string;
  /** The `jti` of a JWT or the signature of an opaque token: the record key. */
  readonly signature: string;
}

/** A presented token this strategy recognised as its own, with an intact signature. */
export interface RecognisedAccessToken {
  readonly signature: string;
  /** The claims, when the token carries them (JWT); opaque tokens need their record. */
  readonly claims?: AccessTokenClaims;
}

/** Makes and recognises access tokens of one format. */
export interface AccessTokenStrategy {
  readonly format: 'jwt' | 'opaque';
  /** The keys a JWT strategy signs with; the provider publishes them as the JWK Set. */
  readonly keys?: KeySet;
  /**
   * The `iss` a strategy requires of the tokens it recognises, when it checks one. compose()
   * refuses a config whose issuer is spelled otherwise: its tokens would never be recognised.
   */
  readonly issuer?: string;
  issueAccessToken(claims: AccessTokenClaims): Promise<IssuedAccessToken>;
  /**
   * Checks a presented token's integrity (not its expiry or revocation).
   * Returns undefined for a token this strategy did not make or cannot read.
   */
  recogniseAccessToken(token: string): Promise<RecognisedAccessToken | undefined>;
}
