import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { resolveClientAddress, startListener } from './http-listener.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';

/** Just what resolveClientAddress reads of a request: the peer and the forwarded headers. */
function request(peer: string | undefined, forwardedFor?: string | string[], forwarded?: string[]): IncomingMessage {
  const headers = forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor };
  const headersDistinct = forwarded === undefined ? {} : { forwarded };
  return { socket: { remoteAddress: peer }, headers, headersDistinct } as unknown as IncomingMessage;
}

describe('resolveClientAddress', () => {
  it('untrusted, the socket peer is the address whatever X-Forwarded-For says', () => {
    expect(resolveClientAddress(request('10.0.0.1', '203.0.113.7'), false)).toBe('10.0.0.1');
    expect(resolveClientAddress(request('10.0.0.1', '203.0.113.7'), 0)).toBe('10.0.0.1');
  });

  it('trusting one proxy, the entry that proxy wrote, not the ones the client wrote before it', () => {
    expect(resolveClientAddress(request('10.0.0.1', '198.51.100.9, 203.0.113.7'), 1)).toBe('203.0.113.7');
    expect(resolveClientAddress(request('10.0.0.1', '198.51.100.9, 203.0.113.7, 10.0.0.2'), 2)).toBe('203.0.113.7');
  });

  it('repeated header fields are one list, in order', () => {
    expect(resolveClientAddress(request('10.0.0.1', ['198.51.100.9', '203.0.113.7']), 1)).toBe('203.0.113.7');
  });

  it('trusting every proxy, the first IP address of the list', () => {
    expect(resolveClientAddress(request('10.0.0.1', 'unknown, 198.51.100.9, 203.0.113.7'), true)).toBe('198.51.100.9');
    expect(resolveClientAddress(request('10.0.0.1', 'unknown'), true)).toBe('10.0.0.1');
    expect(resolveClientAddress(request('10.0.0.1'), true)).toBe('10.0.0.1');
  });

  it('an entry a trusted proxy wrote that is not an address counts as a hop: the client-written entry before it is not taken', () => {
    // The proxy could not tell the client's address and wrote `unknown`; 198.51.100.9 came from the client.
    expect(resolveClientAddress(request('10.0.0.1', '198.51.100.9, unknown'), 1)).toBe('unknown');
    expect(resolveClientAddress(request('10.0.0.1', '198.51.100.9, _hidden, 10.0.0.2'), 2)).toBe('unknown');
  });

  it('empty list elements are not counted (RFC 9110 §5.6.1)', () => {
    expect(resolveClientAddress(request('10.0.0.1', '198.51.100.9, , 203.0.113.7,'), 1)).toBe('203.0.113.7');
  });

  it('fewer entries than trusted hops: the first one', () => {
    expect(resolveClientAddress(request('10.0.0.1', '203.0.113.7'), 3)).toBe('203.0.113.7');
    expect(resolveClientAddress(request('10.0.0.1'), 3)).toBe('10.0.0.1');
  });

  it.each([
    ['IPv4 with a port', '203.0.113.7:4711', '203.0.113.7'],
    ['bracketed IPv6 with a port', '[2001:db8::1]:443', '2001:db8::1'],
    ['bracketed IPv6 without a port', '[2001:db8::1]', '2001:db8::1'],
    ['bare IPv6', '2001:db8::1', '2001:db8::1'],
  ])('%s counts as the bare address', (_title, entry, expected) => {
    expect(resolveClientAddress(request('10.0.0.1', entry), 1)).toBe(expected);
  });

  it.each([
    ['a port past 65535', '203.0.113.7:99999'],
    ['port 0', '203.0.113.7:0'],
    ['a six-digit port', '203.0.113.7:000080'],
    ['an empty port', '203.0.113.7:'],
    ['an IPv4 address in brackets', '[203.0.113.7]:80'],
    ['an IPv4 address out of range', '203.0.113.700'],
    ['a host name', 'proxy.example'],
  ])('%s is not an address', (_title, entry) => {
    expect(resolveClientAddress(request('10.0.0.1', entry), 1)).toBe('unknown');
  });

  it('no peer address and no header: unknown', () => {
    expect(resolveClientAddress(request(undefined), 1)).toBe('unknown');
  });

  it('RFC 7239 §4: with forwardedHeader forwarded, the for parameter of Forwarded, and X-Forwarded-For is ignored', () => {
    const both = request('10.0.0.1', '198.51.100.9', ['for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"']);
    expect(resolveClientAddress(both, 1, 'forwarded')).toBe('2001:db8:cafe::17');
    expect(resolveClientAddress(both, true, 'forwarded')).toBe('192.0.2.60');
    expect(resolveClientAddress(both, false, 'forwarded')).toBe('10.0.0.1');
    expect(resolveClientAddress(request('10.0.0.1', '198.51.100.9'), 1, 'forwarded')).toBe('10.0.0.1');
  });

  it('by default, X-Forwarded-For alone: a Forwarded header is ignored', () => {
    expect(resolveClientAddress(request('10.0.0.1', '198.51.100.9', ['for=192.0.2.60']), 1)).toBe('198.51.100.9');
    expect(resolveClientAddress(request('10.0.0.1', undefined, ['for=192.0.2.60']), 1)).toBe('10.0.0.1');
  });
});

/** A public listener on a free loopback port that logs to `destination` and answers `{}`, calling `onHandled` first. */
function startTestListener(destination: PassThrough, metrics: ReturnType<typeof createMetrics>, onHandled: () => void) {
  return startListener({
    name: 'public',
    host: '127.0.0.1',
    port: 0,
    headersTimeout: 5000,
    requestTimeout: 10_000,
    keepAliveTimeout: 5000,
    maxHeaderSize: 16_384,
    maxBodyBytes: 65_536,
    trustProxy: false,
    logger: createLogger({ level: 'info', destination }),
    metrics,
    endpointOf: () => 'token',
    handler: () => {
      onHandled();
      return Promise.resolve(new Response('{}', { headers: { 'content-type': 'application/json' } }));
    },
  });
}

describe('startListener and a client that goes away mid-body', () => {
  async function cutOff(how: 'end' | 'reset') {
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    const metrics = createMetrics({ defaultMetrics: false });
    let handled = 0;
    const listener = await startTestListener(destination, metrics, () => handled++);
    try {
      const socket = connect(listener.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(
        'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=',
      );
      await delay(100);
      if (how === 'reset') socket.resetAndDestroy();
      else socket.end();
      socket.on('error', () => undefined);
      const deadline = Date.now() + 5000;
      while ((await metrics.requests.get()).values.length === 0 && Date.now() < deadline) await delay(20);
      await delay(200);
      return { counted: (await metrics.requests.get()).values, lines, handled };
    } finally {
      await listener.close(0);
    }
  }

  it.each(['end', 'reset'] as const)(
    'RFC 9112 §6.3: a body cut off by the client (%s) is counted once as aborted, never as a server error, and never reaches the handler',
    async (how) => {
      const { counted, lines, handled } = await cutOff(how);
      expect(counted.map(({ labels, value }) => ({ ...labels, value }))).toStrictEqual([
        { listener: 'public', endpoint: 'token', outcome: 'aborted', value: 1 },
      ]);
      expect(handled).toBe(0);
      const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logged.filter((line) => line.level === 'error')).toStrictEqual([]);
      expect(logged.find((line) => line.msg === 'request')).toMatchObject({ status: 499, outcome: 'aborted' });
    },
  );
});

describe('startListener and the Host field', () => {
  it.each([
    ['two Host field lines', 'Host: a.test\r\nHost: b.test\r\n', 'The request has more than one Host field.'],
    [
      'a Host that is not a host and port',
      'Host: a.test/x\r\n',
      'The Host field is not a host name or address with an optional port.',
    ],
  ])(
    'RFC 9112 §3.2: answers %s with 400 invalid_request, stamped and logged, without the handler',
    async (_title, fields, description) => {
      const lines: string[] = [];
      const destination = new PassThrough();
      destination.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
      let handled = 0;
      const listener = await startTestListener(destination, createMetrics({ defaultMetrics: false }), () => handled++);
      try {
        const socket = connect(listener.port, '127.0.0.1');
        await once(socket, 'connect');
        socket.end(`POST /token HTTP/1.1\r\n${fields}Content-Length: 0\r\nConnection: close\r\n\r\n`);
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
        await once(socket, 'close');
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        expect(answer).toMatch(/\r\nx-request-id: \S+\r\n/i);
        expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
          error: 'invalid_request',
          error_description: description,
        });
        expect(handled).toBe(0);
        const deadline = Date.now() + 5000;
        while (!lines.some((line) => line.includes('"msg":"request"')) && Date.now() < deadline) await delay(20);
        const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
        expect(logged.find((line) => line.msg === 'request')).toMatchObject({
          status: 400,
          outcome: 'invalid_request',
        });
      } finally {
        await listener.close(0);
      }
    },
  );
});
