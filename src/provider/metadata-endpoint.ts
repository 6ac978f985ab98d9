// Authorization server metadata, RFC 8414 §2, built from what compose() was given.

import { clientAssertionAlgorithms } from '../client-auth/index.js';
import type { ProviderConfig } from '../core/index.js';
import type { AccessTokenStrategy } from '../tokens/index.js';
import type { ProviderRoutes } from './routes.js';

/** Client authentication methods `authenticateClient` accepts with a secret. */
export const clientAuthenticationMethods = ['client_secret_basic', 'client_secret_post'] as const;

/** The RFC 8414 §2 document, in wire spelling. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly token_endpoint: string;
  readonly jwks_uri?: string;
  readonly scopes_supported?: readonly string[];
  readonly response_types_supported: readonly string[];
  readonly grant_types_supported: readonly string[];
  readonly token_endpoint_auth_methods_supported: readonly string[];
  readonly token_endpoint_auth_signing_alg_values_supported?: readonly string[];
  readonly introspection_endpoint?: string;
  readonly introspection_endpoint_auth_methods_supported?: readonly string[];
  readonly introspection_endpoint_auth_signing_alg_values_supported?: readonly string[];
  readonly revocation_endpoint?: string;
  readonly revocation_endpoint_auth_methods_supported?: readonly string[];
  readonly revocation_endpoint_auth_signing_alg_values_supported?: readonly string[];
  /** Not registered by RFC 8414 (§2 allows more members): the `alg`s JWT access tokens are signed with. */
  readonly access_token_signing_alg_values_supported?: readonly string[];
}

export interface MetadataSources {
  readonly config: Pick<ProviderConfig, 'issuer' | 'scopesSupported'>;
  readonly grantTypes: readonly string[];
  readonly strategy: AccessTokenStrategy;
  readonly hasIntrospection: boolean;
  readonly hasRevocation: boolean;
  /** Whether `private_key_jwt` client assertions are accepted (the store keeps a replay cache). */
  readonly acceptsClientAssertions: boolean;
  readonly routes: ProviderRoutes;
}

/**
 * Describes the composed provider. Endpoint URLs are the issuer followed by the router's
 * paths, so they are right when the router is mounted at the issuer's path.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2
 */
export function buildAuthorizationServerMetadata(sources: MetadataSources): AuthorizationServerMetadata {
  const { config, routes, strategy } = sources;
  const at = (path: string) => `${config.issuer}${path}`;
  const methods: string[] = [...clientAuthenticationMethods];
  if (sources.acceptsClientAssertions) methods.push('private_key_jwt');
  // §2: the signing algorithms MUST be listed when private_key_jwt is.
  const signingAlgorithms = sources.acceptsClientAssertions ? [...clientAssertionAlgorithms] : undefined;
  return {
    issuer: config.issuer,
    token_endpoint: at(routes.token),
    ...(strategy.keys ? { jwks_uri: at(routes.jwks) } : {}),
    ...(config.scopesSupported ? { scopes_supported: [...config.scopesSupported] } : {}),
    // REQUIRED by §2, yet this server has no authorization endpoint and so supports no
    // response_type: the honest value is the empty list.
    response_types_supported: [],
    grant_types_supported: [...sources.grantTypes],
    token_endpoint_auth_methods_supported: [...methods],
    ...(signingAlgorithms ? { token_endpoint_auth_signing_alg_values_supported: [...signingAlgorithms] } : {}),
    ...(sources.hasIntrospection
      ? {
          introspection_endpoint: at(routes.introspection),
          introspection_endpoint_auth_methods_supported: [...methods],
          ...(signingAlgorithms
            ? { introspection_endpoint_auth_signing_alg_values_supported: [...signingAlgorithms] }
            : {}),
        }
      : {}),
    ...(sources.hasRevocation
      ? {
          revocation_endpoint: at(routes.revocation),
          // Public clients may revoke their own tokens (RFC 7009 §5), identified by client_id.
          revocation_endpoint_auth_methods_supported: [...methods, 'none'],
          ...(signingAlgorithms
            ? { revocation_endpoint_auth_signing_alg_values_supported: [...signingAlgorithms] }
            : {}),
        }
      : {}),
    ...(strategy.keys ? { access_token_signing_alg_values_supported: [...strategy.keys.algorithms] } : {}),
  };
}
