// The node:http adapter's own request: Headers.get semantics, a bounded body, a client that hangs up.

import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { OAuthError } from '../core/index.js';
import type { HttpHandler } from '../provider/index.js';
import { parseFormRequest, type HttpRequest } from '../request/index.js';
import { writeJson } from '../provider/index.js';
import { answerHalfClosedClients, sendWebResponse, toBufferedRequest, toNodeHandler } from './node.js';

let server: Server | undefined;

afterEach(async () => {
  if (!server) return;
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
  server = undefined;
});

async function serve(handler: HttpHandler): Promise<number> {
  server = createServer(toNodeHandler(handler));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Sends `head` (and the start of a body) on a raw socket and collects what the server answers. */
async function rawExchange(port: number, text: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(text);
  return readAnswer(socket);
}

function readAnswer(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      // One answer is all these tests read; its body is short JSON.
      const end = answer.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(answer);
      if (end >= 0 && length && answer.length >= end + 4 + Number(length[1])) {
        socket.destroy();
        resolve(answer);
      }
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(answer));
  });
}

function bodyOf(answer: string): unknown {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

const echoHeaders: HttpHandler = async (request) =>
  Response.json({
    authorization: request.headers.get('Authorization'),
    accept: request.headers.get('ACCEPT'),
    contentType: request.headers.get('content-type'),
    missing: request.headers.get('x-missing'),
    url: request.url,
  });

describe('the node:http request', () => {
  it('reads headers in any case and joins repeated fields with ", " as Headers.get does', async () => {
    const port = await serve(echoHeaders);
    const answer = await rawExchange(
      port,
      'GET /token?x=1 HTTP/1.1\r\nHost: example.test:8080\r\nAccept: a/b\r\naccept: c/d\r\n' +
        'Authorization: Basic one\r\nauthorization: Basic two\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n',
    );
    expect(bodyOf(answer)).toEqual({
      authorization: 'Basic one, Basic two',
      accept: 'a/b, c/d',
      contentType: 'text/plain',
      missing: null,
      url: 'http://example.test:8080/token?x=1',
    });
  });

  it('gives the same header values and URL as a web Request built from the same message', async () => {
    let seen: unknown;
    const port = await serve(async (request) => {
      seen = { url: request.url, authorization: request.headers.get('authorization') };
      return new Response(null, { status: 204 });
    });
    const response = await fetch(`http://127.0.0.1:${port}/oauth2/token`, { headers: { authorization: 'Basic eDp5' } });
    expect(response.status).toBe(204);
    expect(seen).toEqual({ url: `http://127.0.0.1:${port}/oauth2/token`, authorization: 'Basic eDp5' });
  });

  it('keeps the path when the Host field is a name the URL parser cannot take', async () => {
    // RFC 3986 allows a percent-encoded space in a registered name; a web URL's host does not.
    const port = await serve(echoHeaders);
    const answer = await rawExchange(port, 'GET /token HTTP/1.1\r\nHost: bad%20host\r\nConnection: close\r\n\r\n');
    expect((bodyOf(answer) as { url: string }).url).toBe('http://localhost/token');
  });

  const notHostAndPort = 'The Host field is not a host name or address with an optional port.';
  it.each([
    ['two Host field lines', 'Host: a.test\r\nHost: b.test\r\n', 'The request has more than one Host field.'],
    [
      'two Host lines of the same value',
      'Host: a.test\r\nhost: a.test\r\n',
      'The request has more than one Host field.',
    ],
    ['a space in the name', 'Host: bad host\r\n', notHostAndPort],
    ['an open bracket', 'Host: [::1\r\n', notHostAndPort],
    ['brackets around no IPv6 address', 'Host: [1:2:3]\r\n', notHostAndPort],
    ['a path', 'Host: a.test/x\r\n', notHostAndPort],
    ['user info', 'Host: user@a.test\r\n', notHostAndPort],
    ['two ports', 'Host: a.test:80:81\r\n', notHostAndPort],
    ['a port that is not digits', 'Host: a.test:http\r\n', notHostAndPort],
  ])(
    'RFC 9112 §3.2: answers 400 invalid_request to %s, without calling the handler or repeating the value',
    async (_title, fields, description) => {
      let called = false;
      const port = await serve(async () => {
        called = true;
        return new Response(null, { status: 204 });
      });
      const answer = await rawExchange(
        port,
        `POST /token HTTP/1.1\r\n${fields}Content-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(bodyOf(answer)).toEqual({ error: 'invalid_request', error_description: description });
      expect(called).toBe(false);
    },
  );

  it.each([
    ['an IPv6 literal and port', '[::1]:8080', 'http://[::1]:8080/token'],
    ['an IPv6 literal with a zone', '[fe80::1%25eth0]', undefined],
    ['a name with a trailing dot', 'a.test.', 'http://a.test./token'],
    ['an empty port', 'a.test:', 'http://a.test/token'],
    ['an empty value', '', 'http://localhost/token'],
  ])('RFC 9112 §3.2: takes a Host field holding %s', async (_title, host, expected) => {
    const port = await serve(echoHeaders);
    const answer = await rawExchange(port, `GET /token HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    if (expected !== undefined) expect((bodyOf(answer) as { url: string }).url).toBe(expected);
  });

  it('RFC 9112 §3.2: an HTTP/1.1 request without Host is refused with 400 (by node, which the adapter leaves on)', async () => {
    let called = false;
    const port = await serve(async () => {
      called = true;
      return new Response(null, { status: 204 });
    });
    const answer = await rawExchange(port, 'GET /token HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(called).toBe(false);
  });

  it('answers a target that is no URL at all as the root, not with a server error', async () => {
    const port = await serve(echoHeaders);
    const answer = await rawExchange(port, 'GET //?x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect((bodyOf(answer) as { url: string }).url).toBe('http://localhost/');
  });

  it.each([
    ['a plain target', 'localhost:8080', '/oauth2/token?scope=a+b', 'http://localhost:8080/oauth2/token?scope=a+b'],
    ['a default port', 'localhost:80', '/token', 'http://localhost/token'],
    ['an upper-case host', 'Example.TEST', '/token', 'http://example.test/token'],
    ['a short IPv4 form', '127.1', '/token', 'http://127.0.0.1/token'],
    ['dot segments', 'localhost', '/a/../token', 'http://localhost/token'],
    ['characters URL encodes', 'localhost', '/to"ken?q={x}', 'http://localhost/to%22ken?q={x}'],
  ])('builds the URL a web Request would have for %s', async (_title, host, target, expected) => {
    const port = await serve(echoHeaders);
    const answer = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect((bodyOf(answer) as { url: string }).url).toBe(expected);
  });

  it.each([
    ['a field name in any case', 'hOsT: api.example.test:8443\r\n', 'http://api.example.test:8443/token'],
    ['no Host field (HTTP/1.0 allows it)', '', 'http://localhost/token'],
    [
      'a Host field after the others',
      'Accept: */*\r\nX-Host: other.test\r\nHost: api.example.test\r\n',
      'http://api.example.test/token',
    ],
  ])('RFC 9110 §7.2: takes the authority from the Host field, with %s', async (_title, fields, expected) => {
    const port = await serve(echoHeaders);
    const answer = await rawExchange(port, `GET /token HTTP/1.0\r\n${fields}Connection: close\r\n\r\n`);
    expect((bodyOf(answer) as { url: string }).url).toBe(expected);
  });

  it.each(['GET', 'HEAD'])('gives a %s request an empty body', async (method) => {
    let body: Uint8Array | 'too-large' | undefined;
    const port = await serve(async (request) => {
      if ('readBody' in request) body = await request.readBody(10);
      return Response.json({ ok: true });
    });
    const response = await fetch(`http://127.0.0.1:${port}/token`, { method });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(method === 'HEAD' ? '' : '{"ok":true}');
    expect(body).toEqual(new Uint8Array(0));
  });

  it('gives the same bytes to every reader of the body, and a later larger limit reads on', async () => {
    const reads: (string | 'too-large')[] = [];
    const port = await serve(async (request) => {
      for (const limit of [4, 1000, 1000]) {
        const bytes = await readBoundedBody(request, limit);
        reads.push(bytes === 'too-large' ? bytes : new TextDecoder().decode(bytes));
      }
      return new Response(null, { status: 204 });
    });
    await fetch(`http://127.0.0.1:${port}/token`, { method: 'POST', body: 'grant_type=client_credentials' });
    expect(reads).toEqual(['too-large', 'grant_type=client_credentials', 'grant_type=client_credentials']);
  });

  it.each([
    ['in the packet that brings the headers', ['grant_type=client_credentials']],
    ['after the headers, in two later packets', ['', 'grant_type=client_', 'credentials']],
  ])('reads a body that arrives %s', async (_case, parts) => {
    const port = await serve(async (request) => {
      const bytes = await readBoundedBody(request, 1000);
      return Response.json({ body: bytes === 'too-large' ? bytes : new TextDecoder().decode(bytes) });
    });
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const answer = readAnswer(socket);
    const head = 'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Length: 29\r\n\r\n';
    for (const [index, part] of parts.entries()) {
      socket.write(index === 0 ? head + part : part);
      // Let the server parse what it has before the next part arrives.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(bodyOf(await answer)).toEqual({ body: 'grant_type=client_credentials' });
  });

  it('RFC 9112 §9.6 answers a client that half-closes after its request, once the server allows it', async () => {
    const port = await serve(async (request) => {
      await readBoundedBody(request, 1000);
      // Still working when the client's end arrives.
      await new Promise((resolve) => setTimeout(resolve, 50));
      return Response.json({ answered: true });
    });
    answerHalfClosedClients(server!);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const answer = readAnswer(socket);
    socket.end('POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab');
    expect(bodyOf(await answer)).toEqual({ answered: true });
  });

  it('§3.2 refuses an oversized body with 413 before the client has finished sending it', async () => {
    const port = await serve(async (request) => {
      try {
        await parseFormRequest(request, { maxBodyBytes: 1024 });
        return Response.json({ read: true });
      } catch (error) {
        const oauth = error as OAuthError;
        return Response.json({ error: oauth.code }, { status: oauth.status });
      }
    });
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    // Chunked, so no Content-Length tells the size up front; the body never ends.
    socket.write(
      'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n',
    );
    const answer = readAnswer(socket);
    socket.write(`800\r\n${'a'.repeat(0x800)}\r\n`);
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(bodyOf(text)).toEqual({ error: 'invalid_request' });
  });

  it('answers 500, not a 400 blaming the client, when something read the body before the adapter', async () => {
    server = createServer((req, res) => {
      // What a body parser mounted first does: it reads the stream to its end.
      req.resume();
      req.once('end', () =>
        toNodeHandler((request) => parseFormRequest(request, { maxBodyBytes: 1024 }).then(() => writeJson({})))(
          req,
          res,
        ),
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const answer = await rawExchange(
      port,
      'POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\nConnection: close\r\n\r\ngrant_type=client_credentials',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 500 /);
    expect(answer).toContain('"error":"server_error"');
  });

  it('turns a client hanging up mid-body into invalid_request, and keeps serving others', async () => {
    const outcomes: string[] = [];
    let started: () => void = () => undefined;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const port = await serve(async (request) => {
      started();
      try {
        await parseFormRequest(request, { maxBodyBytes: 64 * 1024 });
        outcomes.push('read');
        return Response.json({ read: true });
      } catch (error) {
        outcomes.push(error instanceof OAuthError ? error.code : 'crash');
        return Response.json({ error: 'invalid_request' }, { status: 400 });
      }
    });
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
        'Content-Length: 100\r\n\r\ngrant_type=cli',
    );
    await handlerStarted;
    socket.destroy();
    await waitUntil(() => outcomes.length > 0);
    expect(outcomes).toEqual(['invalid_request']);
    const next = await fetch(`http://127.0.0.1:${port}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(await next.json()).toEqual({ read: true });
  });
});

async function readBoundedBody(request: HttpRequest, limit: number): Promise<Uint8Array | 'too-large'> {
  if (!('readBody' in request)) throw new Error('expected the node:http request');
  return request.readBody(limit);
}

/** Polls a condition the server reaches on its own (no timing is asserted). */
async function waitUntil(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 500 && !condition(); attempt++) {
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('sendWebResponse', () => {
  it('adds extra headers to a JSON answer, replacing one of the same name, and sends the text unchanged', async () => {
    server = createServer((_req, res) => {
      const response = writeJson({ access_token: 'x' }, 200, { 'X-Request-Id': 'from-handler' });
      void sendWebResponse(res, response, 'POST', { 'x-request-id': 'stamped', connection: 'close' });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'POST' });
    expect(response.headers.get('x-request-id')).toBe('stamped');
    expect(response.headers.get('connection')).toBe('close');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength('{"access_token":"x"}')));
    expect(await response.text()).toBe('{"access_token":"x"}');
  });

  /** Serves `make()`'s response through sendWebResponse and returns what a client receives. */
  async function sent(make: () => Response, method = 'POST', extra?: Record<string, string>) {
    server = createServer((_req, res) => void sendWebResponse(res, make(), method, extra));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (name !== 'date' && name !== 'connection' && name !== 'keep-alive') headers[name] = value;
    });
    return { status: response.status, headers, text: await response.text() };
  }

  it('sends an untouched JSON answer from its parts, with extra headers and exact length', async () => {
    const answer = await sent(() => writeJson({ access_token: 'é' }, 201), 'POST', { 'x-request-id': 'r1' });
    expect(answer).toEqual({
      status: 201,
      headers: {
        'content-type': 'application/json;charset=UTF-8',
        'cache-control': 'no-store',
        pragma: 'no-cache',
        'x-request-id': 'r1',
        'content-length': String(Buffer.byteLength('{"access_token":"é"}')),
      },
      text: '{"access_token":"é"}',
    });
  });

  it('extra headers stamped on one answer are not kept for the next (the shared headers are copied)', async () => {
    await sent(() => writeJson({ first: true }), 'POST', { 'x-request-id': 'r1', connection: 'close' });
    const next = await sent(() => writeJson({ second: true }), 'POST');
    expect(next.headers).not.toHaveProperty('x-request-id');
    expect(next.headers['content-length']).toBe(String(Buffer.byteLength('{"second":true}')));
  });

  it('sends headers a handler changed on the web Response, not the parts it was written from', async () => {
    const answer = await sent(() => {
      const response = writeJson({ ok: true });
      response.headers.set('cache-control', 'private');
      response.headers.append('x-added', 'yes');
      return response;
    });
    expect(answer.headers['cache-control']).toBe('private');
    expect(answer.headers['x-added']).toBe('yes');
    expect(answer.text).toBe('{"ok":true}');
  });

  it.each([
    [
      'a web Response (the JWK Set)',
      () => new Response('{"keys":[]}', { headers: { 'content-type': 'application/json' } }),
    ],
    ['a written JSON answer (the metadata)', () => writeJson({ keys: [] })],
  ])(
    "RFC 9110 §9.3.2 answers HEAD for %s with the GET answer's Content-Length, keeping the connection for the next request",
    async (_title, make) => {
      const port = await serve(() => Promise.resolve(make()));
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write('HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const text = await new Promise<string>((resolve) => {
        let received = '';
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
          if (received.endsWith('{"keys":[]}')) resolve(received);
        });
        socket.on('close', () => resolve(received));
      });
      socket.destroy();
      const [head, get] = text.split(/(?=HTTP\/1\.1 )/);
      expect(get).toBeDefined();
      expect(head).toMatch(/^content-length: 11$/im);
      expect(head).not.toMatch(/^connection: close$/im);
      expect(head).not.toMatch(/^transfer-encoding:/im);
      expect(get).toMatch(/^content-length: 11$/im);
    },
  );

  it('RFC 9112 §6.3 sends an empty answer (revocation 200) with Content-Length: 0, not chunked', async () => {
    const port = await serve(() => Promise.resolve(new Response(null, { headers: { 'cache-control': 'no-store' } })));
    const answer = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    expect(answer).toMatch(/^content-length: 0$/im);
    expect(answer).not.toMatch(/^transfer-encoding:/im);
  });

  it('RFC 9110 §8.6 sends no Content-Length with a 204', async () => {
    const port = await serve(() => Promise.resolve(new Response(null, { status: 204 })));
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    await once(socket, 'close');
    expect(answer).toMatch(/^HTTP\/1\.1 204/);
    expect(answer).not.toMatch(/^content-length:/im);
  });

  it("answers HEAD with the JSON answer's status and headers and no body", async () => {
    const answer = await sent(() => writeJson({ error: 'invalid_request' }, 400), 'HEAD');
    expect(answer.status).toBe(400);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.text).toBe('');
  });
});

describe('toBufferedRequest', () => {
  it('reads headers, URL and a body already read, within the limit asked, and keeps a method fetch refuses (RFC 9110 §9.3.8 TRACE)', async () => {
    const seen: unknown[] = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void (async () => {
          const request = toBufferedRequest(req, Buffer.concat(chunks));
          seen.push(
            request.method,
            request.url,
            request.headers.get('X-TWICE'),
            Buffer.from((await request.readBody(64)) as Uint8Array).toString(),
            await request.readBody(3),
          );
          res.end();
        })();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    await rawExchange(
      port,
      `POST /token?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Twice: a\r\nx-twice: b\r\nContent-Length: 9\r\nConnection: close\r\n\r\ngrant=abc`,
    );
    expect(seen).toEqual(['POST', `http://127.0.0.1:${port}/token?x=1`, 'a, b', 'grant=abc', 'too-large']);
    seen.length = 0;
    await rawExchange(port, `TRACE /echo HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    expect(seen).toEqual(['TRACE', `http://127.0.0.1:${port}/echo`, null, '', Buffer.alloc(0)]);
  });
});
