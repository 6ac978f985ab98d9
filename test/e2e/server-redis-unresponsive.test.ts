// protection.redisUrl through `tessera serve`'s server when Redis stops answering without closing
// the connection (a frozen or partitioned Redis): the brute-force guard must fall back to memory,
// as README says it does "when Redis cannot answer", instead of holding every token request.

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import { addSecretClients, sendFrom, startMemoryServer, type Answer } from './support/in-process-server.js';

/**
 * A Redis that completes ioredis's connection handshake (INFO, CLIENT, SELECT) and then never
 * answers another command, on a connection that stays open.
 */
function startSilentRedis(): Promise<{
  server: Server;
  port: number;
  handshakes: () => number;
  unanswered: () => number;
}> {
  let handshakes = 0;
  let unanswered = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const parsed = parseCommand(pending);
        if (!parsed) break;
        pending = pending.subarray(parsed.length);
        const name = parsed.args[0]?.toUpperCase();
        if (name === 'INFO') {
          const info = '# Server\r\nredis_version:7.2.0\r\nloading:0\r\n';
          socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`);
          handshakes++;
        } else if (name === 'CLIENT' || name === 'SELECT') {
          socket.write('+OK\r\n');
        } else {
          unanswered++;
        }
      }
    });
  });
  server.on('close', () => {
    for (const socket of sockets) socket.destroy();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        handshakes: () => handshakes,
        unanswered: () => unanswered,
      }),
    );
  });
}

/** One RESP array of bulk strings from the start of `buffer`, or undefined while incomplete. */
function parseCommand(buffer: Buffer): { args: string[]; length: number } | undefined {
  let offset = 0;
  const line = (): string | undefined => {
    const end = buffer.indexOf('\r\n', offset);
    if (end < 0) return undefined;
    const text = buffer.toString('utf8', offset, end);
    offset = end + 2;
    return text;
  };
  const header = line();
  if (header === undefined) return undefined;
  const count = Number(header.slice(1));
  const args: string[] = [];
  for (let index = 0; index < count; index++) {
    const size = line();
    if (size === undefined) return undefined;
    const length = Number(size.slice(1));
    if (buffer.length < offset + length + 2) return undefined;
    args.push(buffer.toString('utf8', offset, offset + length));
    offset += length + 2;
  }
  return { args, length: offset };
}

/** Resolves once `condition` holds, or after `limitMs` so that the assertions after it report what went wrong. */
async function until(condition: () => boolean, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

let redis: Awaited<ReturnType<typeof startSilentRedis>>;
let server: RunningServer;

beforeAll(async () => {
  redis = await startSilentRedis();
  server = await startMemoryServer({
    TESSERA_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    TESSERA_SHUTDOWN_TIMEOUT: '100',
  });
  await addSecretClients(server, [['frozen-redis-client', 'the-right-secret']]);
  // The client is ready: commands now go to the socket instead of failing at once.
  await until(() => redis.handshakes() > 0);
  await new Promise((resolve) => setTimeout(resolve, 100));
});

afterAll(async () => {
  await server?.close();
  await new Promise((resolve) => redis?.server.close(resolve));
});

describe('a Redis that stops answering', () => {
  it('still gets token requests answered, with the failure counted in memory', async () => {
    const answered = sendFrom(server.public!.url, {
      path: '/oauth2/token',
      body: 'grant_type=client_credentials',
      basic: ['frozen-redis-client', 'a-wrong-secret'],
      from: '127.0.0.1',
    });
    const gaveUp = new Promise<'no answer'>((resolve) => setTimeout(() => resolve('no answer'), 10_000).unref());
    const answer: Answer | 'no answer' = await Promise.race([answered, gaveUp]);
    // The guard did ask Redis: the fallback is not just a client that never connected.
    expect(redis.unanswered()).toBeGreaterThan(0);
    expect(answer === 'no answer' ? answer : answer.status).toBe(401);
  });
});
