// Remembers secrets that passed a full hash check, so a known client pays for bcrypt once, not per token.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createHmacSha256 } from './hmac-sha256.js';
import type { Clock } from '../core/index.js';
import { systemClock } from '../core/index.js';
import type { SecretHasher } from './secret-hasher.js';

/**
 * The part of a storage change feed the cache listens to. Structural, so secrets/ need not import
 * storage/: any store's `subscribeToChanges` fits.
 */
export interface ClientChangeSource {
  subscribeToChanges(listener: (change: { readonly kind: string; readonly clientId?: string }) => void): () => void;
}

export interface VerifiedSecretCacheOptions {
  /** Most entries kept; the least recently used goes first. Default 10,000. */
  readonly maxEntries?: number;
  /** How long a verified secret is trusted without a new hash check, in milliseconds. Default 10 minutes. */
  readonly ttlMs?: number;
  readonly clock?: Clock;
  /** Where client changes are announced (a store's change feed); entries of a changed client are dropped. */
  readonly changes?: ClientChangeSource;
}

/** A {@link SecretHasher} that remembers successful checks. */
export interface CachedSecretHasher extends SecretHasher {
  /** Entries currently held. */
  readonly size: number;
  /**
   * The lookup keys currently held: hex HMAC digests, never a secret. For audits and tests.
   */
  storedKeys(): string[];
  /** Forgets every entry of one client, or all entries. */
  forget(clientId?: string): void;
  /** Stops listening to the change feed and empties the cache. */
  close(): void;
}

interface Entry {
  /** The full HMAC, compared in constant time after the lookup by its first half. */
  readonly digest: Buffer;
  readonly clientId: string;
  readonly expiresAt: number;
}

/**
 * Wraps a hasher so that a (client, presented secret, stored hash) triple that verified once is
 * accepted again without hashing, for a bounded time. Entries are keyed by an HMAC-SHA256 under a
 * random key made when the cache is created, so neither the secret nor anything that can be
 * checked against it offline is kept. Failed checks are never remembered, so every wrong guess
 * still costs a full hash. Because the stored hash is part of the key, a changed secret misses at
 * once; a change notification also drops the client's entries so they do not wait for eviction.
 *
 * @example
 * const hasher = cachedSecretHasher(bcryptHasher(), { maxEntries: 10_000, ttlMs: 600_000, changes: storage });
 */
export function cachedSecretHasher(inner: SecretHasher, options: VerifiedSecretCacheOptions = {}): CachedSecretHasher {
  const maxEntries = options.maxEntries ?? 10_000;
  const ttlMs = options.ttlMs ?? 10 * 60_000;
  const clock = options.clock ?? systemClock;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError(`maxEntries must be a positive integer, got ${String(maxEntries)}`);
  }
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`ttlMs must be a positive number of milliseconds, got ${String(ttlMs)}`);
  }

  const mac = createHmacSha256(randomBytes(32));
  // Map keeps insertion order: re-inserting on a hit makes the first entry the least recently used.
  const entries = new Map<string, Entry>();
  const byClient = new Map<string, Set<string>>();
  const inFlight = new Map<string, { readonly digest: Buffer; readonly result: Promise<boolean> }>();

  // Made once and reused: a digest is computed to its end before another can start.
  let scratch = Buffer.alloc(512);
  const digestOf = (clientId: string, secret: string, hash: string): Buffer => {
    // Length prefixes keep ("a:b", "c") and ("a", "b:c") apart. One buffer, one update: this
    // runs on every token request. Three bytes of UTF-8 at most per UTF-16 unit: room enough.
    const room = 12 + 3 * (clientId.length + secret.length + hash.length);
    if (room > scratch.length) scratch = Buffer.alloc(room);
    let offset = 0;
    for (const part of [clientId, secret, hash]) {
      const written = scratch.write(part, offset + 4, 'utf8');
      scratch.writeUInt32BE(written, offset);
      offset += 4 + written;
    }
    const digest = mac.digest(scratch.subarray(0, offset));
    // The secret must not linger in memory longer than needed.
    scratch.fill(0, 0, offset);
    return digest;
  };

  const remove = (lookup: string): void => {
    const entry = entries.get(lookup);
    if (!entry) return;
    entries.delete(lookup);
    const ofClient = byClient.get(entry.clientId);
    ofClient?.delete(lookup);
    if (ofClient?.size === 0) byClient.delete(entry.clientId);
  };

  const forget = (clientId?: string): void => {
    if (clientId === undefined) {
      entries.clear();
      byClient.clear();
      return;
    }
    for (const lookup of [...(byClient.get(clientId) ?? [])]) remove(lookup);
    // Entries verified without a client id cannot be attributed; drop them too.
    if (clientId !== '') for (const lookup of [...(byClient.get('') ?? [])]) remove(lookup);
  };

  const unsubscribe = options.changes?.subscribeToChanges((change) => {
    if (change.kind === 'client') forget(change.clientId ?? undefined);
    // Changes may have been missed: trust nothing verified before.
    else if (change.kind === 'all') forget();
  });

  return {
    hash: (secret) => inner.hash(secret),
    verifyDecoy: (secret) => inner.verifyDecoy(secret),

    async verify(secret, hash, clientId = '') {
      const digest = digestOf(clientId, secret, hash);
      const lookup = digest.toString('hex', 0, 16);
      const entry = entries.get(lookup);
      if (entry) {
        if (entry.expiresAt > clock.now() && timingSafeEqual(entry.digest, digest)) {
          entries.delete(lookup);
          entries.set(lookup, entry);
          return true;
        }
        remove(lookup);
      }
      // Identical checks already running share one hash: a client opening many connections at
      // once costs one bcrypt run, and so does an attacker repeating one guess.
      const running = inFlight.get(lookup);
      if (running && timingSafeEqual(running.digest, digest)) return running.result;
      const result = inner.verify(secret, hash, clientId === '' ? undefined : clientId);
      if (!running) inFlight.set(lookup, { digest, result });
      let matches: boolean;
      try {
        matches = await result;
      } finally {
        if (inFlight.get(lookup)?.result === result) inFlight.delete(lookup);
      }
      if (!matches) return false;
      remove(lookup);
      entries.set(lookup, { digest, clientId, expiresAt: clock.now() + ttlMs });
      let ofClient = byClient.get(clientId);
      if (!ofClient) byClient.set(clientId, (ofClient = new Set()));
      ofClient.add(lookup);
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        remove(oldest);
      }
      return true;
    },

    get size() {
      return entries.size;
    },
    storedKeys: () => [...entries.values()].map((entry) => entry.digest.toString('hex')),
    forget,
    close() {
      unsubscribe?.();
      forget();
    },
  };
}
