// Token revocation endpoint, RFC 7009 §2.

import { OAuthError, type Client, type RevocationHandler, type TokenQuery } from '../core/index.js';
import { orderByHint } from './token-query.js';

/** A carried-out revocation request. */
export interface RevocationRequest {
  readonly client: Client;
  /** True when a handler found the token and revoked it; false when it was unknown or unusable. */
  readonly revoked: boolean;
}

/**
 * Asks each revocation handler, the hinted type first, until one knows the token.
 * RFC 7009 §2.1: when the hint is wrong the server "MUST extend its search across all of its
 * supported token types".
 *
 * @throws OAuthError `unauthorized_client` when the token was issued to another client (§2.1:
 *   "If this validation fails, the request is refused"); `unsupported_token_type` when the
 *   token is recognised but its type cannot be revoked (§2.2.1).
 */
export async function revoke(query: TokenQuery, handlers: readonly RevocationHandler[]): Promise<RevocationRequest> {
  for (const handler of orderByHint(handlers, query.tokenTypeHint)) {
    const outcome = await handler.revokeToken(query);
    switch (outcome) {
      case 'unknown':
        continue;
      case 'revoked':
        return { client: query.client, revoked: true };
      case 'not-owner':
        throw new OAuthError('unauthorizedClient', {
          hint: 'The token was not issued to this client.',
        });
      case 'unsupported':
        throw new OAuthError('unsupportedTokenType', {
          hint: `Tokens of type ${handler.tokenType} cannot be revoked here.`,
        });
    }
  }
  // §2.2: "invalid tokens do not cause an error response".
  return { client: query.client, revoked: false };
}
