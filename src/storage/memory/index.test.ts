import { describe, expect, it } from 'vitest';
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
