// Client credentials grant, RFC 6749 §4.4.

import {
  OAuthError,
  isPublicClient,
  type AccessRequest,
  type AccessResponse,
  type FactoryDependencies,
  type ProviderConfig,
  type TokenEndpointHandler,
} from '../core/index.js';
import type { AccessTokenStore } from '../storage/index.js';
import type { AccessTokenStrategy } from '../tokens/index.js';
import { grantAudience, grantScopes } from './validate-scope.js';

type ClientCredentialsConfig = Pick<
  ProviderConfig,
  | 'issuer'
  | 'accessTokenLifespan'
  | 'clock'
  | 'scopeStrategy'
  | 'audienceStrategy'
  | 'defaultAudience'
  | 'statelessAccessTokens'
>;

/**
 * Creates the `client_credentials` token-endpoint handler: the client, authenticated, asks for
 * a token on its own behalf. No refresh token is issued (§4.4.3).
 *
 * @throws OAuthError `unauthorized_client` for a public client or one not allowed the grant;
 *   `invalid_scope`; `invalid_request` for a disallowed audience.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export function clientCredentialsGrant(
  dependencies: FactoryDependencies<AccessTokenStore, AccessTokenStrategy, unknown> & {
    readonly config: ClientCredentialsConfig;
  },
): TokenEndpointHandler {
  const { config, storage, strategy } = dependencies;
  return {
    kind: 'token-endpoint',
    grantType: 'client_credentials',
    canHandleTokenEndpointRequest: (request) => request.grantType === 'client_credentials',
    canSkipClientAuth: () => false,

    handleTokenEndpointRequest(request: AccessRequest): Promise<AccessRequest> {
      const { client } = request;
      // §4.4: "The client credentials grant type MUST only be used by confidential clients."
      if (isPublicClient(client)) {
        throw new OAuthError('unauthorizedClient', {
          hint: 'A public client may not use the client_credentials grant.',
        });
      }
      if (!client.grantTypes.includes('client_credentials')) {
        throw new OAuthError('unauthorizedClient', {
          hint: 'This client is not allowed the client_credentials grant.',
        });
      }
      return Promise.resolve({
        ...request,
        grantedScopes: grantScopes(client, request.requestedScopes, config),
        grantedAudience: grantAudience(client, request.requestedAudience, config),
      });
    },

    async populateTokenEndpointResponse(request: AccessRequest): Promise<AccessResponse> {
      // Stores keep whole milliseconds; a clock with a fraction must not make every record refused.
      const issuedAt = Math.floor(config.clock.now());
      const expiresAt = issuedAt + config.accessTokenLifespan * 1000;
      const audience = request.grantedAudience.length > 0 ? request.grantedAudience : config.defaultAudience;
      const claims = {
        issuer: config.issuer,
        subject: request.session.subject ?? request.client.id,
        clientId: request.client.id,
        audience,
        scopes: request.grantedScopes,
        issuedAt,
        expiresAt,
        extraClaims: request.session.extraClaims,
      };
      const issued = await strategy.issueAccessToken(claims);
      if (!config.statelessAccessTokens) {
        // The token goes out only once its record is safely stored.
        await storage.createAccessTokenRecord({
          signature: issued.signature,
          format: strategy.format,
          clientId: claims.clientId,
          subject: claims.subject,
          scopes: claims.scopes,
          audience: claims.audience,
          issuedAt,
          expiresAt,
          requestId: request.id,
          ...(claims.extraClaims ? { extraClaims: claims.extraClaims } : {}),
        });
      }
      return {
        accessToken: issued.token,
        tokenType: 'bearer',
        expiresIn: Math.round((expiresAt - issuedAt) / 1000),
        grantedScopes: request.grantedScopes,
      };
    },
  } satisfies TokenEndpointHandler;
}
