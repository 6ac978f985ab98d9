// Protocol-level abuse against the server's listener with the guarded provider: oversized
// headers, clients that send too slowly, and good clients served while slow ones hang on.

import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter } from '../../src/index.js';
import { createBruteForceGuard, createGuardedHandler } from '../../src/protection/index.js';
import { createLogger, createMetrics, startListener, type RunningListener } from '../../src/server/index.js';
import { createTestProvider } from '../support/test-provider.js';

// The server's defaults are 16 KiB, 10 s and 30 s; shorter timeouts keep the test quick.
const limits = { maxHeaderSize: 16 * 1024, headersTimeout: 1000, requestTimeout: 2000, keepAliveTimeout: 1000 };

/** Opens a raw connection and collects everything the server sends until it closes. */
function rawConnection(port: number): { socket: Socket; closed: Promise<string> } {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<string>((resolve) => {
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', () => undefined);
  });
  return { socket, closed };
}

describe('protocol limits of the listener', () => {
  let listener: RunningListener;
  beforeAll(async () => {
    const { provider } = await createTestProvider();
    const guarded = createGuardedHandler(createRouter(provider, { token: '/token' }), {
      guard: createBruteForceGuard(),
    });
    listener = await startListener({
      name: 'public',
      host: '127.0.0.1',
      port: 0,
      ...limits,
      maxBodyBytes: 64 * 1024,
      trustProxy: false,
      logger: createLogger({
        level: 'silent',
        destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
      }),
      metrics: createMetrics({ defaultMetrics: false }),
      endpointOf: (pathname) => (pathname === '/token' ? 'token' : 'other'),
      handler: (request, context) => guarded(request, context.clientAddress),
    });
  });
  afterAll(() => listener.close(1000));

  it('RFC 6585 §5 answers 431 to a header block over the limit, without reaching the provider', async () => {
    const { socket, closed } = rawConnection(listener.port);
    socket.write(
      `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(limits.maxHeaderSize + 1)}\r\n\r\n`,
    );
    const answer = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('RFC 9110 §15.5.9 cuts off a client that never finishes its headers', async () => {
    const { socket, closed } = rawConnection(listener.port);
    socket.write('POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const timer = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200);
    const answer = await closed;
    clearInterval(timer);
    expect(answer).not.toMatch(/^HTTP\/1\.1 200 /);
    if (answer !== '') expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('RFC 9110 §15.5.9 cuts off a client that sends its body too slowly', async () => {
    const { socket, closed } = rawConnection(listener.port);
    const body = 'grant_type=client_credentials&client_id=test-client&client_secret=foobar';
    socket.write(
      `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    const timer = setInterval(() => {
      // One byte every 200 ms: the whole body would take about 15 s.
      if (socket.writable && sent < body.length) socket.write(body[sent++]!);
    }, 200);
    const answer = await closed;
    clearInterval(timer);
    expect(sent).toBeLessThan(body.length);
    expect(answer).not.toMatch(/^HTTP\/1\.1 200 /);
  });

  it('RFC 9112 §9.6 answers a request sent with "close" although the client half-closed right after it', async () => {
    const { socket, closed } = rawConnection(listener.port);
    // A wrong secret is always hashed, so the answer is still being made when the end arrives.
    const body = 'grant_type=client_credentials&client_id=test-client&client_secret=wrong';
    socket.end(
      `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    const answer = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toContain('"error":"invalid_client"');
  });

  it('keeps issuing tokens to a good client while slow clients hold connections open', async () => {
    const slow = Array.from({ length: 20 }, () => rawConnection(listener.port));
    for (const { socket } of slow) socket.write('POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await fetch(`${listener.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=test-client&client_secret=foobar',
      });
      expect(response.status).toBe(200);
    }
    const answers = await Promise.all(slow.map(({ closed }) => closed));
    for (const answer of answers) expect(answer).not.toMatch(/^HTTP\/1\.1 200 /);
  });
});
