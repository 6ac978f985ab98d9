// Introspection of access tokens, RFC 7662 §2: who may see which token, and what is reported.

import type {
  Client,
  FactoryDependencies,
  IntrospectedToken,
  ProviderConfig,
  TokenIntrospector,
} from '../core/index.js';
import type { AccessTokenStore, RevokedTokenStore } from '../storage/index.js';
import type { AccessTokenStrategy } from '../tokens/index.js';
import { findActiveAccessToken } from './find-access-token.js';

/**
 * Decides whether `client` may learn about the active `token`. A token it may not see is
 * reported as inactive, exactly like an unknown one.
 */
export type IntrospectionPolicy = (client: Client, token: IntrospectedToken) => boolean;

/**
 * The default policy: a client may introspect the tokens issued to it. A resource server's client
 * whose metadata holds `introspection: [audience, …]` may introspect the tokens meant for one of
 * those audiences (RFC 7662 §4: the server must tell whether the token can be used at the
 * resource server asking); with `introspection: true` it may introspect any token.
 */
export const defaultIntrospectionPolicy: IntrospectionPolicy = (client, token) => {
  if (token.clientId === client.id) return true;
  const introspection = client.metadata?.introspection;
  if (introspection === true) return true;
  return (
    Array.isArray(introspection) &&
    introspection.some((audience) => typeof audience === 'string' && token.audience.includes(audience))
  );
};

export interface AccessTokenIntrospectionOptions {
  /** Who may see which token; {@link defaultIntrospectionPolicy} when omitted. */
  readonly policy?: IntrospectionPolicy;
}

type IntrospectionConfig = Pick<ProviderConfig, 'issuer' | 'clock' | 'statelessAccessTokens'>;

/**
 * Creates an access-token introspector factory with the given policy.
 *
 * @example
 * const provider = compose(config, storage, strategy, hasher, clientCredentialsGrant,
 *   createAccessTokenIntrospection({ policy: (client) => client.scopes.includes('introspect') }));
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export function createAccessTokenIntrospection(options: AccessTokenIntrospectionOptions = {}) {
  const policy = options.policy ?? defaultIntrospectionPolicy;
  return (
    dependencies: FactoryDependencies<AccessTokenStore & RevokedTokenStore, AccessTokenStrategy, unknown> & {
      readonly config: IntrospectionConfig;
    },
  ): TokenIntrospector => ({
    kind: 'token-introspector',
    tokenType: 'access_token',
    async introspectToken(query) {
      const found = await findActiveAccessToken(query.token, dependencies);
      if (!found) return undefined;
      const token: IntrospectedToken = {
        tokenUse: 'access_token',
        clientId: found.clientId,
        subject: found.subject,
        scopes: found.scopes,
        audience: found.audience,
        issuer: found.issuer,
        issuedAt: found.issuedAt,
        expiresAt: found.expiresAt,
        tokenId: found.signature,
      };
      return policy(query.client, token) ? token : undefined;
    },
  });
}

/**
 * The access-token introspector with the default policy: clients see their own tokens; clients
 * with `metadata.introspection` an audience list see the tokens for those audiences, with `true` all.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export const accessTokenIntrospection = createAccessTokenIntrospection();
