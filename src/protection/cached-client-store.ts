// Client records from a bounded in-process cache, forgotten as soon as the store announces a change.

import { systemClock, type Client, type Clock } from '../core/index.js';
import type { ChangeFeed, ClientStore } from '../storage/index.js';

export interface ClientCacheOptions {
  /** Most clients kept; the least recently used goes first. Default 10,000. */
  readonly maxEntries?: number;
  /**
   * How long a record is used without asking the store again, in milliseconds. Default 60 s: a
   * bound on staleness should a change notification ever be lost.
   */
  readonly ttlMs?: number;
  readonly clock?: Clock;
}

/** A {@link ClientStore} that remembers what it read. */
export type CachedClientStore<Store extends ClientStore> = Store & {
  /** Stops listening to the change feed. */
  closeClientCache(): void;
  /** Clients currently cached. */
  readonly cachedClientCount: number;
};

/**
 * Wraps a store so `getClient` is answered from memory after the first read. The store's change
 * feed (`subscribeToChanges`, which SQL stores fill from other instances too) drops a changed
 * client at once; `{ kind: 'all' }` drops everything. Unknown ids are not cached, so a client
 * created a moment ago is found on its first request. Every other method passes through.
 *
 * @example
 * const clients = cachedClientStore(storage, { maxEntries: 10_000, ttlMs: 60_000 });
 */
export function cachedClientStore<Store extends ClientStore & ChangeFeed>(
  store: Store,
  options: ClientCacheOptions = {},
): CachedClientStore<Store> {
  const maxEntries = options.maxEntries ?? 10_000;
  const ttlMs = options.ttlMs ?? 60_000;
  const clock = options.clock ?? systemClock;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError(`maxEntries must be a positive integer, got ${String(maxEntries)}`);
  }
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`ttlMs must be a positive number of milliseconds, got ${String(ttlMs)}`);
  }
  const entries = new Map<string, { readonly client: Client; readonly expiresAt: number }>();
  // Bumped on every change, so a read that raced a change does not cache what it read.
  let generation = 0;

  const unsubscribe = store.subscribeToChanges((change) => {
    if (change.kind === 'client') {
      generation++;
      entries.delete(change.clientId);
    } else if (change.kind === 'all') {
      generation++;
      entries.clear();
    }
  });

  const getClient = async (id: string): Promise<Client | undefined> => {
    const cached = entries.get(id);
    if (cached) {
      entries.delete(id);
      if (cached.expiresAt > clock.now()) {
        entries.set(id, cached);
        return cached.client;
      }
    }
    const before = generation;
    const client = await store.getClient(id);
    if (client && generation === before) {
      entries.set(id, { client, expiresAt: clock.now() + ttlMs });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    }
    return client;
  };

  // A Proxy keeps every other method (and `this`) of the store exactly as it is.
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'getClient') return getClient;
      if (property === 'closeClientCache')
        return () => {
          unsubscribe();
          entries.clear();
        };
      if (property === 'cachedClientCount') return entries.size;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as CachedClientStore<Store>;
}
