import { describe, expect, it } from 'vitest';
import type { Storage } from '../index.js';
import { createMemoryStore } from './index.js';
import { describeStorageContract } from '../../../test/support/storage-contract.js';

describeStorageContract('memory', () => {
  const store = createMemoryStore();
  return Promise.resolve({ store, dispose: () => store.close() });
});

describe('memory store token records', () => {
  const record = {
    signature: 'jti-1',
    format: 'jwt' as const,
    clientId: 'machine',
    subject: 'machine',
    scopes: ['read'],
    audience: [],
    issuedAt: 1000,
    expiresAt: 2000,
  };

  it('refuses claims JSON cannot carry with a rejected promise, keeping nothing', async () => {
    const store = createMemoryStore();
    const created = store.createAccessTokenRecord({ ...record, extraClaims: { n: 1n } });
    await expect(created).rejects.toThrow(TypeError);
    expect(await store.getAccessTokenRecord('jti-1')).toBeUndefined();
  });

  it('keeps a copy: changing the caller object afterwards changes nothing stored', async () => {
    const store = createMemoryStore();
    const scopes = ['read'];
    await store.createAccessTokenRecord({ ...record, scopes });
    scopes.push('write');
    expect((await store.getAccessTokenRecord('jti-1'))?.scopes).toEqual(['read']);
  });
});

describe('memory store transactions', () => {
  it("refuses the outer store's transaction() inside a transaction's work at once, as SQLite does, and keeps serving", async () => {
    const store = createMemoryStore();
    const inner = await store
      .transaction(() => store.transaction(() => Promise.resolve('never run')))
      .catch((error: unknown) => error);
    expect(inner).toBeInstanceOf(Error);
    expect((inner as Error).message).toBe('inside transaction(), use the store passed to the work function');
    // Nothing waits behind it: the store and its next transaction answer.
    await expect(store.getClient('nobody')).resolves.toBeUndefined();
    await expect(store.transaction((tx) => tx.getClient('nobody'))).resolves.toBeUndefined();
  });

  it("refuses an ended transaction's own transaction(), as its other calls", async () => {
    const store = createMemoryStore();
    let leaked: Storage | undefined;
    await store.transaction((tx) => {
      leaked = tx;
      return Promise.resolve();
    });
    let ran = false;
    const nested = leaked!.transaction(() => {
      ran = true;
      return Promise.resolve();
    });
    await expect(nested).rejects.toThrow('the transaction has ended');
    expect(ran).toBe(false);
  });
});
