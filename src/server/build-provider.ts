// The one place where the server chooses its parts: store, hasher, key set, token strategy and endpoints.

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
import type { MigrationReport, MigrationStep, Storage } from '../storage/index.js';
import { createPostgresStore, migratePostgres } from '../storage/postgres/index.js';
import { createSqliteStore, migrateSqlite } from '../storage/sqlite/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { makeDirectory } from '../storage/make-directory.js';
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
  /** What opening did to the schema; `fromVersion` 0 means the database is new. */
  readonly migration: MigrationReport;
}

/** The database URL in effect: configured, or the SQLite file under the data folder. */
export function resolveDatabaseUrl(config: Pick<ServerConfig, 'database' | 'dataDir'>): string {
  return config.database.url ?? `sqlite:${join(config.dataDir, 'tessera.db')}`;
}

type DatabaseTarget =
  | { readonly kind: 'memory'; readonly location: string }
  | { readonly kind: 'sqlite'; readonly location: string; readonly filename: string }
  | { readonly kind: 'postgres'; readonly location: string; readonly url: string };

/** @throws ConfigError for a URL no store understands. */
function databaseTarget(config: Pick<ServerConfig, 'database' | 'dataDir'>): DatabaseTarget {
  const url = resolveDatabaseUrl(config);
  if (url === 'memory:') return { kind: 'memory', location: 'memory' };
  if (url.startsWith('sqlite:')) {
    const filename = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!filename) throw new ConfigError('database.url: sqlite: needs a file path, e.g. sqlite:./data/tessera.db');
    return { kind: 'sqlite', location: filename, filename };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', location: describeDatabaseUrl(url), url };
  throw new ConfigError('database.url: must be postgres://user@host:port/database, sqlite:<file path> or memory:');
}

/**
 * Opens the configured store and migrates its schema, telling `onMigrationStep` of each step.
 *
 * @throws ConfigError for a URL no store understands; the store's error when it cannot open.
 */
export async function openStorage(
  config: Pick<ServerConfig, 'database' | 'dataDir'>,
  onMigrationStep: (step: MigrationStep) => void = () => undefined,
  onConnectionError?: (error: Error) => void,
): Promise<OpenedStorage> {
  const target = databaseTarget(config);
  switch (target.kind) {
    case 'memory':
      return { storage: createMemoryStore(), ...target, migration: { fromVersion: 0, toVersion: 0, applied: [] } };
    case 'sqlite': {
      makeDirectory(dirname(target.filename));
      const storage = createSqliteStore({ filename: target.filename, onMigrationStep });
      return { storage, kind: 'sqlite', location: target.location, migration: storage.migration };
    }
    case 'postgres': {
      const storage = createPostgresStore({
        connectionString: target.url,
        schema: config.database.schema,
        maxConnections: config.database.poolSize,
        onMigrationStep,
        ...(onConnectionError ? { onConnectionError } : {}),
      });
      try {
        const migration = await storage.migrate();
        return { storage, kind: 'postgres', location: target.location, migration };
      } catch (error) {
        await storage.close().catch(() => undefined);
        throw error;
      }
    }
  }
}

/** Applies pending migrations without opening a store for serving: `tessera migrate`. */
export async function migrateDatabase(
  config: Pick<ServerConfig, 'database' | 'dataDir'>,
  onStep: (step: MigrationStep) => void,
): Promise<{ readonly kind: StorageKind; readonly location: string; readonly report: MigrationReport }> {
  const target = databaseTarget(config);
  switch (target.kind) {
    case 'memory':
      return { ...target, report: { fromVersion: 0, toVersion: 0, applied: [] } };
    case 'sqlite':
      return { ...target, report: await migrateSqlite({ filename: target.filename, onStep }) };
    case 'postgres':
      return {
        ...target,
        report: await migratePostgres({ connectionString: target.url, schema: config.database.schema, onStep }),
      };
  }
}

/**
 * The hasher for client secrets: bcrypt at the configured cost, with a cap on concurrent checks,
 * behind the verified-secret cache (so a cached good secret never waits for a slot).
 * `onHashCheck` is called for every bcrypt comparison that runs (decoys included), not for the
 * checks the cache answers or the cap refuses.
 */
export function createSecretHasher(
  config: Pick<ServerConfig, 'secrets' | 'protection'>,
  storage: Storage,
  onHashCheck: () => void = () => undefined,
): SecretHasher {
  const bcrypt = bcryptHasher({ cost: config.secrets.bcryptCost });
  const counted: SecretHasher = {
    hash: (secret) => bcrypt.hash(secret),
    verify: (secret, hash, clientId) => {
      onHashCheck();
      return bcrypt.verify(secret, hash, clientId);
    },
    verifyDecoy: (secret) => {
      onHashCheck();
      return bcrypt.verifyDecoy(secret);
    },
  };
  return cachedSecretHasher(
    limitedSecretHasher(counted, {
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
  previousKeks: readonly KeyEncryptionKey[] = [],
): Promise<ServerKeys> {
  const keySet = await createRotatingKeySet({
    store: storage,
    sealer: createKeySealer(
      kek,
      previousKeks.filter((previous) => previous.id !== kek.id),
    ),
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
    ...(parts.redis ? { redis: parts.redis, keyPrefix: config.protection.redisKeyPrefix } : {}),
    // The workers of `serve --workers` share their counts through the primary when there is no Redis.
    shareWithClusterPrimary: config.server.workers > 1,
    reportError: parts.reportError,
  });
  return {
    provider,
    router,
    handler: createGuardedHandler(router, { guard, maxUnverifiedPerAddress: config.protection.unverifiedPerAddress }),
    close: () => {
      provider.close();
      clients.closeClientCache();
    },
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
