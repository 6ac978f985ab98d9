// Revocation of access tokens, RFC 7009 §2.1.

import type { FactoryDependencies, ProviderConfig, RevocationHandler, RevocationOutcome } from '../core/index.js';
import type { AccessTokenStore, RevokedTokenStore } from '../storage/index.js';
import type { AccessTokenStrategy } from '../tokens/index.js';
import { findActiveAccessToken } from './find-access-token.js';

type RevocationConfig = Pick<ProviderConfig, 'issuer' | 'clock' | 'statelessAccessTokens'>;

/**
 * Creates the access-token revocation handler. An opaque token loses its record. A JWT loses
 * its record and its `jti` goes on the deny-list until the token would have expired, in either
 * mode: an instance that shares the store but reads the other way (stateful ones the record,
 * stateless ones the deny-list, as during a rolling change of `statelessAccessTokens`) must find
 * it revoked too. For the same reason a stateful instance revokes a well-signed JWT it has no
 * record of by its claims: a stateless instance on the store issued it and reads only the
 * deny-list. Only the client the token was issued to may revoke it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
export function accessTokenRevocation(
  dependencies: FactoryDependencies<AccessTokenStore & RevokedTokenStore, AccessTokenStrategy, unknown> & {
    readonly config: RevocationConfig;
  },
): RevocationHandler {
  const { storage, strategy } = dependencies;
  return {
    kind: 'revocation-handler',
    tokenType: 'access_token',
    async revokeToken(query): Promise<RevocationOutcome> {
      const found = await findActiveAccessToken(query.token, dependencies, { unrecordedJwtByClaims: true });
      // Unknown, expired and already revoked tokens need nothing more (§2.2).
      if (!found) return 'unknown';
      // §2.1: the server "verifies whether the token was issued to the client making the
      // revocation request".
      if (found.clientId !== query.client.id) return 'not-owner';
      // The deny-list first: should the second write fail, the answer is an error, and the token
      // is already refused where the deny-list is read.
      if (strategy.format === 'jwt') await storage.revokeTokenId(found.signature, found.expiresAt);
      await storage.deleteAccessTokenRecord(found.signature);
      return 'revoked';
    },
  };
}
