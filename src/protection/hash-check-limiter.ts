// A cap on concurrent secret-hash checks, so a flood of wrong secrets cannot take every CPU from good clients.

import { OAuthError } from '../core/index.js';
import type { SecretHasher } from '../secrets/index.js';

export interface HashCheckLimiterOptions {
  /** Hash checks running at once. Default 1: leaves the other thread-pool threads to signing. */
  readonly maxConcurrent?: number;
  /** Checks that may wait for a slot; beyond this a check is refused at once. Default 16. */
  readonly maxQueue?: number;
  /** Seconds a refused caller is told to wait (`Retry-After`). Default 1. */
  readonly retryAfterSeconds?: number;
}

/** A {@link SecretHasher} whose checks take turns. */
export interface LimitedSecretHasher extends SecretHasher {
  /** Checks running now. */
  readonly running: number;
  /** Checks waiting for a slot. */
  readonly waiting: number;
}

/**
 * Wraps a hasher so that at most `maxConcurrent` verifications (real or decoy) run at once and at
 * most `maxQueue` wait. A check that finds the queue full is refused with
 * `temporarily_unavailable` (503, `Retry-After`) without hashing, so the work a flood can cause is
 * bounded. Put it inside {@link cachedSecretHasher}, so a known-good cached secret never queues:
 * `cachedSecretHasher(limitedSecretHasher(bcryptHasher()))`. Hashing new secrets is not limited:
 * that is an administrative action.
 *
 * @throws OAuthError `temporarily_unavailable` from `verify` and `verifyDecoy` when the queue is full.
 * @example
 * const hasher = cachedSecretHasher(limitedSecretHasher(bcryptHasher(), { maxConcurrent: 1, maxQueue: 16 }), { changes: storage });
 */
export function limitedSecretHasher(inner: SecretHasher, options: HashCheckLimiterOptions = {}): LimitedSecretHasher {
  const maxConcurrent = options.maxConcurrent ?? 1;
  const maxQueue = options.maxQueue ?? 16;
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new TypeError(`maxConcurrent must be a positive integer, got ${String(maxConcurrent)}`);
  }
  if (!Number.isInteger(maxQueue) || maxQueue < 0) {
    throw new TypeError(`maxQueue must be a whole number, got ${String(maxQueue)}`);
  }

  let running = 0;
  const queue: (() => void)[] = [];

  const acquire = (): Promise<void> => {
    if (running < maxConcurrent) {
      running++;
      return Promise.resolve();
    }
    if (queue.length >= maxQueue) {
      return Promise.reject(
        new OAuthError('temporarilyUnavailable', {
          hint: 'Too many client authentications are being checked; retry shortly.',
          headers: { 'Retry-After': retryAfter },
        }),
      );
    }
    // The slot is handed over directly by release(), so `running` stays counted.
    return new Promise((resolve) => queue.push(resolve));
  };

  const release = (): void => {
    const next = queue.shift();
    if (next) next();
    else running--;
  };

  const limited = async <T>(work: () => Promise<T>): Promise<T> => {
    await acquire();
    try {
      return await work();
    } finally {
      release();
    }
  };

  return {
    hash: (secret) => inner.hash(secret),
    verify: (secret, hash, clientId) => limited(() => inner.verify(secret, hash, clientId)),
    verifyDecoy: (secret) => limited(() => inner.verifyDecoy(secret)),
    get running() {
      return running;
    },
    get waiting() {
      return queue.length;
    },
  };
}
