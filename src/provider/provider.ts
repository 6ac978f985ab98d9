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
  type RevocationHandler,
  type Session,
  type TokenEndpointHandler,
  type TokenIntrospector,
} from '../core/index.js';
import { parseFormRequest, splitSpaceDelimited, type HttpRequest } from '../request/index.js';
import type { SecretHasher } from '../secrets/index.js';
import type { ClientStore, ReplayCache } from '../storage/index.js';
import type { AccessTokenStrategy } from '../tokens/index.js';
import { introspect, toIntrospectionBody, type IntrospectionRequest } from './introspection-endpoint.js';
import { buildAuthorizationServerMetadata, type AuthorizationServerMetadata } from './metadata-endpoint.js';
import { revoke, type RevocationRequest } from './revocation-endpoint.js';
import { defaultRoutes, mergeRoutes, type ProviderRoutes } from './routes.js';
import { readTokenQuery } from './token-query.js';
import { writeJson, writeOAuthError } from './write-json.js';

/** The composed provider. Each endpoint is a pair of calls: new… to parse and decide, write… to answer. */
export interface Provider {
  readonly config: ProviderConfig;
  /** Grant types served, in the order their factories were given. */
  readonly grantTypes: readonly string[];
  readonly strategy: AccessTokenStrategy;
  /**
   * Where the endpoints are served, below the issuer. The metadata names these URLs, and a
   * `private_key_jwt` assertion may name the token endpoint's as its `aud` at every endpoint.
   */
  readonly routes: ProviderRoutes;
  /**
   * The same provider, served at other paths: what {@link createRouter} uses when given routes,
   * so the metadata it serves and the assertion audiences accepted agree.
   */
  withRoutes(routes: Partial<ProviderRoutes>): Provider;

  /**
   * Parses a token request, authenticates the client and lets the grant's handler validate it.
   *
   * @throws OAuthError `invalid_request`, `invalid_client`, `unsupported_grant_type`, and the grant's own codes.
   * @example
   * const accessRequest = await provider.newAccessRequest(request, {});
   * const accessResponse = await provider.newAccessResponse(accessRequest);
   * return provider.writeAccessResponse(accessRequest, accessResponse);
   */
  newAccessRequest(request: HttpRequest, session?: Session): Promise<AccessRequest>;
  /** Lets the grant's handler issue the token(s). */
  newAccessResponse(accessRequest: AccessRequest): Promise<AccessResponse>;
  /** The §5.1 JSON response with `Cache-Control: no-store`. */
  writeAccessResponse(accessRequest: AccessRequest, accessResponse: AccessResponse): Response;
  /** The §5.2 error response for anything thrown by the calls above. */
  writeAccessError(accessRequest: AccessRequest | undefined, error: unknown): Response;
  /** The three calls in one: what a `/token` route does. */
  handleTokenRequest(request: HttpRequest, session?: Session): Promise<Response>;
  /** Answers `GET /.well-known/jwks.json` with the public keys of the strategy's key set. */
  handleJwksRequest(request: HttpRequest): Promise<Response>;

  /** True when an introspector was composed, so the introspection endpoint is served. */
  readonly hasIntrospection: boolean;
  /** True when a revocation handler was composed, so the revocation endpoint is served. */
  readonly hasRevocation: boolean;

  /**
   * Parses an RFC 7662 introspection request, authenticates the client (public clients are
   * refused) and asks the composed introspectors about the token.
   *
   * @throws OAuthError `invalid_request` (missing `token`, bad request), `invalid_client` (401),
   *   `not_found` when no introspector was composed.
   * @example
   * const introspection = await provider.newIntrospectionRequest(request);
   * return provider.writeIntrospectionResponse(introspection);
   * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.1
   */
  newIntrospectionRequest(request: HttpRequest): Promise<IntrospectionRequest>;
  /** The §2.2 JSON response, `{"active":false}` for anything not active, with `Cache-Control: no-store`. */
  writeIntrospectionResponse(introspection: IntrospectionRequest): Response;
  /** The §2.3 error response for anything thrown by {@link Provider.newIntrospectionRequest}. */
  writeIntrospectionError(error: unknown): Response;
  /** The introspection calls in one: what an `/introspect` route does. */
  handleIntrospectionRequest(request: HttpRequest): Promise<Response>;

  /**
   * Parses an RFC 7009 revocation request, authenticates the client and revokes the token when
   * it was issued to that client. Unknown, expired and already revoked tokens are no error.
   *
   * @throws OAuthError `invalid_request`, `invalid_client` (401), `unauthorized_client` for a
   *   token issued to another client, `unsupported_token_type`, `not_found` when no revocation
   *   handler was composed.
   * @example
   * const revocation = await provider.newRevocationRequest(request);
   * return provider.writeRevocationResponse(revocation);
   * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
   */
  newRevocationRequest(request: HttpRequest): Promise<RevocationRequest>;
  /** §2.2: 200 with an empty body. */
  writeRevocationResponse(revocation: RevocationRequest): Response;
  /** The §2.2.1 error response for anything thrown by {@link Provider.newRevocationRequest}. */
  writeRevocationError(error: unknown): Response;
  /** The revocation calls in one: what a `/revoke` route does. */
  handleRevocationRequest(request: HttpRequest): Promise<Response>;

  /** The RFC 8414 metadata of this provider, with endpoint URLs built from `routes` over {@link Provider.routes}. */
  getAuthorizationServerMetadata(routes?: Partial<ProviderRoutes>): AuthorizationServerMetadata;
  /** Answers `GET /.well-known/oauth-authorization-server` (RFC 8414 §3). */
  handleMetadataRequest(request: HttpRequest, routes?: Partial<ProviderRoutes>): Promise<Response>;

  /**
   * Lets go of what the provider made for itself: the verified-secret cache compose() builds when
   * given no hasher stops listening to the store's changes and forgets its entries. Parts passed
   * in (store, key set, a hasher of your own) are yours to close. Calling it twice is harmless.
   */
  close(): void;
}

export interface ProviderParts {
  readonly config: ProviderConfig;
  readonly clients: ClientStore;
  readonly strategy: AccessTokenStrategy;
  readonly hasher: SecretHasher;
  readonly tokenEndpointHandlers: readonly TokenEndpointHandler[];
  readonly introspectors?: readonly TokenIntrospector[];
  readonly revocationHandlers?: readonly RevocationHandler[];
  /** Where used assertion ids are kept; with it, clients may authenticate with `private_key_jwt`. */
  readonly replayCache?: ReplayCache;
  /** Run by {@link Provider.close}: releases what was made for this provider alone. */
  readonly onClose?: () => void;
  /** Where the endpoints are served. Default {@link defaultRoutes}. */
  readonly routes?: ProviderRoutes;
}

/** Builds a provider from parts compose() has checked. */
export function createProvider(parts: ProviderParts): Provider {
  const { config, clients, strategy, hasher, tokenEndpointHandlers } = parts;
  const introspectors = parts.introspectors ?? [];
  const revocationHandlers = parts.revocationHandlers ?? [];
  const grantTypes = tokenEndpointHandlers.map((handler) => handler.grantType);
  const routes = parts.routes ?? defaultRoutes;
  const authentication = {
    clients,
    hasher,
    realm: config.realm,
    ...(parts.replayCache
      ? {
          assertions: {
            // RFC 7523 §3: the issuer identifier or the token endpoint URL, as the metadata publishes
            // it (authenticateClient adds the URL of the endpoint being called).
            issuer: config.issuer,
            audiences: [config.issuer, `${config.issuer}${routes.token}`],
            replay: parts.replayCache,
            clock: config.clock,
          },
        }
      : {}),
  };

  const findHandler = (grantType: string, form: ReadonlyMap<string, string>) =>
    tokenEndpointHandlers.find((handler) => handler.canHandleTokenEndpointRequest({ grantType, form }));

  const provider: Provider = {
    config,
    grantTypes,
    strategy,
    routes,
    hasIntrospection: introspectors.length > 0,
    hasRevocation: revocationHandlers.length > 0,

    withRoutes(changes) {
      return createProvider({ ...parts, routes: mergeRoutes(routes, changes) });
    },

    close() {
      parts.onClose?.();
    },

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
        ({ client, method } = await authenticateClient({ form, authorization, url: request.url }, authentication));
      }
      // Checked after authentication, so unauthenticated callers learn nothing about grants.
      if (!handler) {
        throw new OAuthError('unsupportedGrantType', {
          hint: `The grant type "${grantType.slice(0, 60)}" is not supported.`,
        });
      }
      if (!client) {
        throw new OAuthError('invalidClient', {
          hint: 'The grant did not identify a client.',
          // §5.2: a 401 invalid_client carries a challenge.
          headers: { 'WWW-Authenticate': `Basic realm="${config.realm}"` },
        });
      }
      const scope = form.get('scope');
      const requestedScopes = splitSpaceDelimited(scope);
      // §3.3: a scope is one or more scope-tokens. A value of only spaces names none, yet it is a
      // value (§3.1 omits only an empty one), so it is malformed rather than a request for defaults.
      if (scope !== undefined && requestedScopes.length === 0) {
        throw new OAuthError('invalidScope', { hint: 'The scope parameter holds only spaces.' });
      }
      const audience = form.get('audience');
      const requestedAudience = splitSpaceDelimited(audience);
      // The same reading for audience: only spaces names none, and is not a request for the default aud.
      if (audience !== undefined && requestedAudience.length === 0) {
        throw new OAuthError('invalidRequest', { hint: 'The audience parameter holds only spaces.' });
      }
      const accessRequest: AccessRequest = {
        id: randomUUID(),
        requestedAt: config.clock.now(),
        grantType,
        client,
        clientAuthenticationMethod: method,
        requestedScopes,
        grantedScopes: [],
        requestedAudience,
        grantedAudience: [],
        form,
        session,
      };
      return handler.handleTokenEndpointRequest(accessRequest);
    },

    newAccessResponse(accessRequest) {
      const handler = findHandler(accessRequest.grantType, accessRequest.form);
      if (!handler) {
        return Promise.reject(new OAuthError('unsupportedGrantType', { hint: 'No handler serves this grant type.' }));
      }
      return handler.populateTokenEndpointResponse(accessRequest);
    },

    writeAccessResponse(_accessRequest, accessResponse) {
      // Keys in the order of the how-to's answer; `scope` is always present, even when empty.
      // Built by assignment, not spreads: this runs for every token.
      let body: Record<string, unknown> = {
        access_token: accessResponse.accessToken,
        expires_in: accessResponse.expiresIn,
      };
      if (accessResponse.refreshToken) body.refresh_token = accessResponse.refreshToken;
      body.scope = accessResponse.grantedScopes.join(' ');
      body.token_type = accessResponse.tokenType;
      // A spread, not Object.assign: an extra member named __proto__ stays a member.
      if (accessResponse.extra !== undefined) body = { ...body, ...accessResponse.extra };
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
        requireGet(request);
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

    async newIntrospectionRequest(request) {
      if (introspectors.length === 0) throw notServed();
      const query = await readTokenQuery(request, authentication, {
        maxBodyBytes: config.maxBodyBytes,
        // RFC 7662 §2.1: the endpoint "MUST also require some form of authorization" against
        // token scanning; a bare client_id proves nothing.
        allowPublicClients: false,
      });
      return introspect(query, introspectors);
    },

    writeIntrospectionResponse(introspection) {
      return writeJson(toIntrospectionBody(introspection));
    },

    writeIntrospectionError(error) {
      return writeOAuthError(error, config);
    },

    async handleIntrospectionRequest(request) {
      try {
        return provider.writeIntrospectionResponse(await provider.newIntrospectionRequest(request));
      } catch (error) {
        return provider.writeIntrospectionError(error);
      }
    },

    async newRevocationRequest(request) {
      if (revocationHandlers.length === 0) throw notServed();
      const query = await readTokenQuery(request, authentication, {
        maxBodyBytes: config.maxBodyBytes,
        allowPublicClients: true,
      });
      return revoke(query, revocationHandlers);
    },

    writeRevocationResponse() {
      return new Response(null, { status: 200, headers: { 'Cache-Control': 'no-store' } });
    },

    writeRevocationError(error) {
      return writeOAuthError(error, config);
    },

    async handleRevocationRequest(request) {
      try {
        return provider.writeRevocationResponse(await provider.newRevocationRequest(request));
      } catch (error) {
        return provider.writeRevocationError(error);
      }
    },

    getAuthorizationServerMetadata(changes = {}) {
      return buildAuthorizationServerMetadata({
        config,
        grantTypes,
        strategy,
        hasIntrospection: introspectors.length > 0,
        hasRevocation: revocationHandlers.length > 0,
        acceptsClientAssertions: parts.replayCache !== undefined,
        routes: mergeRoutes(routes, changes),
      });
    },

    handleMetadataRequest(request, changes) {
      try {
        requireGet(request);
        // §3.2: 200 and application/json. The document holds nothing secret, so caches may keep it.
        const metadata = provider.getAuthorizationServerMetadata(changes);
        return Promise.resolve(
          new Response(JSON.stringify(metadata), {
            headers: {
              'Content-Type': 'application/json;charset=UTF-8',
              'Cache-Control': 'public, max-age=300',
            },
          }),
        );
      } catch (error) {
        return Promise.resolve(writeOAuthError(error, config));
      }
    },
  };
  return provider;
}

/** The JWK Set and metadata documents are read with GET (or HEAD); anything else is 405. */
function requireGet(request: HttpRequest): void {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    throw new OAuthError('invalidRequest', {
      status: 405,
      hint: 'This endpoint accepts only GET.',
      headers: { Allow: 'GET, HEAD' },
    });
  }
}

function notServed(): OAuthError {
  return new OAuthError('notFound', { hint: 'This endpoint is not composed into the provider.' });
}
