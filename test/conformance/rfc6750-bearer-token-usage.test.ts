// RFC 6750: the resource-server middleware for node:http, Express, Fastify and Hono, over real HTTP.

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock, OAuthError } from '../../src/index.js';
import {
  createAccessTokenVerifier,
  createRemoteJwkSet,
  type AccessTokenVerifier,
  type BearerAuthOptions,
} from '../../src/resource-server/index.js';
import { nodeBearerAuth } from '../../src/http/node-bearer-auth.js';
import { expressBearerAuth } from '../../src/http/express-bearer-auth.js';
import { fastifyBearerAuth } from '../../src/http/fastify-bearer-auth.js';
import { honoBearerAuth } from '../../src/http/hono-bearer-auth.js';
import {
  apiAudience,
  badTokenKinds,
  forgeToken,
  invoiceClient,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../support/resource-server-fixtures.js';
import { testIssuer } from '../support/test-provider.js';
import { headerSafeTokenVariants } from '../support/token-variants.js';

type Framework = 'node' | 'express' | 'fastify' | 'hono';
const frameworks: readonly Framework[] = ['node', 'express', 'fastify', 'hono'];

const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
let as: AuthorizationServer;
const realm = 'invoices';

beforeAll(async () => {
  as = await startAuthorizationServer({ clock });
});
afterAll(() => as.close());

interface Api {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * An API with `GET /invoices` needing `invoices:read` and `POST /invoices` needing
 * `invoices:write`; each answers the verified client and scopes.
 */
async function startApi(framework: Framework): Promise<Api> {
  const verifier = createAccessTokenVerifier({
    issuer: testIssuer,
    audience: apiAudience,
    jwks: createRemoteJwkSet(as.jwksUri),
    clock,
  });
  const read: BearerAuthOptions = { verifier, realm, requiredScopes: ['invoices:read'] };
  const write: BearerAuthOptions = { verifier, realm, requiredScopes: ['invoices:write'] };
  const answer = (auth: { clientId: string; scopes: readonly string[] } | undefined) => ({
    client: auth?.clientId,
    scopes: auth?.scopes,
  });

  if (framework === 'fastify') {
    const app = Fastify();
    app.get('/invoices', { preHandler: fastifyBearerAuth(read) }, (request) => answer(request.auth));
    app.post('/invoices', { preHandler: fastifyBearerAuth(write) }, (request) => answer(request.auth));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  }

  let server: Server;
  switch (framework) {
    case 'node': {
      const guards = { GET: nodeBearerAuth(read), POST: nodeBearerAuth(write) };
      server = createServer((req, res) => {
        const guard = req.method === 'POST' ? guards.POST : guards.GET;
        void guard(req, res).then((allowed) => {
          if (!allowed) return;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(answer((req as typeof req & { auth: { clientId: string; scopes: string[] } }).auth)));
        });
      });
      break;
    }
    case 'express': {
      const app = express();
      app.get('/invoices', expressBearerAuth(read), (req, res) => {
        res.json(answer(req.auth));
      });
      app.post('/invoices', expressBearerAuth(write), (req, res) => {
        res.json(answer(req.auth));
      });
      server = createServer(app);
      break;
    }
    case 'hono': {
      const app = new Hono();
      app.get('/invoices', honoBearerAuth(read), (c) => c.json(answer(c.get('auth'))));
      app.post('/invoices', honoBearerAuth(write), (c) => c.json(answer(c.get('auth'))));
      const listener = getRequestListener(app.fetch);
      server = createServer((req, res) => void listener(req, res));
      break;
    }
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

/**
 * Sends `GET /invoices` over a raw connection with an `Authorization` line per value given (fetch
 * would join them into one field), and reads the answer until the server closes the connection.
 */
async function getWithAuthorizations(
  url: string,
  authorizations: readonly string[],
): Promise<{ status: number; wwwAuthenticate: string | null }> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  const fields = authorizations.map((value) => `Authorization: ${value}\r\n`).join('');
  socket.end(`GET /invoices HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n${fields}\r\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const head = Buffer.concat(chunks).toString('latin1').split('\r\n\r\n')[0]!;
  return {
    status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]),
    wwwAuthenticate: /^www-authenticate: ?(.*)$/im.exec(head)?.[1] ?? null,
  };
}

/** The parameters of a `WWW-Authenticate: Bearer …` challenge. */
function parseChallenge(header: string | null): Record<string, string> {
  expect(header).toMatch(/^Bearer /);
  const parameters: Record<string, string> = {};
  for (const match of header!.slice('Bearer '.length).matchAll(/([a-z_]+)="([^"]*)"/g)) {
    parameters[match[1]!] = match[2]!;
  }
  return parameters;
}

describe.each(frameworks)('resource-server middleware for %s', (framework) => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi(framework);
  });
  afterAll(() => api.close());

  const call = (authorization?: string, init: { method?: string; path?: string } = {}) =>
    fetch(`${api.url}${init.path ?? '/invoices'}`, {
      method: init.method ?? 'GET',
      headers: authorization === undefined ? {} : { Authorization: authorization },
    });

  it('§2.1 lets a request with a valid token through and hands the verified claims to the route', async () => {
    const response = await call(`Bearer ${await as.issue('invoices:read')}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ client: invoiceClient.id, scopes: ['invoices:read'] });
  });

  it('§2.1 matches the Bearer scheme without regard to case', async () => {
    const response = await call(`bearer ${await as.issue('invoices:read')}`);
    expect(response.status).toBe(200);
  });

  it('§3.1 answers a request without a token 401 with a challenge that has no error code', async () => {
    const response = await call();
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer realm="${realm}"`);
  });

  it('§3.1 treats another authentication scheme as no token', async () => {
    const response = await call('Basic aW52b2ljZS1jbGllbnQ6c2VjcmV0');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer realm="${realm}"`);
  });

  it.each(badTokenKinds)('§3.1 answers a token with %s 401 invalid_token', async (kind) => {
    const token = await forgeToken(kind, as.keys, clock.now());
    const response = await call(`Bearer ${token}`);
    expect(response.status).toBe(401);
    const challenge = parseChallenge(response.headers.get('www-authenticate'));
    expect(challenge).toMatchObject({ realm, error: 'invalid_token' });
    expect(challenge.error_description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/);
    const body = (await response.json()) as Record<string, string>;
    expect(body.error).toBe('invalid_token');
    expect(JSON.stringify(body)).not.toContain(token);
  });

  it('§3.1 and RFC 7515 §2 answer 401 invalid_token for a b64token variant of a valid token that decodes to the same bytes', async () => {
    const token = await as.issue('invoices:read');
    for (const [name, variant] of Object.entries(headerSafeTokenVariants(token))) {
      const response = await call(`Bearer ${variant}`);
      expect(response.status, name).toBe(401);
      expect(parseChallenge(response.headers.get('www-authenticate')).error, name).toBe('invalid_token');
    }
    expect((await call(`Bearer ${token}`)).status).toBe(200);
  });

  it('§3.1 answers a token without the route scope 403 insufficient_scope naming the scope', async () => {
    const response = await call(`Bearer ${await as.issue('invoices:read')}`, { method: 'POST' });
    expect(response.status).toBe(403);
    expect(parseChallenge(response.headers.get('www-authenticate'))).toMatchObject({
      realm,
      error: 'insufficient_scope',
      scope: 'invoices:write',
    });
    expect(((await response.json()) as Record<string, string>).error).toBe('insufficient_scope');
  });

  it('§3.1 lets the same token through a route whose scope it has', async () => {
    const response = await call(`Bearer ${await as.issue('invoices:read invoices:write')}`, { method: 'POST' });
    expect(response.status).toBe(200);
  });

  it.each([
    ['a Bearer scheme without a token', 'Bearer'],
    ['a token with characters outside b64token', 'Bearer abc,def'],
    ['a token followed by more words', 'Bearer abc def'],
    ['a tab between the scheme and the token', 'Bearer\tabc'],
  ])('§2.1 answers %s 400 invalid_request', async (_title, authorization) => {
    const response = await call(authorization);
    expect(response.status).toBe(400);
    expect(parseChallenge(response.headers.get('www-authenticate'))).toMatchObject({ realm, error: 'invalid_request' });
  });

  it('§3.1 answers a token sent both in the header and in the query 400 invalid_request', async () => {
    const token = await as.issue('invoices:read');
    const response = await call(`Bearer ${token}`, { path: `/invoices?access_token=${token}` });
    expect(response.status).toBe(400);
    expect(parseChallenge(response.headers.get('www-authenticate')).error).toBe('invalid_request');
  });

  it.each([
    ['the same valid token twice', (token: string) => [token, token]],
    ['a valid token, then another', (token: string) => [token, 'other']],
  ])('§2.1 answers Authorization sent twice (%s) 400 invalid_request', async (_title, tokens) => {
    const [first, second] = tokens(await as.issue('invoices:read'));
    const response = await getWithAuthorizations(api.url, [`Bearer ${first}`, `Bearer ${second}`]);
    expect(response.status).toBe(400);
    expect(parseChallenge(response.wwwAuthenticate)).toMatchObject({ realm, error: 'invalid_request' });
  });

  it.each([
    ['another scheme, then a Bearer token', (token: string) => ['Basic dGVzdDp0ZXN0', `Bearer ${token}`]],
    ['a Bearer token, then another scheme', (token: string) => [`Bearer ${token}`, 'Basic dGVzdDp0ZXN0']],
  ])('§2 and §3.1 answer Authorization sent twice (%s) 400 invalid_request', async (_title, fields) => {
    const response = await getWithAuthorizations(api.url, fields(await as.issue('invoices:read')));
    expect(response.status).toBe(400);
    expect(parseChallenge(response.wwwAuthenticate)).toMatchObject({ realm, error: 'invalid_request' });
  });

  it('§3.1 answers an expired token from this server 401 invalid_token once exp has passed', async () => {
    const token = await as.issue('invoices:read');
    const issuedAt = clock.now();
    try {
      clock.advance(600_000 + 10_000);
      const response = await call(`Bearer ${token}`);
      expect(response.status).toBe(401);
      expect(parseChallenge(response.headers.get('www-authenticate'))).toMatchObject({
        error: 'invalid_token',
        error_description: 'The access token expired.',
      });
    } finally {
      clock.set(issuedAt);
    }
  });
});

describe('RFC 6750 §3 challenges when another handler answered first', () => {
  /** Refuses every token, after a while: long enough for the handler before it to answer. */
  const slowRefusal: AccessTokenVerifier = {
    verify: () => new Promise((_resolve, reject) => setTimeout(() => reject(new OAuthError('invalidToken')), 60)),
  };

  async function listen(server: Server): Promise<string> {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('node:http: the guard resolves false and writes nothing, instead of rejecting', async () => {
    const guard = nodeBearerAuth({ verifier: slowRefusal, realm });
    let outcome: Promise<boolean> | undefined;
    const server = createServer((req, res) => {
      outcome = guard(req, res);
      // A timeout answers while the verifier is still at work.
      setTimeout(() => res.writeHead(503).end('timed out'), 10);
    });
    const url = await listen(server);
    try {
      const response = await fetch(`${url}/invoices`, { headers: { Authorization: 'Bearer abc' } });
      expect(response.status).toBe(503);
      expect(response.headers.get('www-authenticate')).toBeNull();
      await expect(outcome).resolves.toBe(false);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('Fastify: no error and no second answer once an earlier hook has answered', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    const logged: string[] = [];
    const app = Fastify({
      logger: { level: 'warn', stream: { write: (line: string) => void logged.push(line) } },
    });
    app.addHook('onRequest', async (_request, reply) => {
      setTimeout(() => {
        if (!reply.sent) void reply.code(503).send('timed out');
      }, 10);
    });
    app.get('/invoices', { preHandler: fastifyBearerAuth({ verifier: slowRefusal, realm }) }, () => 'ok');
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const response = await fetch(`${url}/invoices`, { headers: { Authorization: 'Bearer abc' } });
      expect(response.status).toBe(503);
      expect(response.headers.get('www-authenticate')).toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(unhandled).toEqual([]);
      expect(logged).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
      await app.close();
    }
  });

  it('Express: no unhandled rejection once a timeout middleware has answered', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    const app = express();
    app.get(
      '/invoices',
      (_req, res, next) => {
        setTimeout(() => {
          if (!res.headersSent) res.status(503).end('timed out');
        }, 10);
        next();
      },
      expressBearerAuth({ verifier: slowRefusal, realm }),
      (_req, res) => {
        res.end('ok');
      },
    );
    const server = createServer(app);
    const url = await listen(server);
    try {
      const response = await fetch(`${url}/invoices`, { headers: { Authorization: 'Bearer abc' } });
      expect(response.status).toBe(503);
      // Past the verifier's answer, and a turn more for a rejection to be reported.
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
      server.closeAllConnections();
      server.close();
    }
  });
});
