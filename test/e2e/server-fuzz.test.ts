// Arbitrary requests at both listeners of the server: every one gets an answer below 500, none hangs.

import { connect } from 'node:net';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig, startServer, type RunningServer } from '../../src/server/index.js';

let server: RunningServer;
const adminToken = 'fuzz-admin-token-0123456789';

beforeAll(async () => {
  const config = loadConfig({
    env: {
      DATABASE_URL: 'memory:',
      TESSERA_KEY_ENCRYPTION_KEY: 'ab'.repeat(32),
      TESSERA_ADMIN_TOKEN: adminToken,
      TESSERA_BCRYPT_COST: '4',
      TESSERA_HOST: '127.0.0.1',
      TESSERA_PORT: '0',
      TESSERA_ADMIN_PORT: '0',
      TESSERA_HEADERS_TIMEOUT: '2000',
      TESSERA_REQUEST_TIMEOUT: '2000',
      TESSERA_JANITOR_INTERVAL: '0',
    },
  });
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  server = await startServer(config, { logger: createLogger({ level: 'info', destination: quiet }) });
});
afterAll(() => server?.close());

/** Sends raw bytes and resolves with the status code of the answer (0 when the server closed without one). */
function sendRaw(port: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 10 s to ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`));
    }, 10_000);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (match && received.includes('\r\n\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      resolve(match ? Number(match[1]) : 0);
    });
    socket.end(bytes);
  });
}

const paths = [
  '/oauth2/token',
  '/oauth2/introspect',
  '/oauth2/revoke',
  '/.well-known/jwks.json',
  '/.well-known/oauth-authorization-server',
  '/clients',
  '/clients/x',
  '/clients/%E0%A4%A',
  '/clients/x/secret',
  '/keys',
  '/keys/rotate?immediate=true',
  '/metrics',
  '/health/ready',
  '/health/alive',
  '/%',
  '/a/../../b',
];
const methods = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'FOO'];
const headerValue = fc.string({ maxLength: 60 }).map((value) => value.replace(/[\r\n]/g, ''));

const request = fc.record({
  method: fc.constantFrom(...methods),
  path: fc.oneof(
    fc.constantFrom(...paths),
    fc.string({ maxLength: 40 }).map((value) => `/${encodeURI(value)}`),
  ),
  authorization: fc.oneof(
    fc.constant(undefined),
    fc.constant(`Bearer ${adminToken}`),
    headerValue.map((value) => `Bearer ${value}`),
    headerValue.map((value) => `Basic ${Buffer.from(value).toString('base64')}`),
    headerValue,
  ),
  contentType: fc.constantFrom(undefined, 'application/json', 'application/x-www-form-urlencoded', 'text/plain'),
  body: fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc.string({ maxLength: 200 }).map((text) => Buffer.from(text)),
    fc
      .dictionary(
        fc.constantFrom('client_id', 'scope', 'grant_types', 'token', 'grant_type', 'jwks'),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map((value) => Buffer.from(JSON.stringify(value))),
    fc.constantFrom('grant_type=client_credentials', 'token=abc&token=def', 'a=%zz').map((text) => Buffer.from(text)),
  ),
});

interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization?: string | undefined;
  readonly contentType?: string | undefined;
  readonly body: Buffer;
}

function toBytes(value: RawRequest): Buffer {
  const head = [
    `${value.method} ${value.path} HTTP/1.1`,
    'Host: 127.0.0.1',
    ...(value.authorization !== undefined ? [`Authorization: ${value.authorization}`] : []),
    ...(value.contentType ? [`Content-Type: ${value.contentType}`] : []),
    `Content-Length: ${value.body.byteLength}`,
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), value.body]);
}

describe('arbitrary requests', () => {
  it.each(['public', 'admin'] as const)('the %s listener answers every one below 500', async (listener) => {
    const port = (listener === 'public' ? server.public : server.admin)!.port;
    await fc.assert(
      fc.asyncProperty(request, async (value) => {
        const status = await sendRaw(port, toBytes(value));
        expect(status, JSON.stringify({ ...value, body: value.body.toString('latin1') })).toBeGreaterThanOrEqual(200);
        expect(status).toBeLessThan(500);
      }),
      {
        numRuns: 300,
        examples: [
          [
            {
              method: 'GET',
              path: '/clients/%E0%A4%A',
              authorization: `Bearer ${adminToken}`,
              contentType: undefined,
              body: Buffer.alloc(0),
            },
          ],
          [
            {
              method: 'POST',
              path: '/clients',
              authorization: `Bearer ${adminToken}`,
              contentType: 'application/json',
              body: Buffer.from('{"jwks":{"keys":[1]}}'),
            },
          ],
          [
            {
              method: 'TRACE',
              path: '/oauth2/token',
              authorization: undefined,
              contentType: undefined,
              body: Buffer.alloc(0),
            },
          ],
        ],
      },
    );
  });
});
