// The standalone server: a public listener for the OAuth endpoints, an admin listener, and an orderly shutdown.

import { Redis } from 'ioredis';
import type { GuardedHandler } from '../protection/index.js';
import { defaultRoutes, endpointPaths } from '../provider/index.js';
import { StorageUnavailableError, type Storage } from '../storage/index.js';
import { createJanitor, type Janitor } from '../storage/janitor.js';
import { createAdminApi, adminEndpointOf } from './admin-api.js';
import {
  buildProvider,
  createSecretHasher,
  openKeys,
  openStorage,
  type BuiltProvider,
  type OpenedStorage,
  type ServerKeys,
} from './build-provider.js';
import { checkIssuerIsSecure, resolveIssuer, type ServerConfig } from './config.js';
import { startListener, type RunningListener } from './http-listener.js';
import { resolveKeyEncryptionKey, resolvePreviousKeyEncryptionKeys } from './key-encryption-key.js';
import type { Logger } from './logger.js';
import { countSecretVerifications, countStorageErrors, createMetrics, type ServerMetrics } from './metrics.js';

export interface StartServerOptions {
  readonly logger: Logger;
  /** Run the public listener only (a cluster worker); the primary runs the admin listener. */
  readonly publicOnly?: boolean;
  /** Run the admin listener only (a cluster primary). */
  readonly adminOnly?: boolean;
  /** Metrics text for the admin listener instead of this process's own. */
  readonly collectMetrics?: () => Promise<string>;
  /**
   * Why this server cannot serve yet (a cluster primary with no worker ready), or undefined when
   * it can: while it gives a reason, `/health/ready` answers 503 with it.
   */
  readonly unready?: () => string | undefined;
}

/** A started server. */
export interface RunningServer {
  readonly issuer: string;
  readonly public?: RunningListener;
  readonly admin?: RunningListener;
  readonly storage: Storage;
  readonly metrics: ServerMetrics;
  /** Stops both listeners (in-flight requests get `server.shutdownTimeout`), then closes the store. */
  close(): Promise<void>;
}

/**
 * Starts the server described by `config`: checks the issuer and key-encryption key, opens and
 * migrates the store, then binds the listeners.
 *
 * @throws ConfigError for a configuration that must not run (insecure issuer, no KEK in production).
 */
export async function startServer(config: ServerConfig, options: StartServerOptions): Promise<RunningServer> {
  const { logger } = options;
  checkIssuerIsSecure(config);
  const kek = resolveKeyEncryptionKey(config, (message) => logger.warn(message));
  let issuer = resolveIssuer(config);
  const metrics = createMetrics();

  const opened: OpenedStorage = await openStorage(
    config,
    (step) => logger.info({ migration: step }, `migration ${step.version} ${step.name} applied`),
    (error) => logger.warn({ err: error.message }, 'database connection dropped'),
  );
  logger.info({ database: opened.kind, location: opened.location }, `${opened.kind} database at ${opened.location}`);
  let storage: Storage | undefined;
  const listeners: RunningListener[] = [];
  let built: BuiltProvider | undefined;
  let redis: Redis | undefined;
  try {
    let lastOutageLog = 0;
    storage = countStorageErrors(opened.storage, metrics, (operation, error) => {
      // One line per second at most: an outage must not flood the log.
      if (Date.now() - lastOutageLog > 1000) {
        lastOutageLog = Date.now();
        logger.error({ operation, err: error.message }, 'storage unavailable');
      }
    });
    metrics.watchSigningKeys(storage);
    const hasher = countSecretVerifications(
      createSecretHasher(config, storage, () => metrics.secretHashChecks.inc()),
      metrics,
    );
    const previousKeks = resolvePreviousKeyEncryptionKeys(config);
    const keys: ServerKeys = await openKeys(
      config,
      storage,
      kek,
      (error) => logger.error({ err: describeError(error) }, 'key set background task failed'),
      previousKeks,
    );
    if (previousKeks.length > 0 && !options.publicOnly) {
      // Keys sealed under an older key-encryption key are sealed again under the current one.
      const resealed = await keys.keySet.resealKeys();
      logger.info({ resealed }, `sealed ${resealed} signing key(s) again under the current key-encryption key`);
    }
    const common = {
      headersTimeout: config.server.headersTimeout,
      requestTimeout: config.server.requestTimeout,
      keepAliveTimeout: config.server.keepAliveTimeout,
      maxHeaderSize: config.server.maxHeaderSize,
      maxBodyBytes: config.server.maxBodyBytes,
      trustProxy: config.server.trustProxy,
      forwardedHeader: config.server.forwardedHeader,
      logger,
      metrics,
    };

    let publicListener: RunningListener | undefined;
    let endpoints: Map<string, string> | undefined;
    if (!options.adminOnly) {
      let serve: GuardedHandler | undefined;
      publicListener = await startListener({
        ...common,
        name: 'public',
        logsClientIds: true,
        host: config.server.host,
        port: config.server.port,
        ...(config.server.tlsCert && config.server.tlsKey
          ? { tls: { certFile: config.server.tlsCert, keyFile: config.server.tlsKey } }
          : {}),
        // The router's paths; without a configured issuer they are known only once bound, so
        // they are worked out on first use.
        endpointOf: (pathname) => (endpoints ??= endpointPaths(defaultRoutes, issuer)).get(pathname) ?? 'unknown',
        handler: (request, context) => serve!(request, context.clientAddress),
      });
      // Closed on every way out from here, including a provider that cannot be built.
      listeners.push(publicListener);
      // Without a configured issuer it is http://localhost:<port>, known only once bound (port 0).
      issuer = resolveIssuer(config, publicListener.port);
      if (config.protection.redisUrl) {
        redis = new Redis(config.protection.redisUrl, {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          // A Redis that stops answering on an open connection (frozen, partitioned) fails its
          // commands too, so the brute-force counts fall back to memory instead of holding requests.
          commandTimeout: redisCommandTimeoutMs,
        });
        redis.on('error', () => undefined);
      }
      built = buildProvider(
        { ...config, issuer },
        {
          storage,
          hasher,
          keys,
          reportError: (error) => logger.error({ err: describeError(error) }, 'server error'),
          ...(redis ? { redis } : {}),
        },
      );
      serve = built.handler;
      logger.info(
        { listener: 'public', url: publicListener.url, port: publicListener.port, issuer },
        `public listener on ${publicListener.url}`,
      );
    }

    let adminListener: RunningListener | undefined;
    if (config.admin.enabled && !options.publicOnly) {
      if (!config.admin.token) {
        logger.warn('admin.token is not set: the admin API and /metrics answer 401 to every request');
      }
      const adminApi = createAdminApi({
        token: config.admin.token,
        storage,
        hasher,
        keys,
        metrics,
        ...(options.collectMetrics ? { collectMetrics: options.collectMetrics } : {}),
      });
      adminListener = await startListener({
        ...common,
        trustProxy: false,
        name: 'admin',
        host: config.admin.host,
        port: config.admin.port,
        endpointOf: adminEndpointOf,
        webRequests: true,
        handler: (request) => notReady(request, options.unready?.()) ?? adminApi(request),
      });
      listeners.push(adminListener);
      logger.info(
        { listener: 'admin', url: adminListener.url, port: adminListener.port },
        `admin listener on ${adminListener.url}`,
      );
    }

    let janitor: Janitor | undefined;
    if (!options.publicOnly && config.database.janitorInterval > 0) {
      janitor = createJanitor({
        store: storage,
        intervalMs: config.database.janitorInterval * 1000,
        // An unreachable store is already logged once a second by the storage wrapper; anything
        // else (a permission refused, say) would otherwise leave expired records piling up unseen.
        onError: (error) => {
          if (!(error instanceof StorageUnavailableError)) {
            const failure = error instanceof Error ? error : new Error(String(error));
            logger.warn({ err: describeError(failure) }, 'janitor could not purge expired records');
          }
        },
        onRun: (purged) => {
          if (purged > 0) logger.info({ purged }, 'janitor purged expired records');
        },
      });
      janitor.start();
    }

    const openedStorage = storage;
    let closing: Promise<void> | undefined;
    return {
      issuer,
      ...(publicListener ? { public: publicListener } : {}),
      ...(adminListener ? { admin: adminListener } : {}),
      storage: openedStorage,
      metrics,
      close() {
        closing ??= (async () => {
          await Promise.all(listeners.map((listener) => listener.close(config.server.shutdownTimeout)));
          await janitor?.stop();
          keys.close();
          built?.close();
          redis?.disconnect();
          await opened.storage.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.close(0)));
    built?.close();
    redis?.disconnect();
    await opened.storage.close().catch(() => undefined);
    throw error;
  }
}

/** `/health/ready`'s 503 while `reason` says why the server cannot serve; undefined otherwise. */
function notReady(request: Request, reason: string | undefined): Promise<Response> | undefined {
  if (reason === undefined || request.method !== 'GET' || new URL(request.url).pathname !== '/health/ready') {
    return undefined;
  }
  return Promise.resolve(
    new Response(JSON.stringify({ status: 'unavailable', reason }), {
      status: 503,
      headers: { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store' },
    }),
  );
}

/** How long a brute-force count may wait for Redis before it is kept in memory instead. */
const redisCommandTimeoutMs = 1000;

/** An error for the log: message, name and cause chain, never a request body. */
function describeError(error: Error): Record<string, unknown> {
  const cause = error.cause instanceof Error ? error.cause : undefined;
  return {
    type: error.name,
    message: error.message,
    ...(cause ? { cause: { type: cause.name, message: cause.message } } : {}),
  };
}
