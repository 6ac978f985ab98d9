// The verified-secret cache as compose() sets it up by default, over real HTTP.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bcryptHasher,
  clientCredentialsGrant,
  compose,
  createMemoryStore,
  createRouter,
  createStaticKeySet,
  generateSigningKey,
  jwtAccessTokenStrategy,
  type Storage,
} from '../../src/index.js';
import { startServer, type RunningServer } from '../support/harness.js';

const issuer = 'https://auth.test.example';
const hasher = bcryptHasher({ cost: 4 });

function tokenRequest(url: string, id: string, secret: string) {
  return fetch(`${url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
}

describe('compose() default hasher: bcrypt behind the verified-secret cache', () => {
  let server: RunningServer;
  let storage: Storage;
  beforeAll(async () => {
    storage = createMemoryStore({
      clients: [
        {
          id: 'rotating',
          secretHash: await hasher.hash('first'),
          grantTypes: ['client_credentials'],
          scopes: [],
          audience: [],
        },
      ],
    });
    const keys = createStaticKeySet([await generateSigningKey('ES256')]);
    const provider = compose(
      { issuer },
      storage,
      jwtAccessTokenStrategy({ keys, issuer }),
      undefined,
      clientCredentialsGrant,
    );
    server = await startServer(createRouter(provider, { token: '/token' }));
  });
  afterAll(() => server.close());

  it('§2.3.1 accepts the right secret repeatedly and refuses a wrong one after the right one was cached', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await tokenRequest(server.url, 'rotating', 'first')).status).toBe(200);
    }
    const wrong = await tokenRequest(server.url, 'rotating', 'firsT');
    expect(wrong.status).toBe(401);
    expect((await wrong.json()) as unknown).toMatchObject({ error: 'invalid_client' });
  });

  it('§2.3.1 refuses a rotated-out secret on the very next request', async () => {
    expect((await tokenRequest(server.url, 'rotating', 'first')).status).toBe(200);
    const client = (await storage.getClient('rotating'))!;
    await storage.updateClient({ ...client, secretHash: await hasher.hash('second') });
    expect((await tokenRequest(server.url, 'rotating', 'first')).status).toBe(401);
    expect((await tokenRequest(server.url, 'rotating', 'second')).status).toBe(200);
  });

  it('§2.3.1 refuses a deleted client at once although its secret was cached', async () => {
    await storage.createClient({
      id: 'leaving',
      secretHash: await hasher.hash('bye'),
      grantTypes: ['client_credentials'],
      scopes: [],
      audience: [],
    });
    expect((await tokenRequest(server.url, 'leaving', 'bye')).status).toBe(200);
    await storage.deleteClient('leaving');
    expect((await tokenRequest(server.url, 'leaving', 'bye')).status).toBe(401);
  });
});
