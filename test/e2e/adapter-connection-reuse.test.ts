// A kept-alive connection after an answer that left the request body unread: the adapter must
// drop the rest of the body (or close the connection), never leave the next request stuck behind it.

import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { fastifyHandler } from '../../src/http/fastify.js';
import { toNodeFetchHandler, toNodeHandler } from '../../src/http/node.js';
import { createRouter, type HttpHandler } from '../../src/provider/index.js';
import { readRequestBody } from '../../src/request/index.js';
import { createTestProvider } from '../support/test-provider.js';

let stop: (() => Promise<void>) | undefined;

afterEach(async () => {
  await stop?.();
  stop = undefined;
});

/** Serves `listener` on a loopback port; `closeToo` is closed with the server after the test. */
async function listen(listener: RequestListener, closeToo?: () => Promise<void>): Promise<number> {
  const server: Server = createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  stop = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
    await closeToo?.();
  };
  return (server.address() as AddressInfo).port;
}

/**
 * Sends `head` with a body of `size` bytes, then `next` (which asks the server to close after it)
 * on the same connection, writing only as fast as the server reads. Resolves with the status of
 * every answer once the server closes the connection; a server that stops reading before then
 * leaves it pending, and the test fails on its timeout.
 */
async function twoRequestsOnOneConnection(port: number, head: string, size: number, next: string) {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  // The server may cut the connection while the body is still being sent.
  socket.on('error', () => undefined);
  const done = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  socket.write(`${head}Content-Length: ${size}\r\n\r\n`);
  const chunk = Buffer.alloc(64 * 1024, 'a');
  for (let sent = 0; sent < size && !closed; sent += chunk.byteLength) {
    const part = chunk.subarray(0, Math.min(chunk.byteLength, size - sent));
    if (!socket.write(part)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), done]);
  }
  if (!closed) socket.write(next);
  await done;
  return {
    statuses: [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1])),
    text: received,
  };
}

const failing: HttpHandler = async (request) => {
  const { pathname } = new URL(request.url);
  if (pathname === '/fail-unread') throw new Error('failed before reading the body');
  if (pathname === '/fail-partly-read') {
    // Reads past a small limit, so the body is left partly read, and then fails.
    await readRequestBody(request, 1024);
    throw new Error('failed after reading part of the body');
  }
  return Response.json({ answered: pathname });
};

const next = 'GET /next HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';

describe.each([
  ['toNodeHandler', toNodeHandler(failing)],
  ['toNodeFetchHandler', toNodeFetchHandler(failing)],
])('a %s handler that fails', (_name, listener) => {
  it.each([
    ['before reading', 'within the provider’s 64 KiB limit', '/fail-unread', 32 * 1024],
    ['before reading', 'over that limit, within the 1 MiB the adapter drains', '/fail-unread', 512 * 1024],
    ['partway through', 'within the provider’s 64 KiB limit', '/fail-partly-read', 32 * 1024],
    ['partway through', 'over that limit, within the 1 MiB the adapter drains', '/fail-partly-read', 512 * 1024],
  ])(
    'RFC 9112 §9.3 answers 500 and then the next request on the same connection when it fails %s a body %s',
    async (_when, _size, path, size) => {
      const port = await listen(listener);
      const answer = await twoRequestsOnOneConnection(
        port,
        `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n`,
        size,
        next,
      );
      expect(answer.statuses).toEqual([500, 200]);
      expect(answer.text).toContain('{"error":"server_error"}');
      expect(answer.text).toContain('{"answered":"/next"}');
    },
  );

  it.each([
    ['before reading', '/fail-unread'],
    ['partway through', '/fail-partly-read'],
  ])(
    'answers 500 and then closes the connection when it fails %s a body over the 1 MiB the adapter drains',
    async (_when, path) => {
      const port = await listen(listener);
      const answer = await twoRequestsOnOneConnection(
        port,
        `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n`,
        2 * 1024 * 1024,
        next,
      );
      // As after any early answer: past the bound the client is cut off rather than read on.
      expect(answer.statuses).toEqual([500]);
    },
  );
});

describe('fastifyHandler behind a preParsing hook that replaced the body stream', () => {
  it('RFC 9112 §9.3 drains the body the hook took over, so the connection answers its next request', async () => {
    const reported: Error[] = [];
    // A limit above the body, so the provider goes to read it rather than refusing its length.
    const { provider } = await createTestProvider({
      config: { maxBodyBytes: 1024 * 1024, reportError: (error) => reported.push(error) },
    });
    const app = Fastify();
    // A hook that passes the body on through a stream of its own, as a decompressing one does.
    app.addHook('preParsing', async (_request, _reply, payload) => payload.pipe(new PassThrough()));
    await app.register(fastifyHandler(createRouter(provider, { token: '/token' })));
    await app.ready();
    const port = await listen(
      (req, res) => app.routing(req, res),
      () => app.close(),
    );
    const answer = await twoRequestsOnOneConnection(
      port,
      'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n',
      512 * 1024,
      'GET /token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    // The token request is refused as a set-up error; the GET after it gets the endpoint's 405.
    expect(answer.statuses).toEqual([500, 405]);
    expect(reported.map((error) => String(error.cause))).toEqual([
      expect.stringMatching(/preParsing hook replaced the request body/),
    ]);
  });
});
