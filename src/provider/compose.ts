// compose(): wires a provider from a config, a store, a token strategy, a hasher and factories.

import {
  canonicalIssuer,
  systemClock,
  type ProviderConfig,
  type ProviderFactory,
  type RevocationHandler,
  type TokenEndpointHandler,
  type TokenIntrospector,
} from '../core/index.js';
import { bcryptHasher, cachedSecretHasher, type ClientChangeSource, type SecretHasher } from '../secrets/index.js';
import { exactAudienceStrategy, exactScopeStrategy } from '../scopes/index.js';
import type { ClientStore, ReplayCache } from '../storage/index.js';
import type { AccessTokenStrategy } from '../tokens/index.js';
import { createProvider, type Provider } from './provider.js';
import { reportingSafely } from '../core/report-error.js';
import { defaultRoutes, mergeRoutes, type ProviderRoutes } from './routes.js';

/** The config compose() accepts: only `issuer` is required; everything else has a safe default. */
export type ComposeConfig = Partial<ProviderConfig> &
  Pick<ProviderConfig, 'issuer'> & {
    /**
     * Where the endpoints are served, below the issuer; default {@link defaultRoutes}. The metadata
     * and {@link createRouter} use them, and the token endpoint's URL is an accepted `aud` of
     * `private_key_jwt` assertions at every endpoint.
     */
    readonly routes?: Partial<ProviderRoutes>;
  };

/**
 * Composes a provider. Each factory's declared needs are checked against `storage`, `strategy`
 * and `hasher` at compile time: a store missing a method a factory uses does not type-check.
 *
 * @param hasher verifies client secrets. When omitted: bcrypt behind the verified-secret cache,
 *   which forgets a client when `storage` announces a change to it (see README, security).
 * @throws TypeError for a configuration that cannot work (bad issuer, lifespan ≤ 0, no handler, a
 *   token strategy whose `issuer` is not the config's).
 * @example
 * const provider = compose(
 *   { issuer: 'http://localhost:8080', accessTokenLifespan: 30 * 60 },
 *   createMemoryStore({ clients: [testClient] }),
 *   jwtAccessTokenStrategy({ keys, issuer: 'http://localhost:8080' }),
 *   undefined,
 *   clientCredentialsGrant,
 * );
 */
export function compose<Storage extends ClientStore, Strategy extends AccessTokenStrategy, Hasher extends SecretHasher>(
  config: ComposeConfig,
  storage: Storage,
  strategy: Strategy,
  hasher: Hasher | undefined,
  ...factories: ProviderFactory<Storage, Strategy, Hasher>[]
): Provider {
  const { routes, ...settings } = config;
  const fullConfig = withDefaults(settings);
  const paths = mergeRoutes(defaultRoutes, routes);
  if (fullConfig.statelessAccessTokens && strategy.format === 'opaque') {
    throw new TypeError(
      'statelessAccessTokens needs JWT access tokens: an opaque token means nothing without its record',
    );
  }
  // Tokens carry the config's issuer as `iss`; a strategy that requires another spelling (other
  // case, an explicit default port) would find none of them its own: every introspection would
  // answer inactive and stateless revocation would revoke nothing.
  if (strategy.issuer !== undefined && strategy.issuer !== fullConfig.issuer) {
    throw new TypeError(
      `the token strategy's issuer "${strategy.issuer}" differs from compose()'s issuer "${fullConfig.issuer}": give both the same text`,
    );
  }
  // The default hasher is this provider's own: it listens to the store until provider.close().
  const ownHasher =
    hasher === undefined
      ? cachedSecretHasher(bcryptHasher(), {
          changes: 'subscribeToChanges' in storage ? (storage as unknown as ClientChangeSource) : undefined,
        })
      : undefined;
  const secretHasher = hasher ?? (ownHasher as unknown as Hasher);
  const dependencies = { config: fullConfig, storage, strategy, hasher: secretHasher };
  const tokenEndpointHandlers: TokenEndpointHandler[] = [];
  const introspectors: TokenIntrospector[] = [];
  const revocationHandlers: RevocationHandler[] = [];
  for (const factory of factories) {
    let part;
    try {
      part = factory(dependencies);
    } catch (error) {
      ownHasher?.close();
      throw error;
    }
    switch (part.kind) {
      case 'token-endpoint':
        tokenEndpointHandlers.push(part);
        break;
      case 'token-introspector':
        introspectors.push(part);
        break;
      case 'revocation-handler':
        revocationHandlers.push(part);
        break;
    }
  }
  if (tokenEndpointHandlers.length === 0) {
    ownHasher?.close();
    throw new TypeError('compose() needs at least one grant factory, e.g. clientCredentialsGrant');
  }
  return createProvider({
    config: fullConfig,
    clients: storage,
    strategy,
    hasher: secretHasher,
    tokenEndpointHandlers,
    introspectors,
    revocationHandlers,
    // A store that keeps used assertion ids makes private_key_jwt available.
    ...(isReplayCache(storage) ? { replayCache: storage } : {}),
    ...(ownHasher ? { onClose: () => ownHasher.close() } : {}),
    routes: paths,
  });
}

function isReplayCache(storage: ClientStore): storage is ClientStore & ReplayCache {
  return typeof (storage as Partial<ReplayCache>).markUsed === 'function';
}

/** Fills in defaults and rejects settings that cannot work. */
export function withDefaults(config: ComposeConfig): ProviderConfig {
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(config.issuer);
  } catch {
    throw new TypeError(`issuer must be an absolute URL, got "${String(config.issuer)}"`);
  }
  // RFC 8414 §2: the issuer has no query or fragment.
  if (issuerUrl.search || issuerUrl.hash || !/^https?:$/.test(issuerUrl.protocol)) {
    throw new TypeError('issuer must be an http(s) URL without query or fragment');
  }
  const issuer = canonicalIssuer(config.issuer);
  const full: ProviderConfig = {
    issuer,
    accessTokenLifespan: 3600,
    clock: systemClock,
    scopeStrategy: exactScopeStrategy,
    audienceStrategy: exactAudienceStrategy,
    defaultAudience: [issuer],
    exposeDebug: false,
    maxBodyBytes: 64 * 1024,
    realm: 'tessera',
    statelessAccessTokens: false,
    reportError: () => undefined,
    ...definedOnly(config),
  };
  if (!Number.isInteger(full.accessTokenLifespan) || full.accessTokenLifespan <= 0) {
    throw new TypeError(
      `accessTokenLifespan must be a positive whole number of seconds, got ${String(full.accessTokenLifespan)}`,
    );
  }
  // RFC 9068 §2.2: aud is required; an empty default would issue tokens without one.
  if (
    !Array.isArray(full.defaultAudience) ||
    full.defaultAudience.length === 0 ||
    !full.defaultAudience.every((audience) => typeof audience === 'string' && audience !== '')
  ) {
    throw new TypeError('defaultAudience must list at least one audience, each a non-empty string');
  }
  if (!Number.isInteger(full.maxBodyBytes) || full.maxBodyBytes <= 0) {
    throw new TypeError(`maxBodyBytes must be a positive integer, got ${String(full.maxBodyBytes)}`);
  }
  if (!/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/.test(full.realm)) {
    throw new TypeError('realm must be printable ASCII without quotes or backslashes');
  }
  return { ...full, issuer, reportError: reportingSafely(full.reportError) };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}
