import { describe, expect, it } from 'vitest';
import { createManualClock, type Client } from '../core/index.js';
import type { ChangeFeed, ClientStore, StorageChange } from '../storage/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { cachedClientStore } from './cached-client-store.js';

const client = (id: string, secretHash = 'h1'): Client => ({
  id,
  secretHash,
  grantTypes: ['client_credentials'],
  scopes: [],
  audience: [],
});

/** A memory store that counts reads of clients. */
function countingStore(clients: Client[]) {
  const store = createMemoryStore({ clients });
  let reads = 0;
  const counted = new Proxy(store, {
    get(target, property) {
      if (property === 'getClient') {
        return (id: string) => {
          reads++;
          return target.getClient(id);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: counted, reads: () => reads };
}

describe('cachedClientStore', () => {
  it('reads a client from the store once, then from memory', async () => {
    const { store, reads } = countingStore([client('a')]);
    const cached = cachedClientStore(store);
    expect((await cached.getClient('a'))?.id).toBe('a');
    expect((await cached.getClient('a'))?.id).toBe('a');
    expect(reads()).toBe(1);
  });

  it('returns the new record at once after the client is updated', async () => {
    const { store } = countingStore([client('a', 'old')]);
    const cached = cachedClientStore(store);
    await cached.getClient('a');
    await cached.updateClient(client('a', 'new'));
    expect((await cached.getClient('a'))?.secretHash).toBe('new');
  });

  it('forgets a deleted client at once', async () => {
    const { store } = countingStore([client('a')]);
    const cached = cachedClientStore(store);
    await cached.getClient('a');
    await store.deleteClient('a');
    expect(await cached.getClient('a')).toBeUndefined();
  });

  it('does not cache unknown ids, so a client created later is found', async () => {
    const { store } = countingStore([]);
    const cached = cachedClientStore(store);
    expect(await cached.getClient('late')).toBeUndefined();
    await store.createClient(client('late'));
    expect((await cached.getClient('late'))?.id).toBe('late');
  });

  it('forgets everything on an "all" change and re-reads after the lifetime', async () => {
    let announce: (change: StorageChange) => void = () => undefined;
    let reads = 0;
    const store: ClientStore & ChangeFeed = {
      getClient: (id) => {
        reads++;
        return Promise.resolve(client(id));
      },
      subscribeToChanges(listener) {
        announce = listener;
        return () => undefined;
      },
    };
    const clock = createManualClock();
    const cached = cachedClientStore(store, { ttlMs: 1000, clock });
    await cached.getClient('a');
    await cached.getClient('b');
    expect(cached.cachedClientCount).toBe(2);
    announce({ kind: 'all' });
    expect(cached.cachedClientCount).toBe(0);
    await cached.getClient('a');
    clock.advance(1000);
    await cached.getClient('a');
    expect(reads).toBe(4);
  });

  it('does not cache a record read while a change of it was announced', async () => {
    let announce: (change: StorageChange) => void = () => undefined;
    let version = 0;
    const store: ClientStore & ChangeFeed = {
      getClient: async (id) => {
        const read = client(id, `v${version}`);
        await Promise.resolve();
        announce({ kind: 'client', clientId: id });
        version++;
        return read;
      },
      subscribeToChanges(listener) {
        announce = listener;
        return () => undefined;
      },
    };
    const cached = cachedClientStore(store);
    expect((await cached.getClient('a'))?.secretHash).toBe('v0');
    expect(cached.cachedClientCount).toBe(0);
  });

  it('keeps at most maxEntries clients', async () => {
    const { store, reads } = countingStore([client('a'), client('b'), client('c')]);
    const cached = cachedClientStore(store, { maxEntries: 2 });
    await cached.getClient('a');
    await cached.getClient('b');
    await cached.getClient('a');
    await cached.getClient('c');
    expect(cached.cachedClientCount).toBe(2);
    await cached.getClient('a');
    expect(reads()).toBe(3);
  });

  it('passes every other method through to the store', async () => {
    const { store } = countingStore([client('a')]);
    const cached = cachedClientStore(store);
    expect((await cached.listClients()).map((each) => each.id)).toEqual(['a']);
    cached.closeClientCache();
    await expect(cached.ping()).resolves.toBeUndefined();
  });
});
