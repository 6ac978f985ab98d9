// One suite for every mount: node:http, Express, Hono and Fastify hand the provider the same request.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type RequestListener } from 'node:http';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { Hono, type HonoRequest } from 'hono';
import {
  allMounts,
  basicAuthorization,
  postForm,
  requestWithMethod,
  startServer,
  type RunningServer,
} from '../../test/support/harness.js';
import { createTestProvider } from '../../test/support/test-provider.js';
import { createRouter } from '../provider/index.js';
import type { HttpHandler } from '../provider/index.js';
import { readRequestBody } from '../request/index.js';
import { expressHandler } from './express.js';
import { fastifyHandler } from './fastify.js';
import { honoHandler } from './hono.js';
import { toNodeHandler } from './node.js';

/** Echoes what the handler received, reading the body only for POST. */
const echo: HttpHandler = async (request) => {
  const url = new URL(request.url);
  if (url.pathname === '/throw') throw new Error('handler failure');
  if (url.pathname === '/limited') {
    // Reads a few bytes and gives up, as the provider does with an oversized body.
    await readRequestBody(request, 16);
    return Response.json({ error: 'too_large' }, { status: 413 });
  }
  if (url.pathname === '/early') return Response.json({ error: 'early' }, { status: 405 });
  const bytes = request.method === 'POST' ? await readRequestBody(request, 1024 * 1024) : new Uint8Array(0);
  const body = bytes === 'too-large' ? 'too-large' : new TextDecoder().decode(bytes);
  return Response.json(
    {
      method: request.method,
      path: url.pathname,
      query: url.search,
      body,
      contentType: request.headers.get('content-type'),
      authorization: request.headers.get('authorization'),
    },
    { headers: { 'x-echo': 'yes', 'cache-control': 'no-store' } },
  );
};

/**
 * {@link echo}, but throwing before it returns a promise at `/throw-now` and answering with a
 * plain Response at `/plain`: what a handler written in JavaScript, or cast, may do.
 */
const echoOrThrowAtOnce: HttpHandler = (request) => {
  const { pathname } = new URL(request.url);
  if (pathname === '/throw-now') throw new Error('handler failure before any promise');
  if (pathname === '/plain') return Response.json({ plain: true }) as unknown as Promise<Response>;
  return echo(request);
};

describe.each(allMounts)('the %s mount', (mount) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(echoOrThrowAtOnce, mount);
  });
  afterAll(() => server.close());

  it('passes method, path, query, headers and the raw body through unchanged', async () => {
    const response = await fetch(`${server.url}/oauth2/token?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic eDp5' },
      body: 'a=1&a=2&b=%zz',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      method: 'POST',
      path: '/oauth2/token',
      query: '?x=1',
      body: 'a=1&a=2&b=%zz',
      contentType: 'application/x-www-form-urlencoded',
      authorization: 'Basic eDp5',
    });
  });

  it('does not parse a JSON body on the way', async () => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"not":"parsed"',
    });
    expect(((await response.json()) as { body: string }).body).toBe('{"not":"parsed"');
  });

  it('passes a body with an unknown content type, or none', async () => {
    const typed = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-unknown' },
      body: 'abc',
    });
    expect(((await typed.json()) as { body: string }).body).toBe('abc');
    const untyped = await fetch(`${server.url}/token`, { method: 'POST', body: new Uint8Array([0x61]) });
    expect(((await untyped.json()) as { body: string }).body).toBe('a');
  });

  it('passes a body with a malformed content type to the provider, which judges it', async () => {
    for (const contentType of ['not a media type', ';;;', 'application/x-www-form-urlencoded; charset']) {
      const response = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: 'abc',
      });
      expect(response.status, contentType).toBe(200);
      expect(await response.json(), contentType).toMatchObject({ body: 'abc', contentType });
    }
  });

  it('writes the status and headers of the Response', async () => {
    const response = await fetch(`${server.url}/token`);
    expect(response.headers.get('x-echo')).toBe('yes');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    await response.arrayBuffer();
  });

  it.each(['/throw', '/throw-now'])(
    'answers 500 with a JSON server_error when the handler throws (at %s), and keeps serving',
    async (path) => {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(500);
      expect(((await response.json()) as { error: string }).error).toBe('server_error');
      expect((await fetch(`${server.url}/token`)).status).toBe(200);
    },
  );

  it('answers with a plain Response a handler returned instead of a promise', async () => {
    const response = await fetch(`${server.url}/plain`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ plain: true });
  });
  it('keeps serving after a client disconnects in the middle of a body', async () => {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
        'Content-Length: 1000\r\n\r\ngrant_type=client',
    );
    // Half of the body, then the client hangs up.
    socket.end();
    socket.resume();
    await once(socket, 'close');
    expect(await statusOnNewConnection(`${server.url}/token`)).toBe(200);
  });

  it('answers a request the handler answered without reading its large body', async () => {
    const response = await fetch(`${server.url}/early`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a'.repeat(512 * 1024),
    });
    expect(response.status).toBe(405);
    await response.arrayBuffer();
  });

  it('answers a request whose body the handler stopped reading', async () => {
    const response = await fetch(`${server.url}/limited`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a'.repeat(512 * 1024),
    });
    expect(response.status).toBe(413);
    await response.arrayBuffer();
    // A fresh connection: a mount may close the one whose body it gave up on.
    expect(await statusOnNewConnection(`${server.url}/token`)).toBe(200);
  });
});

describe.each(allMounts)('the provider through the %s mount', (mount) => {
  let server: RunningServer;
  beforeAll(async () => {
    const { provider } = await createTestProvider();
    server = await startServer(createRouter(provider, { token: '/token' }), mount);
  });
  afterAll(() => server.close());

  it('§5.1 sends the token response as JSON with its caching headers and exact length', async () => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa('test-client:foobar')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const text = await response.text();
    expect(Number(response.headers.get('content-length') ?? text.length)).toBe(
      new TextEncoder().encode(text).byteLength,
    );
    expect(JSON.parse(text)).toMatchObject({ token_type: 'bearer', expires_in: 1800 });
  });

  it("§5.2 answers a malformed Content-Type 400 invalid_request, not the framework's own error", async () => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'not a media type', authorization: `Basic ${btoa('test-client:foobar')}` },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('§5.2 sends an error response as JSON, and nothing but headers for HEAD', async () => {
    const get = await fetch(`${server.url}/token`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(await get.json()).toMatchObject({ error: 'invalid_request' });
    const head = await fetch(`${server.url}/token`, { method: 'HEAD' });
    expect(head.status).toBe(405);
    expect(await head.text()).toBe('');
  });
});

// Fastify mounted at the root, as the harness mounts it, leaves methods it does not route to the
// app's not-found handler; under a prefix it hands them on (see fastifyHandler below).
describe.each(allMounts.filter((mount) => mount !== 'fastify'))('the provider at the root of the %s mount', (mount) => {
  let server: RunningServer;
  beforeAll(async () => {
    const { provider } = await createTestProvider();
    server = await startServer(createRouter(provider, { token: '/token' }), mount);
  });
  afterAll(() => server.close());

  it.each(['PROPFIND', 'PURGE', 'QUERY'])(
    "RFC 9110 §15.5.6 answers %s, a method the framework may not route, with the provider's 405 and Allow",
    async (method) => {
      const answer = await requestWithMethod(`${server.url}/token`, method);
      expect(answer.status).toBe(405);
      expect(answer.allow).toBe('POST');
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_request' });
    },
  );
});

describe('toNodeHandler', () => {
  let url: string;
  const server = createServer(toNodeHandler(echo));
  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('sends no body for HEAD', async () => {
    const response = await fetch(`${url}/token`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('survives a Host header that is not a valid host', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const outgoing = request(`${url}/token`, { headers: { host: 'bad host[' } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
    expect([200, 400]).toContain(status);
  });
});

describe('expressHandler', () => {
  it('passes the full original URL when mounted under a path', async () => {
    const app = express();
    app.use('/oauth2', expressHandler(echo));
    const server = await startServerFor(app);
    try {
      const response = await fetch(`${server.url}/oauth2/token`);
      expect(((await response.json()) as { path: string }).path).toBe('/oauth2/token');
    } finally {
      await server.close();
    }
  });
});

describe('expressHandler behind a body parser', () => {
  it('answers 500 server_error and tells reportError why, instead of reading the consumed body as empty', async () => {
    const reported: Error[] = [];
    const { provider } = await createTestProvider({ config: { reportError: (error) => reported.push(error) } });
    const app = express();
    // The set-up README warns against: a body parser mounted ahead of the provider.
    app.use(express.urlencoded({ extended: false }));
    app.use('/oauth2', expressHandler(createRouter(provider, { token: '/oauth2/token' })));
    const server = await startServerFor(app);
    try {
      const response = await fetch(`${server.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=seed&client_secret=whatever',
      });
      expect(response.status).toBe(500);
      expect(await response.json()).toMatchObject({ error: 'server_error' });
      expect(JSON.stringify(reported.map((error) => String(error.cause)))).toMatch(
        /already read before it reached Tessera/,
      );
    } finally {
      await server.close();
    }
  });
});

describe('fastifyHandler', () => {
  it('leaves body parsing of routes outside its scope alone', async () => {
    const app = Fastify();
    app.post('/json', (request) => ({ parsed: request.body }));
    await app.register(fastifyHandler(echo), { prefix: '/oauth2' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const json = await fetch(`${base}/json`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      });
      expect(await json.json()).toEqual({ parsed: { a: 1 } });
      const token = await fetch(`${base}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      });
      expect(await token.json()).toMatchObject({ path: '/oauth2/token', body: '{"a":1}' });
    } finally {
      await app.close();
    }
  });
});

/** The seed client's token request, which the provider answers with a token. */
const tokenForm = 'grant_type=client_credentials';
const seedAuthorization = { authorization: basicAuthorization('test-client', 'foobar') };

/** A provider at /oauth2/token whose reported errors are collected. */
async function reportingRouter(): Promise<{ router: HttpHandler; reported: Error[] }> {
  const reported: Error[] = [];
  const { provider } = await createTestProvider({ config: { reportError: (error) => reported.push(error) } });
  return { router: createRouter(provider, { token: '/oauth2/token' }), reported };
}

/** What reportError was told caused each error it got. */
function causesOf(reported: readonly Error[]): string[] {
  return reported.map((error) => String(error.cause));
}

describe('fastifyHandler and methods Fastify does not route', () => {
  it.each(['PROPFIND', 'PURGE', 'QUERY'])(
    "RFC 9110 §15.5.6 under a prefix of its own answers %s with the provider's 405 and Allow",
    async (method) => {
      const { router } = await reportingRouter();
      const app = Fastify();
      await app.register(fastifyHandler(router), { prefix: '/oauth2' });
      await app.listen({ port: 0, host: '127.0.0.1' });
      try {
        const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
        const answer = await requestWithMethod(`${url}/oauth2/token`, method);
        expect([answer.status, answer.allow]).toEqual([405, 'POST']);
        expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_request' });
      } finally {
        await app.close();
      }
    },
  );

  it.each(['before', 'after'])(
    'registered at the root, leaves the app its own not-found handler, set %s it, for such methods',
    async (when) => {
      const { router } = await reportingRouter();
      const app = Fastify();
      const appNotFound = () => app.setNotFoundHandler((_request, reply) => reply.code(404).send({ app: 'not found' }));
      if (when === 'before') appNotFound();
      await app.register(fastifyHandler(router));
      if (when === 'after') appNotFound();
      await app.listen({ port: 0, host: '127.0.0.1' });
      try {
        const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
        const answer = await requestWithMethod(`${url}/oauth2/token`, 'PROPFIND');
        expect([answer.status, JSON.parse(answer.body)]).toEqual([404, { app: 'not found' }]);
        // The provider still serves every method Fastify routes.
        expect((await requestWithMethod(`${url}/oauth2/token`, 'GET')).status).toBe(405);
      } finally {
        await app.close();
      }
    },
  );
});

describe('fastifyHandler behind what the app registered first', () => {
  /** Serves the provider under /oauth2 in an app that `setup` prepared first. */
  async function startFastify(setup: (app: FastifyInstance) => void) {
    const { router, reported } = await reportingRouter();
    const app = Fastify();
    setup(app);
    await app.register(fastifyHandler(router), { prefix: '/oauth2' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      reported,
      close: () => app.close(),
    };
  }

  it('answers the token request although the app parses forms itself: its scope drops every parser it inherits', async () => {
    const server = await startFastify((app) => {
      // App-wide, as @fastify/formbody registers its parser.
      app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
        done(null, Object.fromEntries(new URLSearchParams(body as string))),
      );
      app.post('/form', (request) => ({ parsed: request.body }));
    });
    try {
      // The app's own route shows the parser is there and reads the body.
      expect((await postForm(`${server.url}/form`, 'a=1')).body).toEqual({ parsed: { a: '1' } });
      const answer = await postForm(`${server.url}/oauth2/token`, tokenForm, seedAuthorization);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ token_type: 'bearer' });
    } finally {
      await server.close();
    }
  });

  it('RFC 6749 §5.2 answers 500 server_error and tells reportError why when an onRequest hook read the body first', async () => {
    const server = await startFastify((app) => {
      app.addHook('onRequest', async (request) => {
        for await (const _chunk of request.raw);
      });
    });
    try {
      const answer = await postForm(`${server.url}/oauth2/token`, tokenForm, seedAuthorization);
      expect(answer.status).toBe(500);
      expect(answer.body).toMatchObject({ error: 'server_error' });
      expect(causesOf(server.reported)).toEqual([expect.stringMatching(/already read before it reached Tessera/)]);
    } finally {
      await server.close();
    }
  });

  it.each([
    [
      'reads the body to its end and hands on a copy',
      async (payload: Readable) => Readable.from([await bytesOf(payload)]),
    ],
    ['passes the body on through a stream of its own', async (payload: Readable) => payload.pipe(new PassThrough())],
  ])(
    'RFC 6749 §5.2 answers 500 server_error and tells reportError why when a preParsing hook %s, instead of reading what the hook left',
    async (_hook, replace) => {
      const server = await startFastify((app) => {
        app.addHook('preParsing', (_request, _reply, payload) => replace(payload));
      });
      try {
        // Larger than one socket read, so a hook still reading would share the body with the provider.
        const answer = await postForm(
          `${server.url}/oauth2/token`,
          `${tokenForm}&padding=${'a'.repeat(48 * 1024)}`,
          seedAuthorization,
        );
        expect(answer.status).toBe(500);
        expect(answer.body).toMatchObject({ error: 'server_error' });
        expect(causesOf(server.reported)).toEqual([
          expect.stringMatching(/preParsing hook replaced the request body stream/),
        ]);
      } finally {
        await server.close();
      }
    },
  );
});

describe('honoHandler behind middleware that read the body', () => {
  /** Serves `handler` under /oauth2 after a middleware that runs `read` on Hono's request. */
  async function startHono(handler: HttpHandler, read: (request: HonoRequest) => Promise<unknown>) {
    const app = new Hono();
    app.use(async (context, next) => {
      await read(context.req);
      await next();
    });
    app.all('/oauth2/*', honoHandler(handler));
    const listener = getRequestListener(app.fetch);
    return startServerFor((req, res) => void listener(req, res));
  }

  it.each([
    ['c.req.parseBody()', (request: HonoRequest) => request.parseBody()],
    ['c.req.arrayBuffer()', (request: HonoRequest) => request.arrayBuffer()],
    ['c.req.blob()', (request: HonoRequest) => request.blob()],
  ])('gives the provider the exact bytes Hono kept after %s', async (_read, read) => {
    const server = await startHono(echo, read);
    try {
      // A repeated parameter and bad percent-encoding: what a parsed form would have lost.
      const answer = await postForm(`${server.url}/oauth2/token`, 'a=1&a=2&b=%zz');
      expect(answer.body).toMatchObject({ path: '/oauth2/token', body: 'a=1&a=2&b=%zz' });
    } finally {
      await server.close();
    }
  });

  it('answers the token request after c.req.parseBody(), from the bytes Hono kept', async () => {
    const { router, reported } = await reportingRouter();
    const server = await startHono(router, (request) => request.parseBody());
    try {
      const answer = await postForm(`${server.url}/oauth2/token`, tokenForm, seedAuthorization);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ token_type: 'bearer' });
      expect(reported).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it.each([
    ['c.req.text()', (request: HonoRequest) => request.text()],
    ['c.req.formData()', (request: HonoRequest) => request.formData()],
    ['c.req.raw.text()', (request: HonoRequest) => request.raw.text()],
  ])(
    'RFC 6749 §5.2 answers 500 server_error and tells reportError why after %s, which keeps no exact bytes',
    async (_read, read) => {
      const { router, reported } = await reportingRouter();
      const server = await startHono(router, read);
      try {
        const answer = await postForm(`${server.url}/oauth2/token`, tokenForm, seedAuthorization);
        expect(answer.status).toBe(500);
        expect(answer.body).toMatchObject({ error: 'server_error' });
        expect(causesOf(reported)).toEqual([expect.stringMatching(/already read before it reached Tessera/)]);
      } finally {
        await server.close();
      }
    },
  );
});

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** GETs `url` over a connection of its own and returns the status. */
async function statusOnNewConnection(url: string): Promise<number> {
  const { request } = await import('node:http');
  return new Promise<number>((resolve, reject) => {
    const outgoing = request(url, { agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

async function startServerFor(listener: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
