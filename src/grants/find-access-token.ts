// Finds the live record of a presented access token, for introspection (RFC 7662) and revocation (RFC 7009).

import type { IntrospectedToken, ProviderConfig } from '../core/index.js';
import type { AccessTokenStore, RevokedTokenStore } from '../storage/index.js';
import type { AccessTokenStrategy } from '../tokens/index.js';

/**
 * An access token that is intact, known to this server, not revoked and not expired: the
 * facts introspection reports, plus where they came from.
 */
export interface ActiveAccessToken extends Omit<IntrospectedToken, 'tokenUse' | 'tokenId' | 'notBefore'> {
  /** The record key: the `jti` of a JWT or the signature of an opaque token. */
  readonly signature: string;
  /** True when the token has a record; false for a stateless JWT, known by its claims alone. */
  readonly isRecorded: boolean;
}

export interface FindAccessTokenDependencies {
  readonly config: Pick<ProviderConfig, 'issuer' | 'clock' | 'statelessAccessTokens'>;
  readonly storage: AccessTokenStore & RevokedTokenStore;
  readonly strategy: AccessTokenStrategy;
}

export interface FindAccessTokenOptions {
  /**
   * For a stateful instance: a well-signed JWT without a record is judged as a stateless
   * instance would, by its claims and the deny-list. Revocation wants this: on a store shared
   * with stateless instances (a rolling change of `statelessAccessTokens`), such a token was
   * issued by one of them and is live there until its `jti` is deny-listed.
   */
  readonly unrecordedJwtByClaims?: boolean;
}

/**
 * Returns the presented token when it is active, undefined otherwise. A token is active when
 * the strategy recognises it as its own and then: it has a record (opaque tokens always, JWTs
 * unless issuance is stateless), or, for a stateless JWT, its `jti` is not on the deny-list;
 * and it has not expired by the configured clock.
 */
export async function findActiveAccessToken(
  token: string,
  dependencies: FindAccessTokenDependencies,
  options: FindAccessTokenOptions = {},
): Promise<ActiveAccessToken | undefined> {
  const { config, storage, strategy } = dependencies;
  const recognised = await strategy.recogniseAccessToken(token);
  if (!recognised) return undefined;

  let found: ActiveAccessToken | undefined;
  if (strategy.format === 'opaque' || !config.statelessAccessTokens) {
    // The record is the authority: a well-signed JWT without one was never issued here, or
    // was revoked.
    const record = await storage.getAccessTokenRecord(recognised.signature);
    if (record && record.format === strategy.format) {
      found = {
        signature: record.signature,
        clientId: record.clientId,
        subject: record.subject,
        scopes: record.scopes,
        audience: record.audience,
        issuer: config.issuer,
        issuedAt: record.issuedAt,
        expiresAt: record.expiresAt,
        isRecorded: true,
      };
    } else if (!(strategy.format === 'jwt' && !record && options.unrecordedJwtByClaims)) {
      return undefined;
    }
  }
  if (!found) {
    const { claims } = recognised;
    if (!claims) return undefined;
    if (await storage.isTokenIdRevoked(recognised.signature)) return undefined;
    found = {
      signature: recognised.signature,
      clientId: claims.clientId,
      subject: claims.subject,
      scopes: claims.scopes,
      audience: claims.audience,
      issuer: claims.issuer,
      issuedAt: claims.issuedAt,
      expiresAt: claims.expiresAt,
      isRecorded: false,
    };
  }
  // RFC 7519 §4.1.4: the token must not be accepted on or after its expiry time. Expiry is
  // published in whole seconds (the JWT's exp, introspection's exp), so it is judged in them too:
  // a record keeps milliseconds, and its token would otherwise stay active past the exp it shows.
  if (!(Math.floor(found.expiresAt / 1000) * 1000 > config.clock.now())) return undefined;
  return found;
}
