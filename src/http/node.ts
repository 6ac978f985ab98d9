// node:http <-> web Request/Response, so a fetch-style handler serves node:http and frameworks built on it.

import type { IncomingMessage, ServerResponse } from 'node:http';
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
    body: hasBody ? toBodyStream(req) : null,
    duplex: 'half',
  } as RequestInit);
}

/** How many unread body bytes are thrown away after an early answer before the connection is cut. */
const maxDiscardedBytes = 1024 * 1024;

/** Stops the body stream feeding its Request, for requests answered before their body was read. */
const releaseBody = new WeakMap<IncomingMessage, () => void>();

/**
 * The request body as a web stream that reads only on demand. Unlike `Readable.toWeb`, cancelling
 * it does not destroy the socket: the rest of the body is read and thrown away, so a client still
 * sending an oversized body receives the error answer instead of a connection reset.
 */
function toBodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let finished = false;
  const onData = (chunk: Buffer) => {
    if (finished) return;
    controllerRef?.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((controllerRef?.desiredSize ?? 0) <= 0) req.pause();
  };
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;
  const release = () => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    discardRest(req);
  };
  releaseBody.set(req, release);
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controllerRef = controller;
        req.pause();
        req.on('data', onData);
        req.once('end', () => {
          if (finished) return;
          finished = true;
          controller.close();
        });
        req.once('close', () => {
          // Closed before its end: the client went away mid-body.
          if (finished) return;
          finished = true;
          controller.error(new Error('the request was aborted'));
        });
      },
      pull() {
        req.resume();
      },
      cancel: release,
    },
    { highWaterMark: 16 * 1024, size: (chunk) => chunk.byteLength },
  );
}

/** Reads and drops what is left of a request body, cutting the connection past a bound. */
function discardRest(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.byteLength;
    if (discarded > maxDiscardedBytes) req.socket.destroy();
  });
  req.resume();
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
    .then((response) => {
      // Answered before the body was read (wrong method, size limit): drain it so the client,
      // which may still be sending, gets to read the answer.
      releaseBody.get(req)?.();
      return sendWebResponse(res, response, req.method);
    })
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
