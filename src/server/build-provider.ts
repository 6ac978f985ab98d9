// The one place where the server chooses its parts: store, hasher, key set, token strategy and endpoints.

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  createKeySealer,
  createRotatingKeySet,
  type KeyEncryptionKey,
  type RotatingKeySet,
  type RotationResult,
} from '../keys/index.js';
import { accessTokenIntrospection, accessTokenRevocation, clientCredentialsGrant } from '../grants/index.js';
import { compose, createRouter, type FetchHandler, type Provider } from '../provider/index.js';
import {
  cachedClientStore,
  createBruteForceGuard,
  createGuardedHandler,
  limitedSecretHasher,
  type GuardedHandler,
} from '../protection/index.js';
import { bcryptHasher, cachedSecretHasher, type SecretHasher } from '../secrets/index.js';
import type { Storage } from '../storage/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { jwtAccessTokenStrategy, opaqueHmacStrategy, type AccessTokenStrategy } from '../tokens/index.js';
import { ConfigError, resolveIssuer, type ServerConfig } from './config.js';
import { describeDatabaseUrl } from './logger.js';

/** Which engine a database URL names. */
export type StorageKind = 'sqlite' | 'postgres' | 'memory';

/** A store as the server opened it. */
export interface OpenedStorage {
  readonly storage: Storage;
  readonly kind: StorageKind;
  /** Where it lives, without any password: safe to log. */
  readonly location: string;
  /** Applies pending migrations; returns one line per step taken. */
  migrate(): Promise<string[]>;
}

/** The database URL in effect: configured, or the SQLite file under the data folder. */
export function resolveDatabaseUrl(config: Pick<ServerConfig, 'database' | 'dataDir'>): string {
  return config.database.url ?? `sqlite:${join(config.dataDir, 'tessera.db')}`;
}

/**
 * Opens the configured store. It does not migrate; call `migrate()` (the server does on start).
 *
 * @throws ConfigError for a URL no store understands.
 */
export function openStorage(config: Pick<ServerConfig, 'database' | 'dataDir'>): Promise<OpenedStorage> {
  const url = resolveDatabaseUrl(config);
  if (url === 'memory:') {
    return Promise.resolve({
      storage: createMemoryStore(),
      kind: 'memory',
      location: 'memory',
      migrate: () => Promise.resolve([]),
    });
  }
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    mkdirSync(dirname(file), { recursive: true });
    return Promise.reject(new ConfigError(`database.url: the SQLite store is not available yet (${file})`));
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    return Promise.reject(
      new ConfigError(`database.url: the PostgreSQL store is not available yet (${describeDatabaseUrl(url)})`),
    );
  }
  return Promise.reject(
    new ConfigError('database.url: must be postgres://user@host:port/database, sqlite:<file path> or memory:'),
  );
}

/**
 * The hasher for client secrets: bcrypt at the configured cost, with a cap on concurrent checks,
 * behind the verified-secret cache (so a cached good secret never waits for a slot).
 */
export function createSecretHasher(config: Pick<ServerConfig, 'secrets' | 'protection'>, storage: Storage): SecretHasher {
  return cachedSecretHasher(
    limitedSecretHasher(bcryptHasher({ cost: config.secrets.bcryptCost }), {
      maxConcurrent: config.protection.hashConcurrency,
      maxQueue: config.protection.hashQueue,
    }),
    {
      changes: storage,
      maxEntries: config.protection.secretCacheSize,
      ttlMs: config.protection.secretCacheTtl * 1000,
    },
  );
}

/** Signing keys as the server uses them. */
export interface ServerKeys {
  readonly keySet: RotatingKeySet;
  /** Rotates now; `immediate` skips the wait for the next key's pre-publication. */
  rotate(options?: { readonly immediate?: boolean }): Promise<RotationResult>;
  close(): void;
}

/** Opens the rotating key set kept (sealed under `kek`) in `storage`, creating the first keys when there are none. */
export async function openKeys(
  config: Pick<ServerConfig, 'keys' | 'tokens'>,
  storage: Storage,
  kek: KeyEncryptionKey,
  reportError: (error: Error) => void = () => undefined,
): Promise<ServerKeys> {
  const keySet = await createRotatingKeySet({
    store: storage,
    sealer: createKeySealer(kek),
    algorithm: config.keys.algorithm,
    rotationPeriod: config.keys.rotationPeriod === 0 ? Infinity : config.keys.rotationPeriod,
    jwksMaxAge: config.keys.jwksMaxAge,
    refreshInterval: config.keys.refreshInterval,
    // Verifiers may allow some clock skew beyond a token's lifetime.
    maxTokenLifetime: config.tokens.lifespan + 300,
    reportError,
  });
  return {
    keySet,
    rotate: (options = {}) => keySet.rotate({ immediate: options.immediate ?? false }),
    close: () => keySet.close(),
  };
}

/** A provider with every endpoint the server publishes, and its router behind brute-force protection. */
export interface BuiltProvider {
  readonly provider: Provider;
  /** The router without protection. */
  readonly router: FetchHandler;
  /** The router behind the brute-force guard: pass the client's address. */
  readonly handler: GuardedHandler;
  close(): void;
}

/** Composes the provider from the chosen parts. */
export function buildProvider(
  config: ServerConfig,
  parts: {
    readonly storage: Storage;
    readonly hasher: SecretHasher;
    readonly keys: ServerKeys;
    readonly reportError: (error: Error) => void;
    /** An ioredis client for shared failure counts. */
    readonly redis?: unknown;
  },
): BuiltProvider {
  const issuer = resolveIssuer(config);
  const clients = cachedClientStore(parts.storage);
  const provider = compose(
    {
      issuer,
      accessTokenLifespan: config.tokens.lifespan,
      statelessAccessTokens: config.tokens.stateless,
      maxBodyBytes: config.server.maxBodyBytes,
      exposeDebug: false,
      reportError: parts.reportError,
    },
    clients,
    createAccessTokenStrategy(config, parts.keys, issuer),
    parts.hasher,
    clientCredentialsGrant,
    accessTokenIntrospection,
    accessTokenRevocation,
  );
  const router = createRouter(provider);
  const guard = createBruteForceGuard({
    failuresPerClientAndAddress: config.protection.failuresPerClientAndAddress,
    failuresPerAddress: config.protection.failuresPerAddress,
    windowSeconds: config.protection.windowSeconds,
    blockSeconds: config.protection.blockSeconds,
    ...(parts.redis ? { redis: parts.redis } : {}),
    reportError: parts.reportError,
  });
  return {
    provider,
    router,
    handler: createGuardedHandler(router, { guard }),
    close: () => clients.closeClientCache(),
  };
}

function createAccessTokenStrategy(config: ServerConfig, keys: ServerKeys, issuer: string): AccessTokenStrategy {
  if (config.tokens.format === 'jwt') return jwtAccessTokenStrategy({ keys: keys.keySet, issuer });
  if (config.tokens.hmacSecrets.length === 0) {
    throw new ConfigError(
      'tokens.hmacSecrets: opaque tokens need at least one secret of 32 bytes or more (TESSERA_HMAC_SECRETS, newest first, comma-separated)',
    );
  }
  return opaqueHmacStrategy({ secrets: config.tokens.hmacSecrets });
}
