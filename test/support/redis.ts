// The Redis every development and CI machine runs at 127.0.0.1:6379, for tests of limits shared
// across instances.

import { Redis } from 'ioredis';

/**
 * A connected client, or undefined after a warning that `what` is skipped when Redis does not
 * answer. With CI=true a missing Redis is a failure, never a skip.
 */
export async function connectTestRedis(what: string): Promise<Redis | undefined> {
  const client = new Redis({
    host: '127.0.0.1',
    port: 6379,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (error) {
    client.disconnect();
    if (process.env.CI === 'true') throw new Error(`Redis at 127.0.0.1:6379 is required in CI: ${String(error)}`);
    console.warn(`Skipping ${what}: no Redis at 127.0.0.1:6379 (CI=true makes this a failure).`);
    return undefined;
  }
}
