// `tessera serve`'s server started inside the test process on a memory store, and requests sent
// to it from a chosen loopback address, for tests of the server's settings.

import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { bcryptHasher } from '../../../src/secrets/index.js';
import { createLogger, loadConfig, startServer, type RunningServer } from '../../../src/server/index.js';

/**
 * Starts the server with a memory store, ephemeral ports, no janitor and a silent log; `env`
 * adds or overrides settings as environment variables would.
 */
export function startMemoryServer(
  env: Record<string, string> = {},
  options: { readonly publicOnly?: boolean } = {},
): Promise<RunningServer> {
  return startServer(
    loadConfig({
      env: {
        DATABASE_URL: 'memory:',
        TESSERA_KEY_ENCRYPTION_KEY: 'cd'.repeat(32),
        TESSERA_HOST: '127.0.0.1',
        TESSERA_PORT: '0',
        TESSERA_ADMIN_PORT: '0',
        TESSERA_JANITOR_INTERVAL: '0',
        ...env,
      },
    }),
    {
      logger: createLogger({
        level: 'silent',
        destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
      }),
      ...(options.publicOnly ? { publicOnly: true } : {}),
    },
  );
}

/** Registers client_credentials clients with bcrypt hashes of their secrets (cost 4 unless said). */
export async function addSecretClients(
  server: RunningServer,
  clients: readonly (readonly [id: string, secret: string])[],
  cost = 4,
): Promise<void> {
  const hasher = bcryptHasher({ cost });
  for (const [id, secret] of clients) {
    await server.storage.createClient({
      id,
      secretHash: await hasher.hash(secret),
      grantTypes: ['client_credentials'],
      scopes: [],
      audience: [],
    });
  }
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** Sends one request from `from` (any 127.x.y.z reaches a server on 127.0.0.1), on a fresh connection. */
export function sendFrom(
  url: string,
  options: { method?: string; path?: string; body?: string; basic?: [string, string]; from: string },
): Promise<Answer> {
  const target = new URL(options.path ?? '/token', url);
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  if (options.basic) {
    // RFC 6749 §2.3.1: the id and secret are form-encoded before they go into the Basic header.
    const [id, secret] = options.basic.map(encodeURIComponent);
    headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      target,
      { method: options.method ?? 'POST', headers, localAddress: options.from, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
