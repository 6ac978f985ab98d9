// node:http <-> web Request/Response, so a fetch-style handler serves node:http and frameworks built on it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { FetchHandler } from '../provider/index.js';

/** Turns a node:http request into a web Request; the body stays a stream, read only if needed. */
export function toWebRequest(req: IncomingMessage, url = req.url ?? '/'): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    headers.append(raw[index]!, raw[index + 1]!);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const scheme = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  let target: URL;
  try {
    target = new URL(url, `${scheme}://${req.headers.host ?? 'localhost'}`);
  } catch {
    // A hostile Host header must not take the request down; the path is all routing needs.
    target = new URL(url.startsWith('/') ? url : '/', `${scheme}://localhost`);
  }
  return new Request(target, {
    method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : null,
    duplex: 'half',
  } as RequestInit);
}

/** Writes a web Response to a node:http response. */
export async function sendWebResponse(res: ServerResponse, response: Response, method?: string): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const body = method === 'HEAD' || response.body === null ? undefined : Buffer.from(await response.arrayBuffer());
  if (body) headers['content-length'] = String(body.byteLength);
  res.writeHead(response.status, headers);
  res.end(body);
}

/**
 * Adapts a fetch-style handler to node:http's `(req, res)`.
 *
 * @example
 * createServer(toNodeHandler(createRouter(provider))).listen(8080);
 */
export function toNodeHandler(handler: FetchHandler) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(handler, req, res, req.url);
  };
}

/** Runs `handler` for one node request; a failure inside the handler still gets an answer. */
export function handle(handler: FetchHandler, req: IncomingMessage, res: ServerResponse, url?: string): void {
  let request: Request;
  try {
    request = toWebRequest(req, url);
  } catch {
    sendFallback(res, 400, 'invalid_request');
    return;
  }
  handler(request)
    .then((response) => sendWebResponse(res, response, req.method))
    .catch(() => sendFallback(res, 500, 'server_error'));
}

function sendFallback(res: ServerResponse, status: number, error: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error }));
}
