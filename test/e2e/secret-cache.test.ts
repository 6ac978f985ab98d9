// The verified-secret cache as compose() sets it up by default, over real HTTP.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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
import { addSecretClients, startMemoryServer } from './support/in-process-server.js';

// Every bcrypt comparison the process makes (real and decoy checks alike), counted: what the
// verified-secret cache saves is exactly these. The comparison itself is the library's own.
const bcryptComparisons = vi.hoisted(() => ({ count: 0 }));
vi.mock('@node-rs/bcrypt', async (importOriginal) => {
  const original = await importOriginal<typeof import('@node-rs/bcrypt')>();
  return {
    ...original,
    verify: (...args: Parameters<typeof original.verify>) => {
      bcryptComparisons.count++;
      return original.verify(...args);
    },
  };
});

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

const adminToken = 'secret-cache-admin-token';

/** `tessera serve`'s server in-process on a memory store, with `extra` settings from the environment. */
async function startTessera(extra: Record<string, string>) {
  const server = await startMemoryServer({
    TESSERA_ADMIN_TOKEN: adminToken,
    TESSERA_KEY_ROTATION_PERIOD: '0',
    ...extra,
  });
  await addSecretClients(server, [
    ['first', 'first-secret'],
    ['second', 'second-secret'],
  ]);
  const token = (id: string, secret: string) => tokenRequest(`${server.public!.url}/oauth2`, id, secret);
  /** Token requests answered with the given statuses; returns how many bcrypt comparisons they cost. */
  const comparisonsFor = async (requests: readonly [id: string, secret: string, status: number][]) => {
    const before = bcryptComparisons.count;
    for (const [id, secret, status] of requests) expect((await token(id, secret)).status).toBe(status);
    return bcryptComparisons.count - before;
  };
  /** The value of the metric line that starts with `series` on the admin listener's /metrics. */
  const metric = async (series: string) => {
    const response = await fetch(`${server.admin!.url}/metrics`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(response.status).toBe(200);
    const line = (await response.text()).split('\n').find((text) => text.startsWith(`${series} `));
    return Number(line?.slice(series.length + 1) ?? 0);
  };
  /** The value of `tessera_secret_verifications_total{result}`. */
  const verifications = (result: 'match' | 'mismatch' | 'decoy') =>
    metric(`tessera_secret_verifications_total{result="${result}"}`);
  return { server, comparisonsFor, verifications, metric };
}

describe('tessera serve: protection.secretCacheSize and protection.secretCacheTtl reach the verified-secret cache', () => {
  it.each([
    ['1', 3],
    ['2', 2],
  ])(
    "with secretCacheSize %s, a secret pushed out by another client's costs a new hash check (%i comparisons for first, first, second, first)",
    async (size, expected) => {
      const { server, comparisonsFor } = await startTessera({ TESSERA_SECRET_CACHE_SIZE: size });
      try {
        const comparisons = await comparisonsFor([
          ['first', 'first-secret', 200],
          ['first', 'first-secret', 200],
          ['second', 'second-secret', 200],
          ['first', 'first-secret', 200],
        ]);
        expect(comparisons).toBe(expected);
      } finally {
        await server.close();
      }
    },
  );

  it.each([
    ['1', 1],
    ['600', 0],
  ])(
    'with secretCacheTtl %s, a good secret presented again two seconds later costs %i new hash checks',
    async (ttl, expected) => {
      const { server, comparisonsFor } = await startTessera({ TESSERA_SECRET_CACHE_TTL: ttl });
      try {
        expect(await comparisonsFor([['first', 'first-secret', 200]])).toBe(1);
        expect(await comparisonsFor([['first', 'first-secret', 200]])).toBe(0);
        // Only the clock the cache reads moves: no test waits on real time.
        vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 2000 });
        expect(await comparisonsFor([['first', 'first-secret', 200]])).toBe(expected);
      } finally {
        vi.useRealTimers();
        await server.close();
      }
    },
  );
});

describe('tessera serve: a client change forgets only that client', () => {
  it("keeps the other clients' verified secrets when one client is updated", async () => {
    const { server, comparisonsFor } = await startTessera({});
    try {
      expect(
        await comparisonsFor([
          ['first', 'first-secret', 200],
          ['second', 'second-secret', 200],
        ]),
      ).toBe(2);
      const second = (await server.storage.getClient('second'))!;
      await server.storage.updateClient({ ...second, scopes: ['reports'] });
      // The change reaches the cache through the store's change feed; `second` is checked again,
      // `first` is still answered from the cache.
      expect(await comparisonsFor([['first', 'first-secret', 200]])).toBe(0);
      expect(await comparisonsFor([['second', 'second-secret', 200]])).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('tessera serve: tessera_secret_verifications_total', () => {
  it('counts a secret tried for an unknown client id as a decoy check, which still costs a bcrypt comparison', async () => {
    const { server, comparisonsFor, verifications } = await startTessera({});
    try {
      expect(await verifications('decoy')).toBe(0);
      expect(await comparisonsFor([['no-such-client', 'any-secret', 401]])).toBe(1);
      expect(await verifications('decoy')).toBe(1);
      expect(await comparisonsFor([['no-such-client-either', 'any-secret', 401]])).toBe(1);
      expect(await verifications('decoy')).toBe(2);
      // A known client with a wrong secret is a mismatch, not a decoy.
      expect(await comparisonsFor([['first', 'wrong-secret', 401]])).toBe(1);
      expect(await verifications('decoy')).toBe(2);
      expect(await verifications('mismatch')).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('counts in tessera_secret_hash_checks_total only the bcrypt comparisons run, not the checks the cache answered', async () => {
    const { server, comparisonsFor, verifications, metric } = await startTessera({});
    try {
      const comparisons = await comparisonsFor([
        ['first', 'first-secret', 200],
        ['first', 'first-secret', 200],
        ['first', 'first-secret', 200],
        ['first', 'wrong-secret', 401],
        ['no-such-client', 'any-secret', 401],
      ]);
      expect(comparisons).toBe(3);
      expect(await metric('tessera_secret_hash_checks_total')).toBe(comparisons);
      expect((await verifications('match')) + (await verifications('mismatch')) + (await verifications('decoy'))).toBe(
        5,
      );
    } finally {
      await server.close();
    }
  });
});
