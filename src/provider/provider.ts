// The provider: fosite's new…/write… pipeline over web-standard Request and Response.

import { randomUUID } from 'node:crypto';
import { authenticateClient } from '../client-auth/index.js';
import {
  OAuthError,
  type AccessRequest,
  type AccessResponse,
  type Client,
  type ClientAuthenticationMethod,
  type ProviderConfig,
  type Session,
  type TokenEndpointHandler,
} from '../core/index.js';
import { parseFormRequest, splitSpaceDelimited } from '../request/index.js';
import type { SecretHasher } from '../secrets/index.js';
import type { ClientStore } from '../storage/index.js';
import type { AccessTokenStrategy } from '../tokens/index.js';
import { writeJson, writeOAuthError } from './write-json.js';

/** The composed provider. Each endpoint is a pair of calls: new… to parse and decide, write… to answer. */
export interface Provider {
  readonly config: ProviderConfig;
  /** Grant types served, in the order their factories were given. */
  readonly grantTypes: readonly string[];
  readonly strategy: AccessTokenStrategy;

  /**
   * Parses a token request, authenticates the client and lets the grant's handler validate it.
   *
   * @throws OAuthError `invalid_request`, `invalid_client`, `unsupported_grant_type`, and the grant's own codes.
   * @example
   * const accessRequest = await provider.newAccessRequest(request, {});
   * const accessResponse = await provider.newAccessResponse(accessRequest);
   * return provider.writeAccessResponse(accessRequest, accessResponse);
   */
  newAccessRequest(request: Request, session?: Session): Promise<AccessRequest>;
  /** Lets the grant's handler issue the token(s). */
  newAccessResponse(accessRequest: AccessRequest): Promise<AccessResponse>;
  /** The §5.1 JSON response with `Cache-Control: no-store`. */
  writeAccessResponse(accessRequest: AccessRequest, accessResponse: AccessResponse): Response;
  /** The §5.2 error response for anything thrown by the calls above. */
  writeAccessError(accessRequest: AccessRequest | undefined, error: unknown): Response;
  /** The three calls in one: what a `/token` route does. */
  handleTokenRequest(request: Request, session?: Session): Promise<Response>;
  /** Answers `GET /.well-known/jwks.json` with the public keys of the strategy's key set. */
  handleJwksRequest(request: Request): Promise<Response>;
}

export interface ProviderParts {
  readonly config: ProviderConfig;
  readonly clients: ClientStore;
  readonly strategy: AccessTokenStrategy;
  readonly hasher: SecretHasher;
  readonly tokenEndpointHandlers: readonly TokenEndpointHandler[];
}

/** Builds a provider from parts compose() has checked. */
export function createProvider(parts: ProviderParts): Provider {
  const { config, clients, strategy, hasher, tokenEndpointHandlers } = parts;
  const authentication = { clients, hasher, realm: config.realm };

  const findHandler = (grantType: string, form: ReadonlyMap<string, string>) =>
    tokenEndpointHandlers.find((handler) =>
      handler.canHandleTokenEndpointRequest({ grantType, form }),
    );

  const provider: Provider = {
    config,
    grantTypes: tokenEndpointHandlers.map((handler) => handler.grantType),
    strategy,

    async newAccessRequest(request, session = {}) {
      const { form, authorization } = await parseFormRequest(request, config);
      const grantType = form.get('grant_type');
      if (grantType === undefined) {
        throw new OAuthError('invalidRequest', { hint: 'The grant_type parameter is missing.' });
      }
      const handler = findHandler(grantType, form);

      let client: Client | undefined;
      let method: ClientAuthenticationMethod = 'none';
      if (!handler?.canSkipClientAuth({ grantType, form })) {
        ({ client, method } = await authenticateClient({ form, authorization }, authentication));
      }
      // Checked after authentication, so unauthenticated callers learn nothing about grants.
      if (!handler) {
        throw new OAuthError('unsupportedGrantType', {
          hint: `The grant type "${grantType.slice(0, 60)}" is not supported.`,
        });
      }
      if (!client) {
        throw new OAuthError('invalidClient', { hint: 'The grant did not identify a client.' });
      }
      const accessRequest: AccessRequest = {
        id: randomUUID(),
        requestedAt: config.clock.now(),
        grantType,
        client,
        clientAuthenticationMethod: method,
        requestedScopes: splitSpaceDelimited(form.get('scope')),
        grantedScopes: [],
        requestedAudience: splitSpaceDelimited(form.get('audience')),
        grantedAudience: [],
        form,
        session,
      };
      return handler.handleTokenEndpointRequest(accessRequest);
    },

    newAccessResponse(accessRequest) {
      const handler = findHandler(accessRequest.grantType, accessRequest.form);
      if (!handler) {
        return Promise.reject(
          new OAuthError('unsupportedGrantType', { hint: 'No handler serves this grant type.' }),
        );
      }
      return handler.populateTokenEndpointResponse(accessRequest);
    },

    writeAccessResponse(_accessRequest, accessResponse) {
      // Keys in the order of the how-to's answer; `scope` is always present, even when empty.
      const body: Record<string, unknown> = {
        access_token: accessResponse.accessToken,
        expires_in: accessResponse.expiresIn,
        ...(accessResponse.refreshToken ? { refresh_token: accessResponse.refreshToken } : {}),
        scope: accessResponse.grantedScopes.join(' '),
        token_type: accessResponse.tokenType,
        ...accessResponse.extra,
      };
      return writeJson(body);
    },

    writeAccessError(_accessRequest, error) {
      return writeOAuthError(error, config);
    },

    async handleTokenRequest(request, session) {
      let accessRequest: AccessRequest | undefined;
      try {
        accessRequest = await provider.newAccessRequest(request, session);
        const accessResponse = await provider.newAccessResponse(accessRequest);
        return provider.writeAccessResponse(accessRequest, accessResponse);
      } catch (error) {
        return provider.writeAccessError(accessRequest, error);
      }
    },

    async handleJwksRequest(request) {
      try {
        if (request.method !== 'GET' && request.method !== 'HEAD') {
          throw new OAuthError('invalidRequest', {
            status: 405,
            hint: 'This endpoint accepts only GET.',
            headers: { Allow: 'GET, HEAD' },
          });
        }
        if (!strategy.keys) throw new OAuthError('notFound', { hint: 'No signing keys are configured.' });
        const jwks = await strategy.keys.getPublicJwks();
        return new Response(JSON.stringify(jwks), {
          headers: {
            'Content-Type': 'application/jwk-set+json',
            'Cache-Control': `public, max-age=${strategy.keys.jwksMaxAge}`,
          },
        });
      } catch (error) {
        return writeOAuthError(error, config);
      }
    },
  };
  return provider;
}
