// Protocol-level abuse against the server's listener with the guarded provider: oversized
// headers, clients that send too slowly, idle kept-alive connections, and good clients served
// while slow ones hang on.

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

/**
 * The status lines and header block of every response in `answer`, a raw byte stream. A cut-off
 * client must get one answer, not one followed by another (e.g. a late 500 from the aborted request).
 */
function responsesIn(answer: string): { status: number; headers: string }[] {
  return [...answer.matchAll(/HTTP\/1\.1 (\d{3}) [^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n/g)].map((match) => ({
    status: Number(match[1]),
    headers: match[2]!,
  }));
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

  it('README "Protocol-level limits", RFC 9110 §15.5.9: answers 408 with Connection: close to a client that never finishes its headers within server.headersTimeout', async () => {
    const { socket, closed } = rawConnection(listener.port);
    socket.write('POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const timer = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200);
    const answer = await closed;
    clearInterval(timer);
    expect(answer).not.toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // §15.5.9: the server SHOULD send the "close" connection option with a 408; then it closes.
    expect(responsesIn(answer)).toEqual([{ status: 408, headers: expect.stringMatching(/^connection: close\r$/im) }]);
  });

  it('README "Protocol-level limits", RFC 9110 §15.5.9: answers 408 with Connection: close to a client that does not send its whole body within server.requestTimeout', async () => {
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
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(responsesIn(answer)).toEqual([{ status: 408, headers: expect.stringMatching(/^connection: close\r$/im) }]);
  });

  it('README "Protocol-level limits": closes an idle kept-alive connection after server.keepAliveTimeout', async () => {
    const socket = connect({ host: '127.0.0.1', port: listener.port });
    let answer = '';
    let serverEnded = false;
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.once('end', () => (serverEnded = true));
    const closed = new Promise<boolean>((resolve) => socket.once('close', resolve));
    const body = 'grant_type=client_credentials&client_id=test-client&client_secret=foobar';
    // HTTP/1.1 without "Connection: close": the connection persists (RFC 9112 §9.3) until the server ends it.
    socket.write(
      `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const hadError = await closed;
    // This client never ends its side: the close is the server's FIN, not an error or a reset.
    expect(hadError).toBe(false);
    expect(serverEnded).toBe(true);
    // One complete answer that kept the connection open, then nothing but the close.
    expect(responsesIn(answer)).toEqual([
      { status: 200, headers: expect.stringMatching(/^connection: keep-alive\r$/im) },
    ]);
    expect(answer).toContain('"access_token"');
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
