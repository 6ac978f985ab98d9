// Property-based abuse of every endpoint: arbitrary bytes, headers and form bodies must get a
// well-formed RFC 6749 §5.2 error or a success, never a 5xx, a crash or a hang.

import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter, defaultRoutes } from '../../src/index.js';
import { startServer, type RunningServer } from '../support/harness.js';
import { createTestProvider, hashSecret } from '../support/test-provider.js';

interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/**
 * Writes `bytes` to a fresh connection and reads the answer until the server closes it
 * (`Connection: close`). When `mayBeIncomplete`, the bytes may announce more than they carry: after
 * two seconds the client ends its side, and a close without an answer then counts as the
 * server dropping an incomplete request (`undefined`).
 */
function exchange(port: number, bytes: Buffer, mayBeIncomplete = false): Promise<RawAnswer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let ended = false;
    const giveUp = mayBeIncomplete
      ? setTimeout(() => {
          ended = true;
          socket.end();
        }, 2000)
      : undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer within 10 s: the server hung'));
    }, 10_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => {
      // A reset after a complete answer is fine; without one it is a failure.
      if (chunks.length === 0) {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(giveUp);
      if (chunks.length === 0 && ended) {
        resolve(undefined);
        return;
      }
      try {
        resolve(parseAnswer(Buffer.concat(chunks)));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.write(bytes);
  });
}

function parseAnswer(raw: Buffer): RawAnswer {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`incomplete HTTP answer: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!status) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (headers['transfer-encoding']?.includes('chunked')) body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(status[1]), headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!size) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** RFC 6749 §5.2: `error` and `error_description` use %x20-21 / %x23-5B / %x5D-7E only. */
const errorCharset = /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * The checks every answer must pass, whatever was sent. `bareSuccess`: the endpoint answers
 * success with a bare 200 (RFC 7009 §2.2, revocation), which fuzzing reaches with good
 * credentials and any `token` value.
 */
function expectWellFormed(answer: RawAnswer | undefined, bareSuccess = false): asserts answer is RawAnswer {
  expect(answer, 'an answer to a complete request').toBeDefined();
  if (!answer) return;
  expect(answer.status, 'never a 5xx').toBeLessThan(500);
  expect(answer.status).toBeGreaterThanOrEqual(200);
  const type = answer.headers['content-type'] ?? '';
  if (bareSuccess && answer.status === 200 && type === '' && answer.body.byteLength === 0) {
    expect(answer.headers['cache-control']).toBe('no-store');
    return;
  }
  // Bytes node:http itself refuses before any handler runs get its bare 400/413/431.
  if (type === '' && [400, 413, 414, 431].includes(answer.status) && answer.body.byteLength === 0) return;
  expect(type).toMatch(/^application\/(json|jwk-set\+json)/);
  const body = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
  if (answer.status >= 400) {
    expect(typeof body.error).toBe('string');
    expect(String(body.error)).toMatch(errorCharset);
    if (body.error_description !== undefined) expect(String(body.error_description)).toMatch(errorCharset);
    if (answer.status === 401) expect(answer.headers['www-authenticate']).toBeTruthy();
    expect(answer.headers['cache-control']).toBe('no-store');
  }
}

const paths = {
  token: defaultRoutes.token,
  introspection: defaultRoutes.introspection,
  revocation: defaultRoutes.revocation,
  jwks: defaultRoutes.jwks,
  metadata: defaultRoutes.metadata,
};
const endpoints = Object.entries(paths);

const parameterNames = [
  'grant_type',
  'client_id',
  'client_secret',
  'scope',
  'audience',
  'token',
  'token_type_hint',
  'client_assertion',
  'client_assertion_type',
  'refresh_token',
  'resource',
];
const parameterValues = fc.oneof(
  fc.constantFrom('client_credentials', 'test-client', 'foobar', 'machine', 'access_token', 'refresh_token', ''),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** A form body: known and arbitrary names, values encoded properly or not at all. */
const formBody = fc
  .array(
    fc.tuple(fc.oneof(fc.constantFrom(...parameterNames), fc.string({ maxLength: 12 })), parameterValues, fc.boolean()),
    { maxLength: 8 },
  )
  .map((pairs) =>
    pairs
      .map(([name, value, encode]) =>
        encode ? `${encodeURIComponent(name)}=${encodeURIComponent(value)}` : `${name}=${value}`,
      )
      .join('&'),
  );

const headerValue = fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((value) => value.replace(/[\r\n]/g, ''));
const authorization = fc.oneof(
  fc.constant(undefined),
  fc
    .tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }))
    .map(([id, secret]) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`),
  fc.constant(`Basic ${Buffer.from('test-client:foobar').toString('base64')}`),
  headerValue.map((value) => `Basic ${value}`),
  headerValue.map((value) => `Bearer ${value}`),
  headerValue,
);
const contentType = fc.oneof(
  fc.constant('application/x-www-form-urlencoded'),
  fc.constant('application/x-www-form-urlencoded; charset=UTF-8'),
  fc.constant('application/json'),
  fc.constant(undefined),
  headerValue,
);
const method = fc.constantFrom('POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH');
const extraHeaders = fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/), headerValue), {
  maxLength: 4,
});

function requestBytes(options: {
  method: string;
  path: string;
  headers: readonly (readonly [string, string])[];
  body: Buffer;
}): Buffer {
  const lines = [`${options.method} ${options.path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of options.headers) lines.push(`${name}: ${value}`);
  if (options.method !== 'GET' && options.method !== 'HEAD') lines.push(`Content-Length: ${options.body.byteLength}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return options.method === 'GET' || options.method === 'HEAD' ? head : Buffer.concat([head, options.body]);
}

describe('fuzzed requests to every endpoint', () => {
  let server: RunningServer;
  let port: number;
  beforeAll(async () => {
    const { provider } = await createTestProvider({
      clients: [
        {
          id: 'machine',
          secretHash: await hashSecret('machine-secret'),
          grantTypes: ['client_credentials'],
          scopes: ['read'],
          audience: [],
        },
      ],
    });
    server = await startServer(createRouter(provider));
    port = Number(new URL(server.url).port);
  });
  afterAll(() => server.close());

  const runs = { numRuns: 200, interruptAfterTimeLimit: 60_000 };
  // HEAD answers have no body to check.
  const methodWithBody = method.filter((value) => value !== 'HEAD');

  it.each(endpoints)(
    '§5.2 %s: arbitrary form bodies, methods, credentials and content types get a well-formed answer',
    async (_name, path) => {
      await fc.assert(
        fc.asyncProperty(
          methodWithBody,
          formBody,
          authorization,
          contentType,
          extraHeaders,
          async (verb, body, auth, type, extra) => {
            const headers: [string, string][] = [
              ...extra.filter(([name]) => !/^(host|content-length|connection|transfer-encoding)$/i.test(name)),
            ];
            if (auth !== undefined) headers.push(['Authorization', auth]);
            if (type !== undefined) headers.push(['Content-Type', type]);
            expectWellFormed(
              await exchange(port, requestBytes({ method: verb, path, headers, body: Buffer.from(body, 'utf8') })),
              path === paths.revocation,
            );
          },
        ),
        runs,
      );
    },
  );

  it.each(endpoints)('§5.2 %s: arbitrary bytes as a form body get a well-formed answer', async (_name, path) => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), authorization, async (bytes, auth) => {
        const headers: [string, string][] = [['Content-Type', 'application/x-www-form-urlencoded']];
        if (auth !== undefined) headers.push(['Authorization', auth]);
        expectWellFormed(
          await exchange(port, requestBytes({ method: 'POST', path, headers, body: Buffer.from(bytes) })),
          path === paths.revocation,
        );
      }),
      runs,
    );
  });

  it.each(endpoints)('§5.2 %s: arbitrary bytes after the request line never crash the server', async (_name, path) => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), async (bytes) => {
        const head = Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, 'latin1');
        const answer = await exchange(port, Buffer.concat([head, Buffer.from(bytes), Buffer.from('\r\n\r\n')]), true);
        // Bytes that announce a body they never send leave an incomplete request: dropped, not answered.
        if (answer !== undefined) expectWellFormed(answer);
      }),
      { numRuns: 100, interruptAfterTimeLimit: 60_000 },
    );
  });

  it('§4.4 still issues tokens after the fuzzing', async () => {
    const answer = await exchange(
      port,
      requestBytes({
        method: 'POST',
        path: paths.token,
        headers: [
          ['Content-Type', 'application/x-www-form-urlencoded'],
          ['Authorization', `Basic ${Buffer.from('machine:machine-secret').toString('base64')}`],
        ],
        body: Buffer.from('grant_type=client_credentials&scope=read'),
      }),
    );
    expectWellFormed(answer);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString())).toHaveProperty('access_token');
  });
});
