// Two `tessera serve` processes on one PostgreSQL schema behave as one service; an outage of the
// database answers 503 temporarily_unavailable and service resumes without a restart.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis } from '../support/redis.js';
import { dropSchema, postgresUrl, probePostgres, randomSchemaName } from '../storage/postgres-test-database.js';
import {
  basic,
  createWorkspace,
  requestToken,
  runTessera,
  startTessera,
  type ServerProcess,
  type Workspace,
} from './support/tessera-process.js';

const unavailable = await probePostgres();
const redisProbe = await connectTestRedis('the shared brute-force limit test');
redisProbe?.disconnect();
const redisUnavailable = redisProbe ? undefined : 'no Redis';

async function admin(
  server: ServerProcess,
  workspace: Workspace,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${workspace.adminToken}`);
  if (init.body) headers.set('content-type', 'application/json');
  return fetch(`${server.adminUrl}${path}`, { ...init, headers });
}

async function introspect(
  server: ServerProcess,
  id: string,
  secret: string,
  token: string,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.publicUrl}/oauth2/introspect`, {
    method: 'POST',
    headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  return (await response.json()) as Record<string, unknown>;
}

async function eventually(check: () => Promise<boolean>, attempts = 100): Promise<boolean> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe.skipIf(unavailable !== undefined)('two instances on one PostgreSQL schema', () => {
  const schema = randomSchemaName();
  let workspace: Workspace;
  let first: ServerProcess;
  let second: ServerProcess;
  let secret = '';

  beforeAll(async () => {
    // One issuer for both, as behind a load balancer.
    workspace = createWorkspace({
      DATABASE_URL: postgresUrl,
      TESSERA_DATABASE_SCHEMA: schema,
      TESSERA_ISSUER: 'https://auth.example.test',
    });
    [first, second] = await Promise.all([startTessera(workspace), startTessera(workspace)]);
    const created = await admin(first, workspace, '/clients', {
      method: 'POST',
      body: JSON.stringify({ client_id: 'shared', scope: 'read' }),
    });
    secret = String(((await created.json()) as Record<string, unknown>).client_secret);
  });
  afterAll(async () => {
    await Promise.all([first?.stop('SIGKILL'), second?.stop('SIGKILL')]);
    await dropSchema(schema);
    workspace?.remove();
  });

  it('publish the same JWK Set', async () => {
    const [a, b] = await Promise.all(
      [first, second].map(
        async (server) =>
          (await (await fetch(`${server.publicUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] },
      ),
    );
    expect(a!.keys.map((key) => key.kid).sort()).toEqual(b!.keys.map((key) => key.kid).sort());
    expect(a!.keys).toHaveLength(2);
  });

  it('a client created through one gets a token from the other at once', async () => {
    expect((await requestToken(second.publicUrl, 'shared', secret, { scope: 'read' })).status).toBe(200);
  });

  it('a token issued by one introspects as active on the other', async () => {
    const token = String((await requestToken(first.publicUrl, 'shared', secret)).body.access_token);
    expect(await introspect(second, 'shared', secret, token)).toMatchObject({ active: true, client_id: 'shared' });
  });

  it('a revocation through one is seen by the other at once', async () => {
    const token = String((await requestToken(first.publicUrl, 'shared', secret)).body.access_token);
    const revoked = await fetch(`${first.publicUrl}/oauth2/revoke`, {
      method: 'POST',
      headers: { authorization: basic('shared', secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    expect(await introspect(second, 'shared', secret, token)).toEqual({ active: false });
  });

  it('a secret rotated through one stops working on the other', async () => {
    const rotated = await admin(first, workspace, '/clients/shared/secret', { method: 'POST' });
    const newSecret = String(((await rotated.json()) as Record<string, unknown>).client_secret);
    expect(await eventually(async () => (await requestToken(second.publicUrl, 'shared', secret)).status === 401)).toBe(
      true,
    );
    expect((await requestToken(second.publicUrl, 'shared', newSecret)).status).toBe(200);
    secret = newSecret;
  });

  it('`tessera keys rotate` run twice at once still leaves exactly one active key', async () => {
    const results = await Promise.all(
      [1, 2].map(() => runTessera(workspace, ['keys', 'rotate', '--immediate', '--json'])),
    );
    for (const result of results) expect(result.code).toBe(0);
    const keys = ((await (await admin(first, workspace, '/keys')).json()) as { keys: { state: string }[] }).keys;
    expect(keys.filter((key) => key.state === 'active')).toHaveLength(1);
    expect(keys.filter((key) => key.state === 'next')).toHaveLength(1);
  });

  it('a key rotation started on both at once leaves exactly one active key', async () => {
    const retired = async () =>
      ((await (await admin(first, workspace, '/keys')).json()) as { keys: { state: string }[] }).keys.filter(
        (key) => key.state === 'retired',
      ).length;
    const retiredBefore = await retired();
    const results = await Promise.all(
      [first, second].map(
        async (server) =>
          (await (await admin(server, workspace, '/keys/rotate?immediate=true', { method: 'POST' })).json()) as {
            rotated: boolean;
          },
      ),
    );
    const keys = ((await (await admin(first, workspace, '/keys')).json()) as { keys: { state: string }[] }).keys;
    expect(keys.filter((key) => key.state === 'active')).toHaveLength(1);
    expect(keys.filter((key) => key.state === 'next')).toHaveLength(1);
    // Each rotation that happened retired exactly one key; none left two keys active.
    expect(await retired()).toBe(retiredBefore + results.filter((result) => result.rotated).length);
    expect(results.some((result) => result.rotated)).toBe(true);
  });
});

/** A TCP proxy to PostgreSQL that the test can cut and restore. */
async function startProxy(target: URL, port = 0): Promise<{ port: number; cut(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((incoming) => {
    const outgoing = connect(Number(target.port || 5432), target.hostname);
    sockets.add(incoming).add(outgoing);
    incoming.pipe(outgoing).pipe(incoming);
    const end = () => {
      incoming.destroy();
      outgoing.destroy();
      sockets.delete(incoming);
      sockets.delete(outgoing);
    };
    incoming.on('error', end).on('close', end);
    outgoing.on('error', end).on('close', end);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    async cut() {
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

describe.skipIf(unavailable !== undefined)('PostgreSQL outage', () => {
  const schema = randomSchemaName();
  let workspace: Workspace | undefined;
  let server: ServerProcess | undefined;

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await dropSchema(schema);
    workspace?.remove();
  });

  it('answers 503 temporarily_unavailable and fails readiness while the database is away, then recovers without a restart', async () => {
    const target = new URL(postgresUrl);
    let proxy = await startProxy(target);
    const url = new URL(postgresUrl);
    url.host = `127.0.0.1:${proxy.port}`;
    workspace = createWorkspace({ DATABASE_URL: url.toString(), TESSERA_DATABASE_SCHEMA: schema });
    server = await startTessera(workspace);
    const created = await admin(server, workspace, '/clients', {
      method: 'POST',
      body: JSON.stringify({ client_id: 'steady' }),
    });
    const secret = String(((await created.json()) as Record<string, unknown>).client_secret);
    expect((await requestToken(server.publicUrl, 'steady', secret)).status).toBe(200);

    const port = proxy.port;
    await proxy.cut();
    const during = await requestToken(server.publicUrl, 'steady', secret);
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({ error: 'temporarily_unavailable' });
    const ready = await fetch(`${server.adminUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect((await fetch(`${server.adminUrl}/health/alive`)).status).toBe(200);
    const admin503 = await admin(server, workspace, '/clients/steady');
    expect(admin503.status).toBe(503);
    const metrics = await (await admin(server, workspace, '/metrics')).text();
    expect(
      Number(/^tessera_storage_errors_total\{operation="createAccessTokenRecord"\} (\d+)$/m.exec(metrics)?.[1]),
    ).toBeGreaterThanOrEqual(1);

    proxy = await startProxy(target, port);
    try {
      expect(
        await eventually(async () => (await requestToken(server!.publicUrl, 'steady', secret)).status === 200),
      ).toBe(true);
      expect((await fetch(`${server.adminUrl}/health/ready`)).status).toBe(200);
      expect(server.child.exitCode).toBeNull();
    } finally {
      await proxy.cut();
    }
  });
});

describe.skipIf(unavailable !== undefined || redisUnavailable !== undefined)(
  'brute-force limits shared through Redis',
  () => {
    const schema = randomSchemaName();
    const prefix = `tessera-test-${randomBytes(6).toString('hex')}`;
    let workspace: Workspace | undefined;
    const running: ServerProcess[] = [];

    afterAll(async () => {
      await Promise.all(running.map((server) => server.stop('SIGKILL')));
      await dropSchema(schema);
      workspace?.remove();
      const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 });
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });

    it('failures counted by one instance block the same source on the other', async () => {
      workspace = createWorkspace({
        DATABASE_URL: postgresUrl,
        TESSERA_DATABASE_SCHEMA: schema,
        TESSERA_ISSUER: 'https://auth.example.test',
        TESSERA_REDIS_URL: 'redis://127.0.0.1:6379',
        TESSERA_REDIS_KEY_PREFIX: prefix,
        TESSERA_FAILURES_PER_CLIENT_AND_ADDRESS: '2',
        TESSERA_TRUST_PROXY: 'true',
      });
      running.push(...(await Promise.all([startTessera(workspace), startTessera(workspace)])));
      const [first, second] = running as [ServerProcess, ServerProcess];
      const created = await admin(first, workspace, '/clients', {
        method: 'POST',
        body: JSON.stringify({ client_id: 'limited' }),
      });
      const secret = String(((await created.json()) as Record<string, unknown>).client_secret);
      const attempt = (server: ServerProcess, presented: string, address: string) =>
        fetch(`${server.publicUrl}/oauth2/token`, {
          method: 'POST',
          headers: {
            authorization: basic('limited', presented),
            'content-type': 'application/x-www-form-urlencoded',
            'x-forwarded-for': address,
          },
          body: 'grant_type=client_credentials',
        });
      for (let index = 0; index < 2; index++)
        expect((await attempt(first, 'a-wrong-guess', '203.0.113.99')).status).toBe(401);
      expect((await attempt(second, secret, '203.0.113.99')).status).toBe(429);
      expect((await attempt(second, secret, '198.51.100.1')).status).toBe(200);
    });
  },
);
