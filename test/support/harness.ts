// Serves a fetch-style handler on an ephemeral loopback port through node:http or a framework.

import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Hono } from 'hono';
import { getRequestListener } from '@hono/node-server';
import Fastify from 'fastify';
import { toNodeHandler } from '../../src/http/node.js';
import { expressHandler } from '../../src/http/express.js';
import { honoHandler } from '../../src/http/hono.js';
import { fastifyHandler } from '../../src/http/fastify.js';
import type { HttpHandler } from '../../src/provider/index.js';

/** The ways a provider can be mounted; conformance suites run through each. */
export type Mount = 'node' | 'express' | 'hono' | 'fastify';
/** The mounts every conformance file runs through. */
export const mounts: readonly Mount[] = ['node', 'express'];
/** Every mount, for the adapter suites. */
export const allMounts: readonly Mount[] = ['node', 'express', 'hono', 'fastify'];

export interface RunningServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Starts `handler` on 127.0.0.1 at an ephemeral port behind the given mount. */
export async function startServer(handler: HttpHandler, mount: Mount = 'node'): Promise<RunningServer> {
  const { listener, close } = await listenerFor(handler, mount);
  const server = createServer(listener);
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
      await close?.();
    },
  };
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

async function listenerFor(
  handler: HttpHandler,
  mount: Mount,
): Promise<{ listener: Listener; close?: () => Promise<void> }> {
  switch (mount) {
    case 'node':
      return { listener: toNodeHandler(handler) };
    case 'express': {
      const app = express();
      app.use(expressHandler(handler));
      return { listener: app };
    }
    case 'hono': {
      const app = new Hono();
      app.all('*', honoHandler(handler));
      const listener = getRequestListener(app.fetch);
      return {
        listener: (req, res) => {
          void listener(req, res);
        },
      };
    }
    case 'fastify': {
      const app = Fastify();
      await app.register(fastifyHandler(handler));
      await app.ready();
      return { listener: (req, res) => app.routing(req, res), close: () => app.close() };
    }
  }
}

/** A token-endpoint answer: status, headers and the parsed JSON body. */
export interface JsonAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

/**
 * POSTs `body` as `application/x-www-form-urlencoded` (unless `headers` says otherwise) and reads
 * the JSON answer. A string body is sent byte for byte, so tests can send malformed forms.
 */
export async function postForm(
  url: string,
  body: string | Uint8Array<ArrayBuffer> | Record<string, string>,
  headers: Record<string, string> = {},
): Promise<JsonAnswer> {
  const payload = typeof body === 'string' || body instanceof Uint8Array ? body : new URLSearchParams(body).toString();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: payload,
  });
  return readJson(response);
}

/** Reads a response whose body must be a JSON object. */
export async function readJson(response: Response): Promise<JsonAnswer> {
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as Record<string, unknown> };
}

/** An `Authorization: Basic` header value, with id and secret form-url-encoded first (RFC 6749 §2.3.1). */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (text: string) => encodeURIComponent(text).replaceAll('%20', '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/**
 * Sends `method` to `url` through node:http, which, unlike fetch, sends any method token (TRACE,
 * PROPFIND, …), and reads the answer's status, `Allow` and body.
 */
export function requestWithMethod(
  url: string,
  method: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; allow: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers });
    request.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body }));
    });
    request.once('error', reject);
    request.end();
  });
}
