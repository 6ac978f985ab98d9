// node:http <-> web Request/Response, so a fetch-style handler serves node:http and frameworks built on it.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIPv6 } from 'node:net';
import { OAuthError } from '../core/index.js';
import {
  getWrittenBody,
  getWrittenJson,
  type FetchHandler,
  type HttpHandler,
  type WrittenJson,
} from '../provider/index.js';
import type { BoundedBodyRequest, HeaderReader } from '../request/index.js';

/** Turns a node:http request into a web Request; the body stays a stream, read only if needed. */
export function toWebRequest(req: IncomingMessage, url = req.url ?? '/'): Request {
  return webRequestOf(req, url).request;
}

/**
 * {@link toWebRequest}, with what stops its body stream once the answer is sent. Handed back
 * rather than kept in a WeakMap keyed by the node request: such an entry keeps every request
 * alive through V8's young-generation collections, which then copy and promote them all.
 */
function webRequestOf(req: IncomingMessage, url: string): { request: Request; release: () => void } {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    headers.append(raw[index]!, raw[index + 1]!);
  }
  const method = req.method ?? 'GET';
  const body = method !== 'GET' && method !== 'HEAD' ? toBodyStream(req) : undefined;
  const request = new Request(absoluteUrl(req, url), {
    method,
    headers,
    body: body?.stream ?? null,
    duplex: 'half',
  } as RequestInit);
  return { request, release: body?.release ?? (() => discardRest(req)) };
}

/** A host name URL keeps as written: lowercase labels, the last one not a number, no punycode. */
const plainName = /^(?:(?!xn--)[a-z0-9-]+\.)*(?!xn--)[a-z][a-z0-9-]*$/;
const octet = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const plainIPv4 = new RegExp(`^(?:${octet}\\.){3}${octet}$`);
/** A path and query URL would serialize unchanged: no dot segments, escapes or characters it encodes. */
const plainTarget = /^\/(?!\/)[A-Za-z0-9\-_~/=&+,:;@!$*]*(?:\?[A-Za-z0-9\-_~/=&+,:;@!$*.%?]*)?$/;

/** Whether `http(s)://host` is already what URL would serialize it to. */
function isPlainHost(host: string, defaultPort: string): boolean {
  const colon = host.lastIndexOf(':');
  if (colon >= 0) {
    const port = host.slice(colon + 1);
    if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535 || port === defaultPort) return false;
  }
  const name = colon < 0 ? host : host.slice(0, colon);
  return plainName.test(name) || plainIPv4.test(name);
}

/**
 * The first Host field's value, as node's `req.headers.host` gives it, found in the raw pairs:
 * asking `req.headers` builds node's whole header object, a cost on every request.
 */
function firstHost(raw: readonly string[]): string | undefined {
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const field = raw[index]!;
    if (field.length === 4 && field.toLowerCase() === 'host') return raw[index + 1];
  }
  return undefined;
}

/**
 * `uri-host [ ":" port ]` (RFC 3986 §3.2.2 and §3.2.3): an IP literal in brackets (an IPv6
 * address, with a zone as RFC 6874 writes it, or an IPvFuture), or a registered name or IPv4
 * address, possibly empty (RFC 9112 §3.2 sends an empty Host for an empty authority).
 */
const hostAndPort =
  /^(?:\[(?:[0-9A-Fa-f:.]+(?:%25(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})+)?|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

/**
 * Why the request's Host fields make it one a server must answer with 400 (RFC 9112 §3.2): more
 * than one Host field line, or a value that is not a host and optional port. Undefined when they
 * are fine, and when there is none (node itself refuses an HTTP/1.1 request without one; HTTP/1.0
 * may omit it). The value is not repeated: it is the client's to know.
 */
export function hostFieldProblem(req: IncomingMessage): string | undefined {
  return problemWithHost(hostFieldOf(req.rawHeaders));
}

/** Stands for the Host value of a request with more than one Host field line. */
const severalHosts = Symbol('several Host fields');

/** The Host field's value found in the raw pairs, undefined without one, {@link severalHosts} with more. */
function hostFieldOf(raw: readonly string[]): string | undefined | typeof severalHosts {
  let host: string | undefined;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const field = raw[index]!;
    if (field.length !== 4 || field.toLowerCase() !== 'host') continue;
    if (host !== undefined) return severalHosts;
    host = raw[index + 1]!;
  }
  return host;
}

/** What {@link hostFieldProblem} says of a value {@link hostFieldOf} found. */
function problemWithHost(host: string | undefined | typeof severalHosts): string | undefined {
  if (host === severalHosts) return 'The request has more than one Host field.';
  if (host !== undefined && (!hostAndPort.test(host) || !isIPv6LiteralOrNone(host))) {
    return 'The Host field is not a host name or address with an optional port.';
  }
  return undefined;
}

/** False for a bracketed literal that is not an IPv6 address (the pattern above only checks its characters). */
function isIPv6LiteralOrNone(host: string): boolean {
  if (!host.startsWith('[') || host.startsWith('[v') || host.startsWith('[V')) return true;
  const end = host.indexOf(']');
  const zone = host.indexOf('%25');
  return isIPv6(host.slice(1, zone > 0 && zone < end ? zone : end));
}

/**
 * The request's absolute URL, built from the Host header as a web server would. `host` is the
 * Host value when the caller has found it already; without one it is looked up here.
 */
function absoluteUrl(req: IncomingMessage, url: string, host = firstHost(req.rawHeaders)): string {
  const scheme = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  if (host !== undefined && plainTarget.test(url) && isPlainHost(host, scheme === 'https' ? '443' : '80')) {
    // Already in the form URL would give it; parsing it is the cost this skips.
    return `${scheme}://${host}${url}`;
  }
  try {
    return new URL(url, `${scheme}://${host ?? 'localhost'}`).href;
  } catch {
    // A hostile Host header must not take the request down; the path is all routing needs.
    // A target URL cannot read at all (`//` and no host) is answered as the root.
    return URL.canParse(url.startsWith('/') ? url : '/', `${scheme}://localhost`)
      ? new URL(url.startsWith('/') ? url : '/', `${scheme}://localhost`).href
      : `${scheme}://localhost/`;
  }
}

/**
 * The node:http request as the library reads it, without web streams: headers are read from
 * node's parsed headers, the URL is built when first asked for, and the body is read straight
 * from the socket, never past the limit the reader gives.
 */
export function toBoundedBodyRequest(req: IncomingMessage, url = req.url ?? '/'): BoundedBodyRequest {
  return new NodeRequest(req, url);
}

/**
 * The node:http request over a body a server has already read in full (to bound and log it):
 * headers and URL as {@link toBoundedBodyRequest} gives them, the body from memory. Any method is
 * kept as sent, TRACE too (the fetch API refuses it, but this is no `Request`): the handler then
 * answers it as any method it does not serve, with `405` and `Allow`.
 */
export function toBufferedRequest(
  req: IncomingMessage,
  body: Uint8Array | undefined,
  url = req.url ?? '/',
): BoundedBodyRequest {
  const method = req.method ?? 'GET';
  const bytes = body ?? new Uint8Array(0);
  let absolute: string | undefined;
  return {
    method,
    headers: new NodeHeaderReader(req),
    get url() {
      return (absolute ??= absoluteUrl(req, url));
    },
    readBody: (maxBytes) =>
      Promise.resolve(
        method === 'GET' || method === 'HEAD' ? new Uint8Array(0) : bytes.byteLength > maxBytes ? 'too-large' : bytes,
      ),
  };
}

class NodeRequest implements BoundedBodyRequest {
  readonly method: string;
  readonly headers: HeaderReader;
  readonly #req: IncomingMessage;
  readonly #target: string;
  /** The Host value {@link handle} found when it checked the fields, so the URL need not look again. */
  readonly #host: string | undefined;
  #url: string | undefined;
  #body: BodyBuffer | undefined;

  constructor(req: IncomingMessage, target: string, host?: string) {
    this.method = req.method ?? 'GET';
    this.headers = new NodeHeaderReader(req);
    this.#req = req;
    this.#target = target;
    this.#host = host;
  }

  get url(): string {
    return (this.#url ??= absoluteUrl(this.#req, this.#target, this.#host));
  }

  readBody(maxBytes: number): Promise<Uint8Array | 'too-large'> {
    if (this.method === 'GET' || this.method === 'HEAD') return Promise.resolve(new Uint8Array(0));
    if (this.#body === undefined && !this.#req.complete) {
      // Asked while node is still parsing the packet that brought the headers: a small body
      // usually came in the same packet and is parsed by the next microtask, ready to take.
      return Promise.resolve().then(() => this.#readBody(maxBytes));
    }
    return this.#readBody(maxBytes);
  }

  #readBody(maxBytes: number): Promise<Uint8Array | 'too-large'> {
    if (this.#body === undefined && this.#req.readableEnded) {
      // Something ahead of the adapter (a body parser) read the stream to its end. The body would
      // read as empty and the client be told its request lacks parameters it sent: this is a
      // set-up error, so it becomes a server error that the provider reports.
      const cause = new Error(
        'the request body was already read before it reached Tessera: mount it before any body parser',
      );
      return Promise.reject(new OAuthError('serverError', { hint: cause.message, cause }));
    }
    this.#body ??= new BodyBuffer(this.#req);
    return this.#body.read(maxBytes);
  }

  /**
   * For an answer made before the body was read to its end (wrong method, size limit): drains
   * the rest so the client, which may still be sending, gets to read the answer.
   */
  releaseBody(): void {
    if (this.#body) this.#body.release();
    else discardRest(this.#req);
  }
}

/**
 * `Headers.get` over node's headers: any case; repeated fields joined by ", ", every one of
 * them (node's `req.headers` keeps only the first of some, such as Authorization).
 */
class NodeHeaderReader implements HeaderReader {
  readonly #req: IncomingMessage;

  constructor(req: IncomingMessage) {
    this.#req = req;
  }

  get(name: string): string | null {
    // A scan of the raw pairs: cheaper than building node's `headersDistinct` for a few lookups.
    const raw = this.#req.rawHeaders;
    const wanted = name.toLowerCase();
    let value: string | null = null;
    for (let index = 0; index + 1 < raw.length; index += 2) {
      const field = raw[index]!;
      if (field.length === wanted.length && field.toLowerCase() === wanted) {
        value = value === null ? raw[index + 1]! : `${value}, ${raw[index + 1]!}`;
      }
    }
    return value;
  }
}

interface PendingRead {
  readonly maxBytes: number;
  readonly resolve: (body: Uint8Array | 'too-large') => void;
  readonly reject: (error: Error) => void;
}

const bodyBufferOf = Symbol('tessera.bodyBuffer');
/** A request being read by a {@link BodyBuffer}, which the shared stream listeners find on it. */
type OwnedRequest = IncomingMessage & { [bodyBufferOf]?: BodyBuffer | undefined };

/**
 * Reads a request body into memory on demand. Reading pauses as soon as more than the largest
 * limit asked for so far has arrived, so an oversized body costs at most one socket read more.
 */

class BodyBuffer {
  readonly #req: IncomingMessage;
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #state: 'reading' | 'ended' | 'failed' | 'released' = 'reading';
  #limit = -1;
  #pending: PendingRead[] = [];
  #listening = false;

  constructor(req: IncomingMessage) {
    this.#req = req;
  }

  read(maxBytes: number): Promise<Uint8Array | 'too-large'> {
    if (this.#state === 'reading' && !this.#listening) this.#start();
    if (this.#size > maxBytes) return Promise.resolve('too-large');
    if (this.#state === 'ended') return Promise.resolve(this.#bytes());
    if (this.#state !== 'reading') return Promise.reject(unreadable());
    if (maxBytes > this.#limit) this.#limit = maxBytes;
    this.#req.resume();
    return new Promise((resolve, reject) => {
      this.#pending.push({ maxBytes, resolve, reject });
    });
  }

  /**
   * Once node has parsed the whole message, every byte of its body is in the stream's buffer and
   * is taken at once; otherwise the body is read as it arrives.
   */
  #start(): void {
    const req = this.#req;
    if (req.complete && !req.readableEnded) {
      for (let chunk: unknown = req.read(); chunk !== null; chunk = req.read()) {
        const bytes = chunk as Buffer;
        this.#chunks.push(bytes);
        this.#size += bytes.byteLength;
      }
      if (req.readableLength === 0) {
        this.#state = 'ended';
        return;
      }
    }
    this.#listening = true;
    // The listeners are shared by every request, not made per request: they find their buffer
    // on the request itself. (A WeakMap keyed by the request would keep it alive through young
    // collections.)
    (req as OwnedRequest)[bodyBufferOf] = this;
    req.on('data', BodyBuffer.#onData);
    req.on('end', BodyBuffer.#onStop);
    req.on('close', BodyBuffer.#onStop);
    req.on('error', BodyBuffer.#onStop);
  }

  static #onData(this: IncomingMessage, chunk: Buffer): void {
    const buffer = (this as OwnedRequest)[bodyBufferOf];
    if (buffer === undefined) return;
    buffer.#chunks.push(chunk);
    buffer.#size += chunk.byteLength;
    if (buffer.#size > buffer.#limit) this.pause();
    buffer.#settlePending();
  }

  /** For `end`, `close` and `error`: closed before its end means the client went away mid-body. */
  static #onStop(this: IncomingMessage): void {
    const buffer = (this as OwnedRequest)[bodyBufferOf];
    if (buffer === undefined || buffer.#state !== 'reading') return;
    buffer.#state = this.readableEnded ? 'ended' : 'failed';
    buffer.#settlePending();
  }

  /** Stops keeping the body; what is left is read and dropped, up to a bound. */
  release(): void {
    if (this.#state !== 'reading') return;
    this.#state = 'released';
    const req = this.#req;
    if (this.#listening) {
      req.off('data', BodyBuffer.#onData);
      req.off('end', BodyBuffer.#onStop);
      req.off('close', BodyBuffer.#onStop);
      req.off('error', BodyBuffer.#onStop);
      (req as OwnedRequest)[bodyBufferOf] = undefined;
    }
    this.#chunks.length = 0;
    discardRest(req);
    this.#settlePending();
  }

  #settlePending(): void {
    if (this.#pending.length === 0) return;
    const waiting: PendingRead[] = [];
    for (const read of this.#pending) {
      if (this.#size > read.maxBytes) read.resolve('too-large');
      else if (this.#state === 'ended') read.resolve(this.#bytes());
      else if (this.#state !== 'reading') read.reject(unreadable());
      else waiting.push(read);
    }
    this.#pending = waiting;
  }

  #bytes(): Uint8Array {
    const chunks = this.#chunks;
    if (chunks.length === 1) return chunks[0]!;
    return chunks.length === 0 ? new Uint8Array(0) : Buffer.concat(chunks, this.#size);
  }
}

function unreadable(): Error {
  return new Error('the request body could not be read to its end');
}

/** How many unread body bytes are thrown away after an early answer before the connection is cut. */
const maxDiscardedBytes = 1024 * 1024;

/**
 * The request body as a web stream that reads only on demand. Unlike `Readable.toWeb`, cancelling
 * it does not destroy the socket: the rest of the body is read and thrown away, so a client still
 * sending an oversized body receives the error answer instead of a connection reset.
 */
function toBodyStream(req: IncomingMessage): { stream: ReadableStream<Uint8Array>; release: () => void } {
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
  const stream = new ReadableStream<Uint8Array>(
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
  return { stream, release };
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

/**
 * Writes a web Response to a node:http response. `extraHeaders` (lowercase names) are added to,
 * or replace, the response's own: a server can stamp a request id without copying the Response.
 */
export async function sendWebResponse(
  res: ServerResponse,
  response: Response,
  method?: string,
  extraHeaders?: Readonly<Record<string, string>>,
): Promise<void> {
  const written = getWrittenJson(response);
  if (written !== undefined) {
    sendWrittenJson(res, written, method, extraHeaders);
    return;
  }
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (extraHeaders) Object.assign(headers, extraHeaders);
  // Checked before `response.body`, which would build the stream this skips.
  let body: Buffer | string | undefined = getWrittenBody(response);
  if (body === undefined && response.body !== null) body = Buffer.from(await response.arrayBuffer());
  if (body !== undefined) {
    // HEAD too: RFC 9110 §9.3.2, a HEAD answer carries the header fields a GET would.
    headers['content-length'] = String(Buffer.byteLength(body));
  } else if (method !== 'HEAD' && canHaveContent(response.status)) {
    // An empty answer (revocation's 200) is sent with its length, not as a chunked stream.
    headers['content-length'] = '0';
  }
  res.writeHead(response.status, headers);
  res.end(method === 'HEAD' ? undefined : body);
}

/** RFC 9110 §8.6: 1xx, 204 and 304 answers carry no Content-Length of a body. */
function canHaveContent(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}

/** Sends a JSON answer nothing has read as a web Response, from its parts. */
function sendWrittenJson(
  res: ServerResponse,
  written: WrittenJson,
  method: string | undefined,
  extraHeaders?: Readonly<Record<string, string>>,
): void {
  // The parts' own headers are shared, never changed: copied. Object.assign, not a spread: under
  // load a spread copy that then gains content-length cost the server 4 to 5 µs more per answer.
  const headers: Record<string, string> = Object.assign({}, written.headers, extraHeaders);
  // HEAD too: RFC 9110 §9.3.2, a HEAD answer carries the header fields a GET would.
  headers['content-length'] = String(Buffer.byteLength(written.text));
  res.writeHead(written.status, headers).end(method === 'HEAD' ? undefined : written.text);
}

/**
 * Lets `server` answer a client that ends its side of the connection right after its request, as
 * RFC 9112 §9.6 allows a client sending "close" to do. By default node ends such a socket at
 * once, dropping an answer still being made (a bcrypt check, a key rotation).
 *
 * @example
 * answerHalfClosedClients(createServer(toNodeHandler(createRouter(provider)))).listen(8080);
 */
export function answerHalfClosedClients<T extends Server>(server: T): T {
  // Node reads this flag when the client's end arrives; it is a long-standing server property
  // that the type definitions do not declare.
  (server as T & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  return server;
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

/**
 * Runs `handler` for one node request; a failure inside the handler still gets an answer. What a
 * failed handler left of the body is dropped as after any early answer, up to the same bound:
 * node drops a body itself only if nobody began to read it, and a body left half read would hold
 * up the next request on the connection for good.
 */
export function handle(handler: HttpHandler, req: IncomingMessage, res: ServerResponse, url?: string): void {
  // One look at the Host fields serves both the RFC 9112 §3.2 check and, later, the URL.
  const host = hostFieldOf(req.rawHeaders);
  const hostProblem = problemWithHost(host);
  if (hostProblem !== undefined) {
    sendFallback(res, 400, 'invalid_request', hostProblem);
    return;
  }
  let request: NodeRequest;
  try {
    request = new NodeRequest(req, url ?? req.url ?? '/', typeof host === 'string' ? host : undefined);
  } catch {
    sendFallback(res, 400, 'invalid_request');
    return;
  }
  answerOf(handler, request)
    .then(
      (response) => {
        request.releaseBody();
        // The usual answer goes out here and now: no further promise to wait on.
        const written = getWrittenJson(response);
        if (written !== undefined) sendWrittenJson(res, written, req.method);
        else return sendWebResponse(res, response, req.method);
      },
      () => {
        request.releaseBody();
        sendFallback(res, 500, 'server_error');
      },
    )
    .catch(() => sendFallback(res, 500, 'server_error'));
}

/**
 * The handler's answer as a promise, also when the handler throws before returning one or returns
 * a plain `Response` (JavaScript lets either through the types): both become the usual 500, never
 * an exception thrown into node's request event.
 */
function answerOf<R>(handler: (request: R) => Promise<Response>, request: R): Promise<Response> {
  try {
    return Promise.resolve(handler(request));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** {@link handle} for a handler taking a full web `Request`. */
export function handleFetch(handler: FetchHandler, req: IncomingMessage, res: ServerResponse, url?: string): void {
  const hostProblem = hostFieldProblem(req);
  if (hostProblem !== undefined) {
    sendFallback(res, 400, 'invalid_request', hostProblem);
    return;
  }
  let request: Request;
  let release: () => void;
  try {
    ({ request, release } = webRequestOf(req, url ?? req.url ?? '/'));
  } catch {
    sendFallback(res, 400, 'invalid_request');
    return;
  }
  answerOf(handler, request)
    .then(
      (response) => {
        release();
        return sendWebResponse(res, response, req.method);
      },
      () => {
        release();
        sendFallback(res, 500, 'server_error');
      },
    )
    .catch(() => sendFallback(res, 500, 'server_error'));
}

function sendFallback(res: ServerResponse, status: number, error: string, description?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(description === undefined ? { error } : { error, error_description: description });
  res.writeHead(status, {
    'content-type': 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
