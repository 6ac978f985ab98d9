// `tessera serve` as a process: refusals at start-up, SIGTERM with requests in flight, logs free of
// secrets, client addresses behind a proxy, header limits, TLS and worker processes.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  basic,
  binary,
  createWorkspace,
  parseJson,
  requestToken,
  runTessera,
  startTessera,
  type ServerProcess,
  type Workspace,
} from './support/tessera-process.js';
import { requestWithMethod } from '../support/harness.js';
import { writeSelfSignedCertificate } from './support/self-signed-certificate.js';

/** `tessera serve` on ports the system picks, so tests never collide. */
const serveOnAnyPorts = ['serve', '--port', '0', '--admin-port', '0'];

const workspaces: Workspace[] = [];
const servers: ServerProcess[] = [];

function workspace(env: Record<string, string> = {}): Workspace {
  const created = createWorkspace(env);
  workspaces.push(created);
  return created;
}

async function serve(ws: Workspace, args: readonly string[] = [], options?: Parameters<typeof startTessera>[2]) {
  const server = await startTessera(ws, args, options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop('SIGKILL')));
});
afterAll(() => {
  for (const ws of workspaces) ws.remove();
});

async function createClient(ws: Workspace, id: string): Promise<string> {
  const result = await runTessera(ws, ['clients', 'create', '--client-id', id, '--json']);
  expect(result.code).toBe(0);
  return String(parseJson(result).client_secret);
}

/**
 * A token request the server has taken in (its `Expect: 100-continue` answered) whose body is
 * held back until the caller ends it; `settled` is its answer or the connection's error code.
 */
function openHeldTokenRequest(port: string, clientId: string, secret: string, body: string) {
  const request = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/oauth2/token',
    agent: false,
    headers: {
      authorization: basic(clientId, secret),
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': Buffer.byteLength(body),
      expect: '100-continue',
    },
  });
  const continued = new Promise<void>((resolve) => request.once('continue', () => resolve()));
  const settled = new Promise<{ status: number; text: string } | { error: string }>((resolve) => {
    request.once('response', (res: IncomingMessage) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    request.once('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
  request.flushHeaders();
  return { request, continued, settled };
}

describe('start-up refusals', () => {
  it('refuses production without a key-encryption key, naming TESSERA_KEY_ENCRYPTION_KEY (exit 2)', async () => {
    const ws = workspace();
    const result = await runTessera(ws, serveOnAnyPorts, {
      env: { TESSERA_KEY_ENCRYPTION_KEY: '' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('production mode needs TESSERA_KEY_ENCRYPTION_KEY');
  });

  it('--dev generates a key-encryption key into the data folder, readable only by its owner, with a warning', async () => {
    const ws = workspace({ TESSERA_KEY_ENCRYPTION_KEY: '' });
    const server = await serve(ws, ['--dev']);
    const file = join(ws.dir, 'data', 'key-encryption-key');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(
      server
        .logs()
        .some((line) => line.level === 'warn' && String(line.msg).includes('generated a key-encryption key')),
    ).toBe(true);
    expect(server.output()).not.toContain(readFileSync(file, 'utf8').trim());
  });

  it('refuses an http:// issuer on a host other than localhost (exit 2)', async () => {
    const result = await runTessera(workspace(), [...serveOnAnyPorts, '--issuer', 'http://auth.example.com']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('uses http:// on a host other than localhost');
  });

  it('accepts it with --allow-insecure-issuer, and publishes that issuer', async () => {
    const server = await serve(workspace(), ['--issuer', 'http://auth.example.com', '--allow-insecure-issuer']);
    const metadata = (await (
      await fetch(`${server.publicUrl}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe('http://auth.example.com');
  });

  it('refuses a bad configuration value before binding anything (exit 2)', async () => {
    const result = await runTessera(workspace(), ['serve', '--port', 'eighty']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'server.port from flag --port: must be a whole-number TCP port from 0 to 65535 (got "eighty")',
    );
  });
});

describe('changing the key-encryption key', () => {
  it('refuses a KEK that cannot open the stored keys, re-seals under a new one given the old, then needs only the new one', async () => {
    const oldKek = 'aa'.repeat(32);
    const newKek = 'bb'.repeat(32);
    const ws = workspace({ TESSERA_KEY_ENCRYPTION_KEY: oldKek });
    const kidsOf = async (server: ServerProcess) =>
      ((await (await fetch(`${server.publicUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys
        .map((key) => key.kid)
        .sort();

    const original = await serve(ws);
    const kids = await kidsOf(original);
    expect(await original.stop('SIGTERM')).toBe(0);

    const wrong = await runTessera(ws, serveOnAnyPorts, {
      env: { TESSERA_KEY_ENCRYPTION_KEY: newKek },
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('stored keys cannot be opened');
    expect(wrong.stderr).toContain("in development mode the data folder's key-encryption-key file");
    expect(wrong.stderr).not.toContain(newKek);

    const changing = await serve(ws, [], {
      env: { TESSERA_KEY_ENCRYPTION_KEY: newKek, TESSERA_PREVIOUS_KEY_ENCRYPTION_KEYS: oldKek },
    });
    expect(changing.logs().some((line) => line.resealed === 2)).toBe(true);
    expect(await kidsOf(changing)).toEqual(kids);
    expect(await changing.stop('SIGTERM')).toBe(0);

    const changed = await serve(ws, [], { env: { TESSERA_KEY_ENCRYPTION_KEY: newKek } });
    expect(await kidsOf(changed)).toEqual(kids);
    expect(changed.output()).not.toContain(oldKek);
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, completes every in-flight request, and exits 0', async () => {
    const ws = workspace();
    const secret = await createClient(ws, 'inflight');
    const server = await serve(ws);
    const { port } = new URL(server.publicUrl);
    const body = 'grant_type=client_credentials';

    // Expect: 100-continue makes the server confirm it has the request before the body is sent.
    const pending: { request: ClientRequest; response: Promise<{ status: number; text: string }> }[] = [];
    const continued: Promise<void>[] = [];
    for (let index = 0; index < 3; index++) {
      const request = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/oauth2/token',
        headers: {
          authorization: basic('inflight', secret),
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          expect: '100-continue',
        },
      });
      continued.push(new Promise((resolve) => request.once('continue', () => resolve())));
      const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
        request.once('response', (res: IncomingMessage) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        request.once('error', reject);
      });
      pending.push({ request, response });
      request.flushHeaders();
    }
    await Promise.all(continued);

    server.child.kill('SIGTERM');
    while (!server.output().includes('"msg":"shutting down"')) await new Promise((resolve) => setTimeout(resolve, 20));

    // No new connection is accepted any more.
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);

    for (const { request } of pending) request.end(body);
    const responses = await Promise.all(pending.map(({ response }) => response));
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(JSON.parse(response.text)).toHaveProperty('access_token');
    }
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
  });

  it('README "Lifecycle": on SIGTERM cuts off an in-flight request still unfinished after server.shutdownTimeout, and still exits 0', async () => {
    const ws = workspace({ TESSERA_SHUTDOWN_TIMEOUT: '2000' });
    const secret = await createClient(ws, 'cut-off');
    const server = await serve(ws);
    const { port } = new URL(server.publicUrl);
    const body = 'grant_type=client_credentials';

    // Two requests the server has taken in (Expect: 100-continue, as above) but not yet read whole.
    const open = () => openHeldTokenRequest(port, 'cut-off', secret, body);
    const finishing = open();
    const stalled = open();
    let stalledSettled = false;
    void stalled.settled.then(() => (stalledSettled = true));
    await Promise.all([finishing.continued, stalled.continued]);

    server.child.kill('SIGTERM');
    while (!server.output().includes('"msg":"shutting down"')) await new Promise((resolve) => setTimeout(resolve, 20));

    // Within the timeout an in-flight request still finishes, while the stalled one is still open.
    finishing.request.end(body);
    const finished = await finishing.settled;
    expect(finished).toMatchObject({ status: 200 });
    expect(JSON.parse((finished as { text: string }).text)).toHaveProperty('access_token');
    expect(stalledSettled).toBe(false);

    // The stalled request never sends its body: once the timeout is over its connection is cut,
    // without an answer, and the server stops in order anyway.
    expect(await stalled.settled).toEqual({ error: 'ECONNRESET' });
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
  });

  it('README "Lifecycle": with server.shutdownTimeout 0, SIGTERM cuts off an in-flight request at once and exits 0', async () => {
    const ws = workspace({ TESSERA_SHUTDOWN_TIMEOUT: '0' });
    const secret = await createClient(ws, 'no-grace');
    const server = await serve(ws);
    const { port } = new URL(server.publicUrl);
    const body = 'grant_type=client_credentials';
    // Taken in (Expect: 100-continue answered) but its body is never sent.
    const { continued, settled } = openHeldTokenRequest(port, 'no-grace', secret, body);
    await continued;

    server.child.kill('SIGTERM');
    expect(await settled).toEqual({ error: 'ECONNRESET' });
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
  });

  it('stops on SIGINT with exit 0', async () => {
    const server = await serve(workspace());
    expect(await server.stop('SIGINT')).toBe(0);
  });
});

describe('logs', () => {
  it('log each request with id, endpoint, client id, outcome and latency, and never a secret, token or Authorization header', async () => {
    const ws = workspace();
    const server = await serve(ws);
    const secret = await createClient(ws, 'logged');
    const postSecret = await createClient(ws, 'logged-post');
    const wrongSecret = 'wrong-secret-that-must-not-be-logged';

    const issued = await requestToken(server.publicUrl, 'logged', secret);
    const token = String(issued.body.access_token);
    expect((await requestToken(server.publicUrl, 'logged', wrongSecret)).status).toBe(401);
    const viaPost = await fetch(`${server.publicUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'logged-post',
        client_secret: postSecret,
      }),
    });
    expect(viaPost.status).toBe(401); // registered for client_secret_basic, so the body form is refused
    const introspected = await fetch(`${server.publicUrl}/oauth2/introspect`, {
      method: 'POST',
      headers: { authorization: basic('logged', secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    expect(introspected.status).toBe(200);
    const revoked = await fetch(`${server.publicUrl}/oauth2/revoke`, {
      method: 'POST',
      headers: { authorization: basic('logged', secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    await fetch(`${server.adminUrl}/clients`, { headers: { authorization: `Bearer ${ws.adminToken}` } });
    // The admin token sent the wrong way, as a Basic user name: refused, and not logged as a client id.
    const basicAdmin = await fetch(`${server.adminUrl}/clients`, {
      headers: { authorization: basic(ws.adminToken, '') },
    });
    expect(basicAdmin.status).toBe(401);
    expect(await server.stop('SIGTERM')).toBe(0);

    const output = server.output();
    for (const value of [secret, postSecret, wrongSecret, token, ws.adminToken, ws.env.TESSERA_KEY_ENCRYPTION_KEY!]) {
      expect(output).not.toContain(value);
    }
    expect(output).not.toContain(basic('logged', secret).slice(6));
    expect(output.toLowerCase()).not.toContain('authorization');

    const requests = server.logs().filter((line) => line.msg === 'request');
    const tokenSuccess = requests.find((line) => line.endpoint === 'token' && line.outcome === 'success');
    expect(tokenSuccess).toMatchObject({
      listener: 'public',
      clientId: 'logged',
      status: 200,
      clientAddress: '127.0.0.1',
    });
    expect(typeof tokenSuccess?.requestId).toBe('string');
    expect(typeof tokenSuccess?.latencyMs).toBe('number');
    // Request lines are written without redaction: they must carry these fields and no others.
    for (const line of requests) {
      expect(Object.keys(line).sort()).toEqual(
        expect.arrayContaining(['level', 'time', 'pid', 'msg', 'requestId', 'listener', 'method', 'endpoint']),
      );
      expect(
        Object.keys(line).filter(
          (key) =>
            ![
              'level',
              'time',
              'pid',
              'msg',
              'requestId',
              'listener',
              'method',
              'endpoint',
              'clientId',
              'clientAddress',
              'status',
              'outcome',
              'latencyMs',
            ].includes(key),
        ),
      ).toEqual([]);
    }
    expect(requests.find((line) => line.outcome === 'invalid_client' && line.clientId === 'logged')).toMatchObject({
      status: 401,
    });
    expect(requests.find((line) => line.endpoint === 'introspection')).toMatchObject({
      outcome: 'success',
      clientId: 'logged',
    });
    expect(requests.find((line) => line.endpoint === 'revocation')).toMatchObject({ outcome: 'success' });
  });

  it('echoes a well-formed X-Request-Id and logs it', async () => {
    const server = await serve(workspace());
    const response = await fetch(`${server.publicUrl}/.well-known/jwks.json`, {
      headers: { 'x-request-id': 'trace-42' },
    });
    expect(response.headers.get('x-request-id')).toBe('trace-42');
    await server.stop('SIGTERM');
    expect(server.logs().some((line) => line.requestId === 'trace-42' && line.endpoint === 'jwks')).toBe(true);
  });
});

describe('client addresses behind a proxy', () => {
  it('ignores X-Forwarded-For unless trustProxy is set', async () => {
    const server = await serve(workspace());
    await fetch(`${server.publicUrl}/.well-known/jwks.json`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    await server.stop('SIGTERM');
    const line = server.logs().find((entry) => entry.endpoint === 'jwks');
    expect(line?.clientAddress).toBe('127.0.0.1');
  });

  it('with --trust-proxy 1 takes the address the one trusted proxy saw', async () => {
    const server = await serve(workspace(), ['--trust-proxy', '1']);
    await fetch(`${server.publicUrl}/.well-known/jwks.json`, {
      headers: { 'x-forwarded-for': '198.51.100.9, 203.0.113.7' },
    });
    await server.stop('SIGTERM');
    const line = server.logs().find((entry) => entry.endpoint === 'jwks');
    expect(line?.clientAddress).toBe('203.0.113.7');
  });

  it('takes the bare address from X-Forwarded-For entries written with a port', async () => {
    const server = await serve(workspace(), ['--trust-proxy', '1']);
    const forwarded = [
      ['trace-v4-port', '198.51.100.9, 203.0.113.7:4711', '203.0.113.7'],
      ['trace-v6-port', '198.51.100.9, [2001:db8::1]:443', '2001:db8::1'],
      ['trace-v6-brackets', '198.51.100.9, [2001:db8::2]', '2001:db8::2'],
      ['trace-v6-bare', '198.51.100.9, 2001:db8::3', '2001:db8::3'],
      ['trace-invalid', '198.51.100.9, not-an-address:80', 'unknown'],
    ] as const;
    for (const [requestId, header] of forwarded) {
      await fetch(`${server.publicUrl}/.well-known/jwks.json`, {
        headers: { 'x-forwarded-for': header, 'x-request-id': requestId },
      });
    }
    await server.stop('SIGTERM');
    for (const [requestId, , expected] of forwarded) {
      const line = server.logs().find((entry) => entry.requestId === requestId && entry.endpoint === 'jwks');
      expect(line?.clientAddress, requestId).toBe(expected);
    }
  });
});

describe('brute-force limits behind a proxy', () => {
  /** A token request for client `guarded`, as forwarded by a proxy for `address`. */
  const forwardedAttempt = (publicUrl: string, address: string, presented: string) =>
    fetch(`${publicUrl}/oauth2/token`, {
      method: 'POST',
      headers: {
        authorization: basic('guarded', presented),
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': address,
      },
      body: 'grant_type=client_credentials',
    });

  it('count failures by the forwarded address: the guessing address gets 429, the client from its own address does not', async () => {
    const ws = workspace({ TESSERA_FAILURES_PER_CLIENT_AND_ADDRESS: '2', TESSERA_FAILURES_PER_ADDRESS: '3' });
    const secret = await createClient(ws, 'guarded');
    const server = await serve(ws, ['--trust-proxy', 'true']);
    const attempt = (address: string, presented: string) => forwardedAttempt(server.publicUrl, address, presented);
    const statuses: number[] = [];
    for (let index = 0; index < 4; index++) statuses.push((await attempt('203.0.113.66', 'guess-number-one')).status);
    expect(statuses.slice(0, 2)).toEqual([401, 401]);
    const blocked = await attempt('203.0.113.66', secret);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await attempt('198.51.100.20', secret)).status).toBe(200);
  });

  it('count an address forwarded with a port in the same bucket as the bare address', async () => {
    const ws = workspace({ TESSERA_FAILURES_PER_CLIENT_AND_ADDRESS: '2', TESSERA_FAILURES_PER_ADDRESS: '3' });
    const secret = await createClient(ws, 'guarded');
    const server = await serve(ws, ['--trust-proxy', 'true']);
    const attempt = (address: string, presented: string) => forwardedAttempt(server.publicUrl, address, presented);
    expect((await attempt('203.0.113.66:4711', 'guess-number-one')).status).toBe(401);
    expect((await attempt('203.0.113.66:4712', 'guess-number-two')).status).toBe(401);
    expect((await attempt('203.0.113.66', secret)).status).toBe(429);
    expect((await attempt('[2001:db8::66]:443', 'guess-number-one')).status).toBe(401);
    expect((await attempt('[2001:db8::67]:443', 'guess-number-two')).status).toBe(401);
    expect((await attempt('2001:db8::68', secret)).status).toBe(429);
    expect((await attempt('198.51.100.20:4711', secret)).status).toBe(200);
  });

  it('RFC 7239 §4: with --forwarded-header forwarded, count failures by the for parameter the trusted proxy wrote in Forwarded', async () => {
    const ws = workspace({ TESSERA_FAILURES_PER_CLIENT_AND_ADDRESS: '2', TESSERA_FAILURES_PER_ADDRESS: '3' });
    const secret = await createClient(ws, 'guarded');
    const server = await serve(ws, ['--trust-proxy', '1', '--forwarded-header', 'forwarded']);
    const attempt = (forwarded: string, presented: string, requestId: string) =>
      fetch(`${server.publicUrl}/oauth2/token`, {
        method: 'POST',
        headers: {
          authorization: basic('guarded', presented),
          'content-type': 'application/x-www-form-urlencoded',
          forwarded,
          'x-request-id': requestId,
          // Not read with forwardedHeader forwarded.
          'x-forwarded-for': '198.51.100.20',
        },
        body: 'grant_type=client_credentials',
      });
    // The element before the proxy's is the client's own to choose: changing it changes nothing.
    const guesses = [];
    for (let index = 0; index < 2; index++) {
      const forwarded = `for=198.51.100.${index};proto=http, for=192.0.2.60;proto=https`;
      guesses.push((await attempt(forwarded, `guess-number-${index}`, `guess-${index}`)).status);
    }
    expect(guesses).toEqual([401, 401]);
    expect((await attempt('for=198.51.100.7, for=192.0.2.60', secret, 'blocked')).status).toBe(429);
    const other = await attempt('for=192.0.2.60, for="[2001:db8:cafe::17]:4711"', secret, 'other');
    expect(other.status).toBe(200);
    await server.stop('SIGTERM');
    const addressOf = (requestId: string) =>
      server.logs().find((line) => line.requestId === requestId && line.endpoint === 'token')?.clientAddress;
    expect(addressOf('guess-0')).toBe('192.0.2.60');
    expect(addressOf('other')).toBe('2001:db8:cafe::17');
  });
});

describe('protocol limits', () => {
  it('answers 431 to a header block over server.maxHeaderSize', async () => {
    const server = await serve(workspace({ TESSERA_MAX_HEADER_SIZE: '2048' }));
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${server.publicUrl}/.well-known/jwks.json`, {
        headers: { 'x-padding': 'a'.repeat(4096) },
      });
      request.once('response', (res) => resolve(res.statusCode ?? 0));
      request.once('error', reject);
      request.end();
    });
    expect(status).toBe(431);
  });

  it.each([
    ['TRACE', 'public', '/oauth2/token', 405, 'POST'],
    ['TRACE', 'public', '/oauth2/introspect', 405, 'POST'],
    ['TRACE', 'public', '/.well-known/jwks.json', 405, 'GET, HEAD'],
    ['TRACE', 'public', '/no-such-endpoint', 404, null],
    ['TRACE', 'admin', '/clients', 405, 'GET, HEAD, POST'],
    ['TRACE', 'admin', '/health/alive', 405, 'GET, HEAD'],
  ] as const)(
    'RFC 9110 §15.5.6: answers %s on the %s listener at %s with %i, and with the Allow of a path that exists',
    async (method, listener, path, status, allow) => {
      const ws = workspace();
      const server = await serve(ws);
      const answer = await requestWithMethod(
        `${listener === 'public' ? server.publicUrl : server.adminUrl}${path}`,
        method,
        { authorization: `Bearer ${ws.adminToken}` },
      );
      expect(answer.status).toBe(status);
      expect(answer.allow ?? null).toBe(allow);
      expect(JSON.parse(answer.body)).toHaveProperty('error');
    },
  );

  it.each(['TRACE', 'TRACK', 'CONNECT'])('answers %s with a 4xx, never a 5xx', async (method) => {
    const server = await serve(workspace());
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${server.publicUrl}/oauth2/token`, {
        method,
        path: method === 'CONNECT' ? '127.0.0.1:1' : '/oauth2/token',
      });
      request.once('response', (res) => resolve(res.statusCode ?? 0));
      request.once('connect', (res) => resolve(res.statusCode ?? 0));
      request.once('error', reject);
      request.end();
    });
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
  });

  it('answers 413 invalid_request to a body over server.maxBodyBytes', async () => {
    const server = await serve(workspace({ TESSERA_MAX_BODY_BYTES: '1024' }));
    const response = await fetch(`${server.publicUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&pad=${'a'.repeat(4096)}`,
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('slow clients', () => {
  it('cuts a client that does not finish its headers within server.headersTimeout (408)', async () => {
    const server = await serve(workspace({ TESSERA_HEADERS_TIMEOUT: '300', TESSERA_REQUEST_TIMEOUT: '300' }));
    const { port } = new URL(server.publicUrl);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n',
    );
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await once(socket, 'close');
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('README "Lifecycle": closes an idle kept-alive connection after server.keepAliveTimeout', async () => {
    const server = await serve(workspace({ TESSERA_KEEP_ALIVE_TIMEOUT: '300' }));
    const { port } = new URL(server.publicUrl);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    let serverEnded = false;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.once('end', () => (serverEnded = true));
    const closed = once(socket, 'close');
    // HTTP/1.1 without "Connection: close": the connection persists (RFC 9112 §9.3) until the server ends it.
    socket.write('GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const [hadError] = (await closed) as [boolean];
    // This client never ends its side: the close is the server's FIN, not an error or a reset.
    expect(hadError).toBe(false);
    expect(serverEnded).toBe(true);
    // One complete answer that kept the connection open, then nothing but the close.
    expect(received.match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 200 ']);
    expect(received).toMatch(/^connection: keep-alive\r$/im);
    expect(received).toContain('"keys"');
  });
});

describe('opaque tokens', () => {
  it('issues tsr_at_ tokens when tokens.format is opaque, and they introspect as active', async () => {
    const ws = workspace({
      TESSERA_ACCESS_TOKEN_FORMAT: 'opaque',
      TESSERA_HMAC_SECRETS: 'an-hmac-secret-of-at-least-32-bytes-0123',
    });
    const secret = await createClient(ws, 'opaque');
    const server = await serve(ws);
    const token = String((await requestToken(server.publicUrl, 'opaque', secret)).body.access_token);
    expect(token).toMatch(/^tsr_at_[\w-]{43}\.[\w-]{43}$/);
    const response = await fetch(`${server.publicUrl}/oauth2/introspect`, {
      method: 'POST',
      headers: { authorization: basic('opaque', secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    expect(await response.json()).toMatchObject({ active: true, client_id: 'opaque' });
  });

  it('refuses opaque tokens without an HMAC secret (exit 2)', async () => {
    const result = await runTessera(workspace({ TESSERA_ACCESS_TOKEN_FORMAT: 'opaque' }), serveOnAnyPorts);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('tokens.hmacSecrets');
  });
});

describe('TLS', () => {
  it('serves HTTPS from cert and key files', async () => {
    const ws = workspace();
    writeSelfSignedCertificate(ws.dir);
    const server = await serve(ws, ['--tls-cert', 'tls.crt', '--tls-key', 'tls.key', '--issuer', 'https://localhost']);
    expect(server.publicUrl).toMatch(/^https:\/\//);
    const body = await new Promise<string>((resolve, reject) => {
      const request = httpsRequest(`${server.publicUrl}/.well-known/oauth-authorization-server`, {
        ca: readFileSync(join(ws.dir, 'tls.crt')),
      });
      request.once('response', (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(text));
      });
      request.once('error', reject);
      request.end();
    });
    expect(JSON.parse(body)).toMatchObject({
      issuer: 'https://localhost',
      token_endpoint: 'https://localhost/oauth2/token',
    });
  });

  it('refuses a certificate without its key (exit 2)', async () => {
    const result = await runTessera(workspace(), [...serveOnAnyPorts, '--tls-cert', 'tls.crt']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('server.tlsCert and server.tlsKey');
  });
});

describe('an issuer with a path', () => {
  it('RFC 8414 §3.1 serves the metadata after the well-known path and the endpoints below the issuer path, counted by endpoint', async () => {
    const ws = workspace();
    const secret = await createClient(ws, 'tenant-client');
    const server = await serve(ws, ['--issuer', 'http://localhost/tenant']);
    const response = await fetch(`${server.publicUrl}/.well-known/oauth-authorization-server/tenant`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      issuer: 'http://localhost/tenant',
      token_endpoint: 'http://localhost/tenant/oauth2/token',
    });
    const token = await fetch(`${server.publicUrl}/tenant/oauth2/token`, {
      method: 'POST',
      headers: { authorization: basic('tenant-client', secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(token.status).toBe(200);
    const metrics = await (
      await fetch(`${server.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ws.adminToken}` } })
    ).text();
    expect(metrics).toMatch(/^tessera_http_requests_total\{listener="public",endpoint="token",outcome="success"\} 1$/m);
    expect(metrics).toMatch(
      /^tessera_http_requests_total\{listener="public",endpoint="metadata",outcome="success"\} 1$/m,
    );
  });
});

describe('workers', () => {
  it('--workers 2 serves from two processes, aggregates their metrics, and stops with exit 0', async () => {
    const ws = workspace();
    const secret = await createClient(ws, 'clustered');
    const server = await serve(ws, ['--workers', '2']);
    while ((server.output().match(/"listener":"public"/g) ?? []).length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const results = await Promise.all(
      Array.from({ length: 6 }, () => requestToken(server.publicUrl, 'clustered', secret)),
    );
    expect(results.map((result) => result.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const metrics = await (
      await fetch(`${server.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ws.adminToken}` } })
    ).text();
    expect(metrics).toMatch(/^tessera_http_requests_total\{listener="public",endpoint="token",outcome="success"\} 6$/m);
    expect(await server.stop('SIGTERM')).toBe(0);
    const pids = new Set(
      server
        .logs()
        .filter((line) => line.listener === 'public' && line.url)
        .map((line) => line.pid),
    );
    expect(pids.size).toBe(2);
  });

  it('--workers 2 without Redis counts failed client authentications once for the whole server, not once per worker (429 after the limit)', async () => {
    const ws = workspace({ TESSERA_FAILURES_PER_CLIENT_AND_ADDRESS: '3', TESSERA_FAILURES_PER_ADDRESS: '1000' });
    const secret = await createClient(ws, 'guarded');
    const server = await serve(ws, ['--workers', '2']);
    while ((server.output().match(/"listener":"public"/g) ?? []).length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // A new connection per request: the primary hands connections to the workers in turn.
    const onNewConnection = (password: string) =>
      new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
        const request = httpRequest(`${server.publicUrl}/oauth2/token`, {
          method: 'POST',
          agent: false,
          headers: {
            authorization: `Basic ${Buffer.from(`guarded:${password}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
            connection: 'close',
          },
        });
        request.once('response', (res) => {
          res.resume();
          res.once('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
        });
        request.once('error', reject);
        request.end('grant_type=client_credentials');
      });
    const answers = [];
    for (let attempt = 0; attempt < 6; attempt++) answers.push(await onNewConnection(`wrong-${attempt}`));
    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401, 429, 429, 429]);
    expect(Number(answers[3]!.retryAfter)).toBeGreaterThan(0);
    // The right secret from the blocked address is kept out too, on either worker.
    expect((await onNewConnection(secret)).status).toBe(429);
    expect((await onNewConnection(secret)).status).toBe(429);
    expect(await server.stop('SIGTERM')).toBe(0);
  });

  it('on one SQLite file, a secret rotated by the CLI stops working on every worker while the other clients stay cached', async () => {
    // The old secret is tried again until refused: let failures through to be answered 401.
    const ws = workspace({ TESSERA_FAILURES_PER_CLIENT_AND_ADDRESS: '1000', TESSERA_FAILURES_PER_ADDRESS: '1000' });
    const rotated = await createClient(ws, 'rotated');
    const untouched = await createClient(ws, 'untouched');
    const server = await serve(ws, ['--workers', '2']);
    while ((server.output().match(/"listener":"public"/g) ?? []).length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const hashChecks = async () => {
      const metrics = await (
        await fetch(`${server.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ws.adminToken}` } })
      ).text();
      return Number(/^tessera_secret_hash_checks_total (\d+)$/m.exec(metrics)?.[1]);
    };
    // Concurrent requests open their own connections, which the primary deals out to both workers.
    const statuses = async (id: string, secret: string) =>
      (await Promise.all(Array.from({ length: 8 }, () => requestToken(server.publicUrl, id, secret)))).map(
        (result) => result.status,
      );
    const allOk = Array.from({ length: 8 }, () => 200);
    const allRefused = Array.from({ length: 8 }, () => 401);

    // Warm both workers until a round of both clients needs no bcrypt comparison at all.
    let warm = false;
    for (let round = 0; round < 10 && !warm; round++) {
      const before = await hashChecks();
      expect(await statuses('rotated', rotated)).toEqual(allOk);
      expect(await statuses('untouched', untouched)).toEqual(allOk);
      warm = (await hashChecks()) === before;
    }
    expect(warm).toBe(true);

    const rotation = await runTessera(ws, ['clients', 'rotate-secret', 'rotated', '--json']);
    expect(rotation.code).toBe(0);
    const newSecret = String(parseJson(rotation).client_secret);
    const deadline = Date.now() + 5000;
    let refused = await statuses('rotated', rotated);
    while (refused.some((status) => status !== 401) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      refused = await statuses('rotated', rotated);
    }
    expect(refused).toEqual(allRefused);

    // The change named one client: the other's verified secret is still cached on both workers.
    const beforeUntouched = await hashChecks();
    expect(await statuses('untouched', untouched)).toEqual(allOk);
    expect(await hashChecks()).toBe(beforeUntouched);
    expect(await statuses('rotated', newSecret)).toEqual(allOk);
    expect(await server.stop('SIGTERM')).toBe(0);
  });
});

/**
 * Runs `tessera serve <args>` in `ws` and waits for it to exit, or kills it (SIGKILL, code null)
 * after `deadlineMs`: a server that never gives up must fail the test rather than hang it.
 */
function serveUntilExit(ws: Workspace, args: readonly string[], env: Record<string, string>, deadlineMs: number) {
  return new Promise<{ code: number | null; stdout: string; stderr: string; elapsedMs: number }>((resolve, reject) => {
    const begun = Date.now();
    const child = spawn(process.execPath, [binary, 'serve', ...args], {
      cwd: ws.dir,
      env: { ...ws.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - begun });
    });
  });
}

/** The pids of the workers the primary has logged as ready, in order. */
function readyWorkers(server: ServerProcess): number[] {
  return [...server.output().matchAll(/"workerPid":(\d+),"msg":"worker \d+ ready"/g)].map((match) => Number(match[1]));
}

/** Waits (up to 20 s) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('workers that cannot start or keep dying', () => {
  it('--workers 2 where no worker can start (opaque tokens without an HMAC secret) stops the primary with exit 2, saying why', async () => {
    const result = await serveUntilExit(
      workspace(),
      ['--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--workers', '2'],
      { TESSERA_ACCESS_TOKEN_FORMAT: 'opaque' },
      20_000,
    );
    expect(result.code).toBe(2);
    expect(result.elapsedMs).toBeLessThan(20_000);
    // The worker's own reason, as one process would give it, then the primary's.
    expect(result.stderr).toContain('tokens.hmacSecrets');
    expect(result.stdout).toMatch(
      /"level":"error".*"msg":"worker \d+ exited \(code 2\) before it was ready: start-up failed/,
    );
    expect(result.stdout).not.toContain('starting another');
  });

  it('--workers 2 on a public port already in use stops the primary with exit 1, saying why', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = holder.address() as AddressInfo;
      const result = await serveUntilExit(
        workspace(),
        ['--host', '127.0.0.1', '--port', String(port), '--admin-port', '0', '--workers', '2'],
        {},
        20_000,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('EADDRINUSE');
      expect(result.stdout).toMatch(/"msg":"worker \d+ exited \(code 1\) before it was ready: start-up failed/);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  it('replaces a serving worker that dies, and /health/ready answers 503 while no worker serves', async () => {
    const ws = workspace();
    const secret = await createClient(ws, 'replaced');
    // A fixed port: on port 0 the workers started once none is left would get a new one.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const server = await serve(ws, ['--workers', '2', '--port', String(port)]);
    await until(() => readyWorkers(server).length === 2);
    expect((await fetch(`${server.adminUrl}/health/ready`)).status).toBe(200);

    for (const pid of readyWorkers(server)) process.kill(pid, 'SIGKILL');
    let unready: { status: number; body: unknown } | undefined;
    await until(async () => {
      const response = await fetch(`${server.adminUrl}/health/ready`);
      unready = { status: response.status, body: await response.json() };
      return response.status === 503;
    });
    expect(unready).toEqual({
      status: 503,
      body: { status: 'unavailable', reason: 'no worker is serving the public port' },
    });

    await until(() => readyWorkers(server).length === 4);
    expect((await fetch(`${server.adminUrl}/health/ready`)).status).toBe(200);
    expect((await requestToken(server.publicUrl, 'replaced', secret)).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
    expect(await server.stop('SIGTERM')).toBe(0);
  });

  it('stops with exit 1 once serving workers have died five times within 60 s (a crash loop)', async () => {
    const server = await serve(workspace(), ['--workers', '2']);
    await until(() => readyWorkers(server).length === 2);
    for (const pid of readyWorkers(server)) process.kill(pid, 'SIGKILL');
    await until(() => readyWorkers(server).length === 4);
    for (const pid of readyWorkers(server).slice(2)) process.kill(pid, 'SIGKILL');
    await until(() => readyWorkers(server).length === 6);
    expect(server.child.exitCode).toBeNull();
    process.kill(readyWorkers(server)[4]!, 'SIGKILL');
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/"level":"error".*"msg":"workers keep dying: 5 exits within 60 s/);
    expect(server.output().match(/worker exited; starting another/g)).toHaveLength(4);
  });
});
