// node:http <-> web Request/Response, so a fetch-style handler serves node:http and frameworks built on it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { getWrittenBody, type FetchHandler, type HttpHandler } from '../provider/index.js';
import type { BoundedBodyRequest, HeaderReader } from '../request/index.js';

/** Turns a node:http request into a web Request; the body stays a stream, read only if needed. */
export function toWebRequest(req: IncomingMessage, url = req.url ?? '/'): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    headers.append(raw[index]!, raw[index + 1]!);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(absoluteUrl(req, url), {
    method,
    headers,
    body: hasBody ? toBodyStream(req) : null,
    duplex: 'half',
  } as RequestInit);
}

/** The request's absolute URL, built from the Host header as a web server would. */
function absoluteUrl(req: IncomingMessage, url: string): string {
  const scheme = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  try {
    return new URL(url, `${scheme}://${req.headers.host ?? 'localhost'}`).href;
  } catch {
    // A hostile Host header must not take the request down; the path is all routing needs.
    return new URL(url.startsWith('/') ? url : '/', `${scheme}://localhost`).href;
  }
}

/**
 * The node:http request as the library reads it, without web streams: headers are read from
 * node's parsed headers, the URL is built when first asked for, and the body is read straight
 * from the socket, never past the limit the reader gives.
 */
export function toBoundedBodyRequest(req: IncomingMessage, url = req.url ?? '/'): BoundedBodyRequest {
  let absolute: string | undefined;
  let body: BodyBuffer | undefined;
  const method = req.method ?? 'GET';
  const request: BoundedBodyRequest = {
    method,
    get url() {
      return (absolute ??= absoluteUrl(req, url));
    },
    headers: createHeaderReader(req),
    readBody(maxBytes) {
      if (method === 'GET' || method === 'HEAD') return Promise.resolve(new Uint8Array(0));
      body ??= createBodyBuffer(req);
      return body.read(maxBytes);
    },
  };
  return request;
}

/**
 * `Headers.get` over node's headers: any case; repeated fields joined by ", ", every one of
 * them (node's `req.headers` keeps only the first of some, such as Authorization).
 */
function createHeaderReader(req: IncomingMessage): HeaderReader {
  return {
    get(name) {
      const values = req.headersDistinct[name.toLowerCase()];
      return values === undefined ? null : values.join(', ');
    },
  };
}

interface BodyBuffer {
  read(maxBytes: number): Promise<Uint8Array | 'too-large'>;
  /** Stops keeping the body; what is left is read and dropped, up to a bound. */
  release(): void;
}

/** Which requests have a body being buffered, so it can be released once the answer is sent. */
const bodyBuffers = new WeakMap<IncomingMessage, BodyBuffer>();

/**
 * Reads a request body into memory on demand. Reading pauses as soon as more than the largest
 * limit asked for so far has arrived, so an oversized body costs at most one socket read more.
 */
function createBodyBuffer(req: IncomingMessage): BodyBuffer {
  const chunks: Buffer[] = [];
  let size = 0;
  let state: 'reading' | 'ended' | 'failed' | 'released' = 'reading';
  let limit = -1;
  const waiting = new Set<() => void>();
  const wake = () => {
    for (const settle of [...waiting]) settle();
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > limit) req.pause();
    wake();
  };
  const onEnd = () => {
    state = 'ended';
    wake();
  };
  const onClose = () => {
    // Closed before its end: the client went away mid-body.
    if (state === 'reading') state = 'failed';
    wake();
  };
  const stopListening = () => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    req.off('error', onClose);
  };
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('close', onClose);
  req.on('error', onClose);
  const buffer: BodyBuffer = {
    read(maxBytes) {
      return new Promise((resolve, reject) => {
        const settle = (): boolean => {
          if (size > maxBytes) resolve('too-large');
          else if (state === 'ended') resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
          else if (state !== 'reading') reject(new Error('the request body could not be read to its end'));
          else return false;
          waiting.delete(settle);
          return true;
        };
        if (settle()) return;
        waiting.add(settle);
        if (maxBytes > limit) limit = maxBytes;
        req.resume();
      });
    },
    release() {
      if (state !== 'reading') return;
      state = 'released';
      stopListening();
      chunks.length = 0;
      discardRest(req);
      wake();
    },
  };
  bodyBuffers.set(req, buffer);
  return buffer;
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
  let body: Buffer | string | undefined;
  if (method !== 'HEAD') {
    // Checked before `response.body`, which would build the stream this skips.
    body = getWrittenBody(response);
    if (body === undefined && response.body !== null) body = Buffer.from(await response.arrayBuffer());
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  }
  res.writeHead(response.status, headers);
  res.end(body);
}

/**
 * Adapts a handler to node:http's `(req, res)`. The handler gets a {@link BoundedBodyRequest}
 * (the library's endpoints and `createRouter` take it); use {@link toNodeFetchHandler} for a
 * handler that needs a full web `Request`.
 *
 * @example
 * createServer(toNodeHandler(createRouter(provider))).listen(8080);
 */
export function toNodeHandler(handler: HttpHandler) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(handler, req, res, req.url);
  };
}

/** Adapts a handler taking a full web `Request` (built with {@link toWebRequest}) to node:http. */
export function toNodeFetchHandler(handler: FetchHandler) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handleFetch(handler, req, res, req.url);
  };
}

/** Runs `handler` for one node request; a failure inside the handler still gets an answer. */
export function handle(handler: HttpHandler, req: IncomingMessage, res: ServerResponse, url?: string): void {
  let request: BoundedBodyRequest;
  try {
    request = toBoundedBodyRequest(req, url);
  } catch {
    sendFallback(res, 400, 'invalid_request');
    return;
  }
  handler(request)
    .then((response) => {
      // Answered before the body was read to its end (wrong method, size limit): drain it so
      // the client, which may still be sending, gets to read the answer.
      const body = bodyBuffers.get(req);
      if (body) body.release();
      else discardRest(req);
      return sendWebResponse(res, response, req.method);
    })
    .catch(() => sendFallback(res, 500, 'server_error'));
}

/** {@link handle} for a handler taking a full web `Request`. */
export function handleFetch(handler: FetchHandler, req: IncomingMessage, res: ServerResponse, url?: string): void {
  let request: Request;
  try {
    request = toWebRequest(req, url);
  } catch {
    sendFallback(res, 400, 'invalid_request');
    return;
  }
  handler(request)
    .then((response) => {
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
