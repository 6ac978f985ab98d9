// Brute-force protection over real HTTP: sources are told apart by their loopback address.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handle } from '../../src/http/node.js';
import { createRouter } from '../../src/index.js';
import {
  createBruteForceGuard,
  createGuardedHandler,
  type BruteForceGuardOptions,
} from '../../src/protection/index.js';
import { connectTestRedis } from '../support/redis.js';
import { createTestProvider, hashSecret } from '../support/test-provider.js';
import { addSecretClients, sendFrom, startMemoryServer } from './support/in-process-server.js';

const grant = 'grant_type=client_credentials';
const limits = { failuresPerClientAndAddress: 3, failuresPerAddress: 6, windowSeconds: 60, blockSeconds: 60 };

async function startGuardedServer(guardOptions: BruteForceGuardOptions) {
  const machineHash = await hashSecret('machine-secret');
  const { provider } = await createTestProvider({
    clients: [{ id: 'machine', secretHash: machineHash, grantTypes: ['client_credentials'], scopes: [], audience: [] }],
  });
  const guard = createBruteForceGuard(guardOptions);
  const guarded = createGuardedHandler(createRouter(provider, { token: '/token' }), { guard });
  const server: Server = createServer((req, res) => {
    handle((request) => guarded(request, req.socket.remoteAddress), req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    guard,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

describe('brute-force protection, in memory', () => {
  let server: Awaited<ReturnType<typeof startGuardedServer>>;
  beforeAll(async () => {
    server = await startGuardedServer(limits);
  });
  afterAll(() => server.close());

  it('answers 429 with Retry-After and a JSON error once the failures for a client from one address reach the limit', async () => {
    for (let attempt = 0; attempt < limits.failuresPerClientAndAddress; attempt++) {
      const answer = await sendFrom(server.url, {
        body: grant,
        basic: ['machine', `guess-${attempt}`],
        from: '127.0.0.2',
      });
      expect(answer.status).toBe(401);
    }
    const blocked = await sendFrom(server.url, { body: grant, basic: ['machine', 'guess-next'], from: '127.0.0.2' });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(Number(blocked.headers['retry-after']))).toBe(true);
    expect(blocked.headers['content-type']).toMatch(/^application\/json/);
    expect(blocked.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(blocked.body) as Record<string, unknown>;
    expect(body.error).toBe('too_many_requests');
    expect(typeof body.error_description).toBe('string');
    expect(blocked.body).not.toContain('guess-next');
  });

  it('keeps the blocked source out even with the right secret', async () => {
    const answer = await sendFrom(server.url, { body: grant, basic: ['machine', 'machine-secret'], from: '127.0.0.2' });
    expect(answer.status).toBe(429);
  });

  it('leaves the same client calling from its own address unaffected', async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const answer = await sendFrom(server.url, {
        body: grant,
        basic: ['machine', 'machine-secret'],
        from: '127.0.0.1',
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toHaveProperty('access_token');
    }
  });

  it('lets another client from the blocked address through until the address limit is reached', async () => {
    const answer = await sendFrom(server.url, {
      body: `${grant}&client_id=test-client&client_secret=foobar`,
      from: '127.0.0.2',
    });
    expect(answer.status).toBe(200);
  });

  it('counts failed private_key_jwt assertions by the client they name (RFC 7523 §3 sub), per address', async () => {
    const from = '127.0.0.9';
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (let attempt = 0; attempt < limits.failuresPerClientAndAddress; attempt++) {
      // Names machine but is signed by nobody: refused as invalid_client.
      const assertion = `${part({ alg: 'ES256' })}.${part({ iss: 'machine', sub: 'machine', jti: `j${attempt}` })}.AAAA`;
      const body = `${grant}&client_assertion_type=${encodeURIComponent('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')}&client_assertion=${assertion}`;
      expect((await sendFrom(server.url, { body, from })).status).toBe(401);
    }
    // That client from that address is blocked, even with its real secret ...
    expect((await sendFrom(server.url, { body: grant, basic: ['machine', 'machine-secret'], from })).status).toBe(429);
    // ... while the address itself is still under its own limit for other clients.
    expect(
      (await sendFrom(server.url, { body: `${grant}&client_id=test-client&client_secret=foobar`, from })).status,
    ).toBe(200);
  });

  it('counts client_secret_post failures by the client_id in the body', async () => {
    const from = '127.0.0.4';
    for (let attempt = 0; attempt < limits.failuresPerClientAndAddress; attempt++) {
      const answer = await sendFrom(server.url, {
        body: `${grant}&client_id=machine&client_secret=wrong${attempt}`,
        from,
      });
      expect(answer.status).toBe(401);
    }
    const blocked = await sendFrom(server.url, {
      body: `${grant}&client_id=machine&client_secret=machine-secret`,
      from,
    });
    expect(blocked.status).toBe(429);
    // The same address may still authenticate another client: only (machine, 127.0.0.4) is blocked.
    const other = await sendFrom(server.url, { body: grant, basic: ['test-client', 'foobar'], from });
    expect(other.status).toBe(200);
  });

  it('blocks an address probing many client ids once the per-address limit is reached', async () => {
    const from = '127.0.0.3';
    for (let attempt = 0; attempt < limits.failuresPerAddress; attempt++) {
      const answer = await sendFrom(server.url, { body: grant, basic: [`unknown-${attempt}`, 'x'], from });
      expect(answer.status).toBe(401);
    }
    const blocked = await sendFrom(server.url, { body: grant, basic: ['test-client', 'foobar'], from });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('still serves the JWK Set to a blocked address', async () => {
    const answer = await sendFrom(server.url, { method: 'GET', path: '/.well-known/jwks.json', from: '127.0.0.3' });
    expect(answer.status).toBe(200);
  });

  it('counts nothing for successful authentications', async () => {
    const from = '127.0.0.5';
    for (let attempt = 0; attempt < limits.failuresPerAddress + 2; attempt++) {
      const answer = await sendFrom(server.url, { body: grant, basic: ['machine', 'machine-secret'], from });
      expect(answer.status).toBe(200);
    }
    expect(await server.guard.check('127.0.0.5', 'machine')).toEqual({ blocked: false });
  });

  it('lets a source in again after an operator resets it', async () => {
    await server.guard.reset('127.0.0.2', 'machine');
    const answer = await sendFrom(server.url, { body: grant, basic: ['machine', 'machine-secret'], from: '127.0.0.2' });
    expect(answer.status).toBe(200);
  });
});

describe('brute-force protection shared through Redis', () => {
  const prefix = `tessera-test-${randomBytes(6).toString('hex')}`;
  let redis: Redis | undefined;
  let first: Awaited<ReturnType<typeof startGuardedServer>> | undefined;
  let second: Awaited<ReturnType<typeof startGuardedServer>> | undefined;

  beforeAll(async () => {
    redis = await connectTestRedis('the Redis brute-force tests');
    if (!redis) return;
    first = await startGuardedServer({ ...limits, redis, keyPrefix: prefix });
    second = await startGuardedServer({ ...limits, redis, keyPrefix: prefix });
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('blocks a source on one instance after it failed on another', async (context) => {
    if (!first || !second) return context.skip();
    for (let attempt = 0; attempt < limits.failuresPerClientAndAddress; attempt++) {
      const answer = await sendFrom(first.url, {
        body: grant,
        basic: ['machine', `guess-${attempt}`],
        from: '127.0.0.6',
      });
      expect(answer.status).toBe(401);
    }
    const blocked = await sendFrom(second.url, {
      body: grant,
      basic: ['machine', 'machine-secret'],
      from: '127.0.0.6',
    });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const legitimate = await sendFrom(second.url, {
      body: grant,
      basic: ['machine', 'machine-secret'],
      from: '127.0.0.1',
    });
    expect(legitimate.status).toBe(200);
    expect((await redis!.keys(`${prefix}*`)).length).toBeGreaterThan(0);
  });

  it('counts in memory while Redis is down, reports that once per outage, and shares counts again once Redis is back', async (context) => {
    if (!redis) return context.skip();
    const own = await connectTestRedis('the Redis outage test');
    if (!own) return context.skip();
    const outagePrefix = `${prefix}-outage`;
    const reported: Error[] = [];
    const guard = createBruteForceGuard({
      ...limits,
      redis: own,
      keyPrefix: outagePrefix,
      reportError: (error) => reported.push(error),
    });
    const peer = createBruteForceGuard({ ...limits, redis, keyPrefix: outagePrefix });
    try {
      await guard.recordFailure('192.0.2.1', 'machine');
      expect(reported).toEqual([]);

      await disconnected(own);
      for (let attempt = 0; attempt < limits.failuresPerClientAndAddress; attempt++) {
        await guard.recordFailure('192.0.2.2', 'machine');
      }
      // Still enforced, from this process's memory, and told once, not once per call.
      expect(await guard.check('192.0.2.2', 'machine')).toMatchObject({ blocked: true });
      expect(reported).toHaveLength(1);
      expect(reported[0]!.message).toMatch(/fall back to memory/);
      // The other instance never saw those failures: they were not in Redis.
      expect(await peer.check('192.0.2.2', 'machine')).toEqual({ blocked: false });
      // An operator's reset during the outage clears the counts kept in memory.
      await guard.reset('192.0.2.2', 'machine');
      expect(await guard.check('192.0.2.2', 'machine')).toEqual({ blocked: false });
      expect(reported).toHaveLength(1);

      await own.connect();
      for (let attempt = 0; attempt < limits.failuresPerClientAndAddress; attempt++) {
        await guard.recordFailure('192.0.2.3', 'machine');
      }
      expect(await peer.check('192.0.2.3', 'machine')).toMatchObject({ blocked: true });
      expect(reported).toHaveLength(1);

      // A second outage is a new report.
      own.disconnect();
      await guard.recordFailure('192.0.2.4', 'machine');
      expect(reported).toHaveLength(2);
    } finally {
      own.disconnect();
      const keys = await redis.keys(`${outagePrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  });
});

describe('a brute-force guard whose error reporter throws', () => {
  it('still counts and blocks, from memory, while Redis is down', async (context) => {
    const own = await connectTestRedis('the throwing-reporter test');
    if (!own) return context.skip();
    let calls = 0;
    const guard = createBruteForceGuard({
      ...limits,
      redis: own,
      keyPrefix: `tessera-test-throwing-reporter-${process.pid}`,
      reportError: () => {
        calls++;
        throw new Error('the log is full');
      },
    });
    await disconnected(own);
    for (let attempt = 0; attempt < limits.failuresPerClientAndAddress; attempt++) {
      await guard.recordFailure('192.0.2.9', 'machine');
    }
    expect(await guard.check('192.0.2.9', 'machine')).toMatchObject({ blocked: true });
    expect(calls).toBe(1);
  });
});

describe('the server setting protection.unverifiedPerAddress', () => {
  it.each([
    ['1', [401, 429]],
    ['2', [401, 401]],
  ])('with %s, two different wrong secrets in flight from one address get %j', async (setting, expected) => {
    const server = await startMemoryServer({ TESSERA_UNVERIFIED_PER_ADDRESS: setting }, { publicOnly: true });
    try {
      // Cost 10: each wrong guess is still being hashed when the other arrives.
      await addSecretClients(server, [['machine', 'the-right-secret']], 10);
      const url = server.public!.url;
      const answers = await Promise.all(
        ['wrong-one', 'wrong-two'].map((secret) =>
          sendFrom(url, { path: '/oauth2/token', body: grant, basic: ['machine', secret], from: '127.0.0.9' }),
        ),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual(expected);
      const refused = answers.find((answer) => answer.status === 429);
      if (refused) expect(refused.headers['retry-after']).toBe('1');
    } finally {
      await server.close();
    }
  });
});

/** Closes a Redis client's connection and waits until it is gone: Redis is then down for it. */
async function disconnected(client: Redis): Promise<void> {
  const closed = once(client, 'end');
  client.disconnect();
  await closed;
}
