// Serves a fetch-style handler on an ephemeral loopback port through node:http or a framework.

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Hono } from 'hono';
import { getRequestListener } from '@hono/node-server';
import { toNodeHandler } from '../../src/http/node.js';
import { expressHandler } from '../../src/http/express.js';
import { honoHandler } from '../../src/http/hono.js';
import type { FetchHandler } from '../../src/provider/index.js';

/** The ways a provider can be mounted; conformance suites run through each. */
export type Mount = 'node' | 'express' | 'hono';
export const mounts: readonly Mount[] = ['node', 'express'];

export interface RunningServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Starts `handler` on 127.0.0.1 at an ephemeral port behind the given mount. */
export async function startServer(handler: FetchHandler, mount: Mount = 'node'): Promise<RunningServer> {
  const server = createServer(listenerFor(handler, mount));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

function listenerFor(handler: FetchHandler, mount: Mount) {
  switch (mount) {
    case 'node':
      return toNodeHandler(handler);
    case 'express': {
      const app = express();
      app.use(expressHandler(handler));
      return app;
    }
    case 'hono': {
      const app = new Hono();
      app.all('*', honoHandler(handler));
      return getRequestListener(app.fetch);
    }
  }
}
