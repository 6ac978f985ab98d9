// The client credentials grant's token record: never left behind for a token that was not
// issued, and no token handed out without one.

import { describe, expect, it } from 'vitest';
import { bcryptHasher } from '../secrets/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import type { AccessTokenRecord, Storage } from '../storage/index.js';
import { createStaticKeySet, generateSigningKey, type KeySet } from '../keys/index.js';
import { jwtAccessTokenStrategy } from '../tokens/index.js';
import { compose } from '../provider/compose.js';
import { clientCredentialsGrant } from './client-credentials.js';

const issuer = 'https://auth.test.example';
const hasher = bcryptHasher({ cost: 4 });

/** A provider over `store` and `keys`, knowing client "worker" with secret "s3cret". */
async function providerOver(store: Storage, keys: KeySet, reported: Error[] = []) {
  await store.createClient({
    id: 'worker',
    secretHash: await hasher.hash('s3cret'),
    grantTypes: ['client_credentials'],
    scopes: [],
    audience: [],
  });
  return compose(
    { issuer, reportError: (error) => reported.push(error) },
    store,
    jwtAccessTokenStrategy({ keys, issuer }),
    hasher,
    clientCredentialsGrant,
  );
}

const tokenRequest = () =>
  new Request(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&client_id=worker&client_secret=s3cret',
  });

/** A memory store whose token-record writes are handed to `onWrite` instead of going straight in. */
function storeWithWrites(onWrite: (record: AccessTokenRecord, write: () => Promise<void>) => Promise<void>) {
  const store = createMemoryStore();
  return {
    ...store,
    createAccessTokenRecord: (record: AccessTokenRecord) =>
      onWrite(record, () => store.createAccessTokenRecord(record)),
  } satisfies Storage;
}

/** The message of what a reported server_error wraps. */
const causeMessage = (error: Error) => (error.cause instanceof Error ? error.cause.message : error.message);

describe('client credentials grant: the token record', () => {
  it('RFC 6749 §5.2: a token that cannot be signed is answered with 500 server_error and leaves no record behind', async () => {
    const keys = createStaticKeySet([await generateSigningKey('RS256')]);
    const failingKeys: KeySet = { ...keys, getSigningKey: () => Promise.reject(new Error('key store unreachable')) };
    const written: AccessTokenRecord[] = [];
    const store = storeWithWrites(async (record, write) => {
      await write();
      written.push(record);
    });
    const reported: Error[] = [];
    const provider = await providerOver(store, failingKeys, reported);

    const response = await provider.handleTokenRequest(tokenRequest());
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: 'server_error' });
    expect(reported.map(causeMessage)).toEqual(['key store unreachable']);
    for (const record of written) expect(await store.getAccessTokenRecord(record.signature)).toBeUndefined();
  });

  it.each([
    ['rejects', (error: Error) => Promise.reject(error)],
    [
      'throws',
      (error: Error): Promise<void> => {
        throw error;
      },
    ],
  ] as const)(
    'RFC 6749 §5.2: a store that %s the record gets 500 server_error and no token, never a rejection left unhandled',
    async (_how, fail) => {
      const keys = createStaticKeySet([await generateSigningKey('RS256')]);
      const store: Storage = { ...createMemoryStore(), createAccessTokenRecord: () => fail(new Error('disk full')) };
      const reported: Error[] = [];
      const provider = await providerOver(store, keys, reported);

      const response = await provider.handleTokenRequest(tokenRequest());
      expect(response.status).toBe(500);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body.error).toBe('server_error');
      expect(body).not.toHaveProperty('access_token');
      expect(reported.map(causeMessage)).toEqual(['disk full']);
    },
  );
});
