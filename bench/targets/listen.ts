// Shared by the benchmark targets: listen on loopback and tell the runner the port.

import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts `server` on 127.0.0.1 at an ephemeral port and prints `READY <port>` for the runner. */
export async function listenForBenchmark(server: Server): Promise<void> {
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** The environment variable `name`, or a clear failure. */
export function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is required`);
  return value;
}
