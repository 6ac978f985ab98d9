import { describe, expect, it } from 'vitest';
import { createManualClock } from '../core/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { bcryptHasher } from './bcrypt-hasher.js';
import type { SecretHasher } from './secret-hasher.js';
import { cachedSecretHasher } from './verified-secret-cache.js';

const bcrypt = bcryptHasher({ cost: 4 });

/** A real bcrypt hasher that counts the full checks it makes. */
function countingHasher(): SecretHasher & { checks: number; decoys: number } {
  const counter = {
    checks: 0,
    decoys: 0,
    hash: (secret: string) => bcrypt.hash(secret),
    verify(secret: string, hash: string) {
      counter.checks++;
      return bcrypt.verify(secret, hash);
    },
    verifyDecoy(secret: string) {
      counter.decoys++;
      return bcrypt.verifyDecoy(secret);
    },
  };
  return counter;
}

describe('cachedSecretHasher', () => {
  it('accepts a verified secret again without a second hash check', async () => {
    const inner = countingHasher();
    const cache = cachedSecretHasher(inner);
    const hash = await inner.hash('right secret');
    expect(await cache.verify('right secret', hash, 'client-a')).toBe(true);
    expect(await cache.verify('right secret', hash, 'client-a')).toBe(true);
    expect(inner.checks).toBe(1);
    expect(cache.size).toBe(1);
  });

  it('never accepts a wrong secret, even after the right one was cached', async () => {
    const inner = countingHasher();
    const cache = cachedSecretHasher(inner);
    const hash = await inner.hash('right secret');
    await cache.verify('right secret', hash, 'client-a');
    for (const wrong of ['right secret ', 'Right secret', '', 'right secre', 'right secret\u0000']) {
      expect(await cache.verify(wrong, hash, 'client-a')).toBe(false);
    }
    expect(cache.size).toBe(1);
  });

  it('never caches a failed check: every wrong guess costs a full hash', async () => {
    const inner = countingHasher();
    const cache = cachedSecretHasher(inner);
    const hash = await inner.hash('right secret');
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(await cache.verify('guess', hash, 'client-a')).toBe(false);
    }
    expect(inner.checks).toBe(3);
    expect(cache.size).toBe(0);
  });

  it('does not accept a cached secret for another client or another stored hash', async () => {
    const inner = countingHasher();
    const cache = cachedSecretHasher(inner);
    const hash = await inner.hash('shared');
    const otherHash = await inner.hash('different');
    await cache.verify('shared', hash, 'client-a');
    expect(await cache.verify('shared', otherHash, 'client-a')).toBe(false);
    // Same secret and hash for another client: a fresh full check decides.
    expect(await cache.verify('shared', hash, 'client-b')).toBe(true);
    expect(inner.checks).toBe(3);
  });

  it('forgets a rotated secret at once when the store announces the change', async () => {
    const inner = countingHasher();
    const oldHash = await inner.hash('old secret');
    const storage = createMemoryStore({
      clients: [{ id: 'client-a', secretHash: oldHash, grantTypes: ['client_credentials'], scopes: [], audience: [] }],
    });
    const cache = cachedSecretHasher(inner, { changes: storage });
    expect(await cache.verify('old secret', oldHash, 'client-a')).toBe(true);
    expect(cache.size).toBe(1);

    const newHash = await inner.hash('new secret');
    const client = (await storage.getClient('client-a'))!;
    await storage.updateClient({ ...client, secretHash: newHash });

    expect(cache.size).toBe(0);
    const current = (await storage.getClient('client-a'))!.secretHash!;
    expect(await cache.verify('old secret', current, 'client-a')).toBe(false);
    expect(await cache.verify('new secret', current, 'client-a')).toBe(true);
  });

  it('drops only the changed client on a notification', async () => {
    const inner = countingHasher();
    const hash = await inner.hash('s');
    const storage = createMemoryStore({
      clients: ['a', 'b'].map((id) => ({ id, secretHash: hash, grantTypes: [], scopes: [], audience: [] })),
    });
    const cache = cachedSecretHasher(inner, { changes: storage });
    await cache.verify('s', hash, 'a');
    await cache.verify('s', hash, 'b');
    await storage.deleteClient('a');
    expect(cache.size).toBe(1);
    expect(await cache.verify('s', hash, 'b')).toBe(true);
    expect(inner.checks).toBe(2);
  });

  it('drops every entry when the store says changes may have been missed', async () => {
    const inner = countingHasher();
    const hash = await inner.hash('s');
    let announce: (change: { kind: string; clientId?: string }) => void = () => undefined;
    const cache = cachedSecretHasher(inner, {
      changes: {
        subscribeToChanges(listener) {
          announce = listener;
          return () => undefined;
        },
      },
    });
    await cache.verify('s', hash, 'a');
    await cache.verify('s', hash, 'b');
    announce({ kind: 'signing-keys' });
    expect(cache.size).toBe(2);
    announce({ kind: 'all' });
    expect(cache.size).toBe(0);
  });

  it('runs one hash check for identical checks made at the same time', async () => {
    const inner = countingHasher();
    const cache = cachedSecretHasher(inner);
    const hash = await inner.hash('right secret');
    const results = await Promise.all([
      ...Array.from({ length: 8 }, () => cache.verify('right secret', hash, 'client-a')),
      ...Array.from({ length: 4 }, () => cache.verify('wrong secret', hash, 'client-a')),
    ]);
    expect(results).toEqual([...Array<boolean>(8).fill(true), ...Array<boolean>(4).fill(false)]);
    expect(inner.checks).toBe(2);
    expect(cache.size).toBe(1);
  });

  it('stops trusting an entry once its lifetime is over', async () => {
    const clock = createManualClock();
    const inner = countingHasher();
    const cache = cachedSecretHasher(inner, { ttlMs: 60_000, clock });
    const hash = await inner.hash('right secret');
    await cache.verify('right secret', hash, 'client-a');
    clock.advance(59_999);
    await cache.verify('right secret', hash, 'client-a');
    expect(inner.checks).toBe(1);
    clock.advance(60_000);
    expect(await cache.verify('right secret', hash, 'client-a')).toBe(true);
    expect(inner.checks).toBe(2);
  });

  it('keeps at most maxEntries, evicting the least recently used', async () => {
    const inner = countingHasher();
    const cache = cachedSecretHasher(inner, { maxEntries: 2 });
    const hash = await inner.hash('s');
    await cache.verify('s', hash, 'a');
    await cache.verify('s', hash, 'b');
    await cache.verify('s', hash, 'a'); // a is now the most recently used
    await cache.verify('s', hash, 'c'); // evicts b
    expect(cache.size).toBe(2);
    const checksBefore = inner.checks;
    await cache.verify('s', hash, 'a');
    expect(inner.checks).toBe(checksBefore);
    await cache.verify('s', hash, 'b');
    expect(inner.checks).toBe(checksBefore + 1);
  });

  it('never stores the plaintext secret or its hash in any form it keeps', async () => {
    const inner = countingHasher();
    const cache = cachedSecretHasher(inner);
    const secret = 'plaintext-Secret-42';
    const hash = await inner.hash(secret);
    await cache.verify(secret, hash, 'client-a');
    const keys = cache.storedKeys();
    expect(keys).toHaveLength(1);
    for (const key of keys) {
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      for (const form of [secret, Buffer.from(secret).toString('hex'), Buffer.from(secret).toString('base64'), hash]) {
        expect(key).not.toContain(form);
      }
    }
    // Nothing reachable from the cache object serialises to the secret.
    expect(JSON.stringify(cache)).not.toContain(secret);
  });

  it('keys entries under a per-process random key: two caches never share a key', async () => {
    const inner = countingHasher();
    const hash = await inner.hash('s');
    const first = cachedSecretHasher(inner);
    const second = cachedSecretHasher(inner);
    await first.verify('s', hash, 'a');
    await second.verify('s', hash, 'a');
    expect(first.storedKeys()[0]).not.toBe(second.storedKeys()[0]);
  });

  it('passes unknown-client decoys to the inner hasher and caches nothing', async () => {
    const inner = countingHasher();
    const cache = cachedSecretHasher(inner);
    await cache.verifyDecoy('anything');
    expect(inner.decoys).toBe(1);
    expect(cache.size).toBe(0);
  });

  it('stops listening and empties itself on close', async () => {
    const inner = countingHasher();
    const hash = await inner.hash('s');
    const storage = createMemoryStore({
      clients: [{ id: 'a', secretHash: hash, grantTypes: [], scopes: [], audience: [] }],
    });
    const cache = cachedSecretHasher(inner, { changes: storage });
    await cache.verify('s', hash, 'a');
    cache.close();
    expect(cache.size).toBe(0);
  });

  it('refuses settings that cannot work', () => {
    expect(() => cachedSecretHasher(bcrypt, { maxEntries: 0 })).toThrow(TypeError);
    expect(() => cachedSecretHasher(bcrypt, { ttlMs: -1 })).toThrow(TypeError);
  });
});
