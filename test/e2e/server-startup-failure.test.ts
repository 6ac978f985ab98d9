// startServer's clean-up when start-up fails part way: whatever it had already opened (here the
// public listener) is closed again, so the port is free and nothing keeps the process alive.

import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/server/index.js';
import { startMemoryServer } from './support/in-process-server.js';

/** A loopback port that was free a moment ago. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Whether something can bind `port` on loopback now. */
async function canBind(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describe('startServer failing after the public listener is bound', () => {
  it('closes the public listener when the provider cannot be built (opaque tokens without an HMAC secret)', async () => {
    const port = await freePort();
    // The token strategy is chosen only once the public listener knows its port (for the issuer).
    await expect(
      startMemoryServer({ TESSERA_ACCESS_TOKEN_FORMAT: 'opaque', TESSERA_PORT: String(port) }),
    ).rejects.toBeInstanceOf(ConfigError);
    expect(await canBind(port)).toBe(true);
  });
});
