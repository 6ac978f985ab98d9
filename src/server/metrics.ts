// Prometheus metrics for the admin listener's /metrics: requests, latency, secret checks, storage errors, key ages.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SecretHasher } from '../secrets/index.js';
import {
  StorageConflictError,
  StorageNotFoundError,
  StorageUnavailableError,
  type SigningKeyStore,
} from '../storage/index.js';

/** The server's metrics, on a registry of their own so several servers can share a process. */
export interface ServerMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'listener' | 'endpoint' | 'outcome'>;
  readonly requestDuration: Histogram<'listener' | 'endpoint' | 'outcome'>;
  readonly secretVerifications: Counter<'result'>;
  readonly secretHashChecks: Counter;
  readonly storageErrors: Counter<'operation'>;
  /** Tells the key-age gauge where to read keys from. */
  watchSigningKeys(store: SigningKeyStore): void;
}

/** Creates the metrics with their help texts. */
export function createMetrics(options: { readonly defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'tessera_process_' });
  let keyStore: SigningKeyStore | undefined;
  const storageErrors = new Counter({
    name: 'tessera_storage_errors_total',
    help: 'Storage calls that failed, by operation.',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'tessera_signing_key_age_seconds',
    help: 'Age of each stored signing key, by kid, algorithm and state.',
    labelNames: ['kid', 'alg', 'state'] as const,
    registers: [registry],
    // Every worker reads the same key store, so across a cluster the age is the same figure, not a sum.
    aggregator: 'max',
    async collect() {
      this.reset();
      if (!keyStore) return;
      try {
        const now = Date.now();
        for (const key of await keyStore.listSigningKeys()) {
          this.set({ kid: key.kid, alg: key.alg, state: key.state }, Math.max(0, (now - key.createdAt) / 1000));
        }
      } catch {
        // The failure itself was counted by the instrumented store.
      }
    },
  });
  return {
    registry,
    requests: new Counter({
      name: 'tessera_http_requests_total',
      help: 'HTTP requests answered, by listener, endpoint and outcome (success or the OAuth error code).',
      labelNames: ['listener', 'endpoint', 'outcome'] as const,
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'tessera_http_request_duration_seconds',
      help: 'Time from request to response, by listener, endpoint and outcome.',
      labelNames: ['listener', 'endpoint', 'outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    secretVerifications: new Counter({
      name: 'tessera_secret_verifications_total',
      help: 'Client secret checks, by result: match, mismatch or decoy (unknown client).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    secretHashChecks: new Counter({
      name: 'tessera_secret_hash_checks_total',
      help: 'bcrypt comparisons run for client secrets, decoys included; the rest of the secret checks were answered by the verified-secret cache.',
      registers: [registry],
    }),
    storageErrors,
    watchSigningKeys(store) {
      keyStore = store;
    },
  };
}

/**
 * Counts every secret check the hasher makes. The wrapper inherits from `hasher`, so anything else
 * it offers (a cache's live `size`, `forget`, `close`) is read from the hasher itself, not copied.
 */
export function countSecretVerifications<Hasher extends SecretHasher>(hasher: Hasher, metrics: ServerMetrics): Hasher {
  const counting: Pick<SecretHasher, 'hash' | 'verify' | 'verifyDecoy'> = {
    hash: (secret: string) => hasher.hash(secret),
    async verify(secret: string, hash: string, clientId?: string) {
      // The client id goes through: the secret cache files entries under it, to forget only that
      // client when it changes.
      const matches = await hasher.verify(secret, hash, clientId);
      metrics.secretVerifications.inc({ result: matches ? 'match' : 'mismatch' });
      return matches;
    },
    async verifyDecoy(secret: string) {
      await hasher.verifyDecoy(secret);
      metrics.secretVerifications.inc({ result: 'decoy' });
    },
  };
  return Object.assign(Object.create(hasher) as Hasher, counting);
}

/**
 * Wraps a store so that every call that failed is counted by operation (a conflict or a row not
 * found is an answer, not a failure, and is not counted). Outages also reach
 * `onUnavailable`, e.g. to log them once.
 */
export function countStorageErrors<Store extends object>(
  store: Store,
  metrics: ServerMetrics,
  onUnavailable?: (operation: string, error: Error) => void,
): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((error: unknown) => {
          // A conflict or a missing row is the store's answer, not a failure of the store.
          if (!(error instanceof StorageConflictError || error instanceof StorageNotFoundError)) {
            metrics.storageErrors.inc({ operation: property });
          }
          if (error instanceof StorageUnavailableError) onUnavailable?.(property, error);
          throw error;
        });
      };
    },
  });
}
