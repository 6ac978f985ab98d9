// Revocation of access tokens, RFC 7009 §2.1.

import type { FactoryDependencies, ProviderConfig, RevocationHandler, RevocationOutcome } from '../core/index.js';
import type { AccessTokenStore, RevokedTokenStore } from '../storage/index.js';
import type { AccessTokenStrategy } from '../tokens/index.js';
import { findActiveAccessToken } from './find-access-token.js';

type RevocationConfig = Pick<ProviderConfig, 'issuer' | 'clock' | 'statelessAccessTokens'>;

/**
 * Creates the access-token revocation handler. A recorded token (opaque, or a JWT in the
 * default stateful mode) loses its record; a stateless JWT's `jti` goes on the deny-list until
 * the token would have expired. Only the client the token was issued to may revoke it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
export function accessTokenRevocation(
  dependencies: FactoryDependencies<AccessTokenStore & RevokedTokenStore, AccessTokenStrategy, unknown> & {
    readonly config: RevocationConfig;
  },
): RevocationHandler {
  const { storage } = dependencies;
  return {
    kind: 'revocation-handler',
    tokenType: 'access_token',
    async revokeToken(query): Promise<RevocationOutcome> {
      const found = await findActiveAccessToken(query.token, dependencies);
      // Unknown, expired and already revoked tokens need nothing more (§2.2).
      if (!found) return 'unknown';
      // §2.1: the server "verifies whether the token was issued to the client making the
      // revocation request".
      if (found.clientId !== query.client.id) return 'not-owner';
      if (found.isRecorded) {
        await storage.deleteAccessTokenRecord(found.signature);
      } else {
        await storage.revokeTokenId(found.signature, found.expiresAt);
      }
      return 'revoked';
    },
  };
}
