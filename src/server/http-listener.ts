// One HTTP(S) listener: timeouts against slow clients, body limits, request ids, client addresses, logs and metrics.

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { presentedAssertionClientId } from '../client-auth/index.js';
import { answerHalfClosedClients, hostFieldProblem, sendWebResponse, toBufferedRequest } from '../http/node.js';
import { getWrittenBody } from '../provider/index.js';
import type { HttpRequest } from '../request/index.js';
import { ConfigError } from './config.js';
import { forwardedClientAddress } from './forwarded.js';
import { createRequestLogger, type Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';

/** What a handler learns about a request besides the request itself. */
export interface RequestContext {
  readonly requestId: string;
  /** The client's address, from `X-Forwarded-For` or `Forwarded` when the proxy is trusted. */
  readonly clientAddress: string;
}

/** A handler of the library's requests: a {@link BoundedBodyRequest} over the body read here. */
export type ContextHandler = (request: HttpRequest, context: RequestContext) => Promise<Response>;
/** A handler that needs a full web `Request` (the admin API reads JSON bodies through one). */
export type WebContextHandler = (request: Request, context: RequestContext) => Promise<Response>;

/**
 * Which kind of request the handler takes. The OAuth endpoints take the lighter one, which costs
 * no web stream per request (and no copy of one when the brute-force guard reads the form first).
 */
export type ListenerHandler =
  | { readonly webRequests?: false; readonly handler: ContextHandler }
  | { readonly webRequests: true; readonly handler: WebContextHandler };

export type ListenerOptions = ListenerSettings & ListenerHandler;

export interface ListenerSettings {
  /** `public` or `admin`: a log field and a metrics label. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly maxHeaderSize: number;
  readonly maxBodyBytes: number;
  readonly trustProxy: boolean | number;
  /** The header a trusted proxy names the client in; `x-forwarded-for` when not given. */
  readonly forwardedHeader?: ForwardedHeader;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /** Names the endpoint a path belongs to, for logs and metrics (a small, fixed set). */
  endpointOf(pathname: string): string;
  /**
   * Whether the request line names the OAuth client a request presents (Basic user name,
   * `client_id`, assertion `sub`). Only where OAuth clients call: on the admin listener a Basic
   * user name is no client id, and may be the admin token sent the wrong way.
   */
  readonly logsClientIds?: boolean;
}

/** `x-forwarded-for`, or the RFC 7239 `forwarded` header. */
export type ForwardedHeader = 'x-forwarded-for' | 'forwarded';

export interface RunningListener {
  readonly server: Server;
  /** e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `timeoutMs`, then
   * cuts what is left. Resolves once the listener is closed.
   */
  close(timeoutMs: number): Promise<void>;
}

/** Starts a listener and resolves once it is bound. */
export async function startListener(options: ListenerOptions): Promise<RunningListener> {
  const { logger, metrics } = options;
  const requestLog = createRequestLogger(logger);
  const serverOptions = {
    headersTimeout: options.headersTimeout,
    requestTimeout: options.requestTimeout,
    keepAliveTimeout: options.keepAliveTimeout,
    maxHeaderSize: options.maxHeaderSize,
    // Node checks the two timeouts above only this often (30 s by default).
    connectionsCheckingInterval: Math.min(1000, options.headersTimeout, options.requestTimeout),
  };
  let inFlight = 0;
  let closing = false;
  const drained: (() => void)[] = [];

  // Sockets with a request being served: a parse error on one (a body cut off) is not another request.
  const busySockets = new WeakSet<Duplex>();

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight++;
    busySockets.add(req.socket);
    res.once('close', () => {
      busySockets.delete(req.socket);
      inFlight--;
      if (inFlight === 0) for (const resolve of drained.splice(0)) resolve();
    });
    void serve(req, res);
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    const supplied = req.headers['x-request-id'];
    const requestId = typeof supplied === 'string' && /^[\w.:-]{1,128}$/.test(supplied) ? supplied : randomUUID();
    const clientAddress = resolveClientAddress(req, options.trustProxy, options.forwardedHeader);
    const pathname = safePathname(req.url);
    const endpoint = options.endpointOf(pathname);
    let status = 500;
    let outcome = 'server_error';
    let clientId: string | undefined;
    try {
      const body = await readBody(req, options.maxBodyBytes);
      if (body === 'aborted') {
        // The client went away: nothing to answer, and no failure of the server.
        status = clientClosedStatus;
        outcome = 'aborted';
        res.destroy();
        return;
      }
      let response: Response;
      const hostProblem = hostFieldProblem(req);
      if (body === 'too-large') {
        response = jsonError(413, 'invalid_request', 'The request body is too large.');
      } else if (hostProblem !== undefined) {
        response = jsonError(400, 'invalid_request', hostProblem);
      } else {
        if (options.logsClientIds) clientId = findClientId(req, body);
        const context = { requestId, clientAddress };
        if (options.webRequests) {
          const request = toRequest(req, body);
          response = request
            ? await options.handler(request, context)
            : jsonError(400, 'invalid_request', 'The request cannot be read.');
        } else {
          response = await options.handler(toBufferedRequest(req, body), context);
        }
      }
      status = response.status;
      outcome = await outcomeOf(response);
      // Stamped while writing rather than by copying the Response, which would turn a JSON
      // answer's text into a stream to be read back.
      const extraHeaders: Record<string, string> = { 'x-request-id': requestId };
      if (closing || body === 'too-large') extraHeaders.connection = 'close';
      await sendWebResponse(res, response, req.method, extraHeaders);
    } catch (error) {
      logger.error({ requestId, err: error, endpoint }, 'request failed');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ error: 'server_error' }));
      } else {
        res.destroy();
      }
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = { listener: options.name, endpoint, outcome };
      metrics.requests.inc(labels);
      metrics.requestDuration.observe(labels, seconds);
      requestLog.info(
        {
          requestId,
          listener: options.name,
          method: req.method,
          endpoint,
          clientId,
          clientAddress,
          status,
          outcome,
          latencyMs: Math.round(seconds * 1e6) / 1e3,
        },
        'request',
      );
    }
  };

  const server = options.tls
    ? createTlsServer(options.tls, serverOptions, listener)
    : createHttpServer(serverOptions, listener);
  server.keepAliveTimeout = options.keepAliveTimeout;
  answerHalfClosedClients(server);
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (error.code === 'ECONNRESET') {
      // The client reset the connection: there is no one to answer.
      socket.destroy();
      return;
    }
    // Oversized headers, timeouts and malformed requests: answer if the socket still can.
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    if (socket.writable) {
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
    } else {
      socket.destroy();
    }
    // A request already being served on this socket (its body cut off by the client's end) is
    // counted once, where it is served.
    if (!busySockets.has(socket)) {
      metrics.requests.inc({ listener: options.name, endpoint: 'unknown', outcome: `http_${status}` });
    }
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    // Not a proxy: CONNECT gets an answer rather than a dropped connection.
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    metrics.requests.inc({ listener: options.name, endpoint: 'unknown', outcome: 'http_405' });
  });
  server.listen(options.port, options.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      throw error;
    }),
  ]);
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `${options.tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`;

  return {
    server,
    url,
    port,
    async close(timeoutMs) {
      closing = true;
      const closed = once(server, 'close');
      server.close();
      server.closeIdleConnections();
      if (inFlight > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => drained.push(resolve)),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, timeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
      server.closeAllConnections();
      await closed;
    },
  };
}

/** The status logged for a request whose client went away before sending all of it (nginx's "client closed request"). */
const clientClosedStatus = 499;

/**
 * Reads the whole body, or reports that it is larger than allowed, or that the client closed the
 * connection before sending all of it. GET and HEAD have none.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined | 'too-large' | 'aborted'> {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return 'too-large';
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > limit) {
        req.resume();
        return 'too-large';
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (!req.complete) return 'aborted';
    throw error;
  }
  return req.complete ? Buffer.concat(chunks) : 'aborted';
}

/** Methods `new Request` refuses; CONNECT never gets here (node hands it to the 'connect' event). */
const refusedByFetch = new Set(['CONNECT', 'TRACE', 'TRACK']);

/** A method token that names nothing any handler serves. */
const methodNoRouteServes = 'UNSERVED-METHOD';

/** The web Request for `req`, or undefined when its URL or headers cannot make one. */
function toRequest(req: IncomingMessage, body: Buffer | undefined): Request | undefined {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    try {
      headers.append(raw[index]!, raw[index + 1]!);
    } catch {
      // A header the fetch API cannot represent is dropped rather than failing the request.
    }
  }
  const scheme = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  const target = req.url ?? '/';
  let url: URL;
  try {
    url = new URL(target, `${scheme}://${req.headers.host ?? 'localhost'}`);
  } catch {
    url = new URL(safePathname(target), `${scheme}://localhost`);
  }
  // A method the fetch API refuses (TRACE, TRACK) reaches the handler as a method no route
  // serves, so it answers as it does any other: 405 with the Allow of the path, or 404.
  const sent = req.method ?? 'GET';
  const method = refusedByFetch.has(sent.toUpperCase()) ? methodNoRouteServes : sent;
  try {
    return new Request(url, {
      method,
      headers,
      ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body: new Uint8Array(body) } : {}),
    });
  } catch {
    return undefined;
  }
}

function safePathname(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '/';
  }
}

/**
 * The client id a request names (Basic user name, `client_id` form field, or the `sub` of a
 * client assertion), for logs only: as presented, not as authenticated.
 */
function findClientId(req: IncomingMessage, body: Buffer | undefined): string | undefined {
  const authorization = req.headers.authorization;
  if (authorization && /^basic /i.test(authorization)) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    if (separator > 0) return formDecode(decoded.slice(0, separator))?.slice(0, 128);
  }
  if (body && /application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
    const form = new URLSearchParams(body.toString('utf8'));
    const named = form.get('client_id') ?? presentedAssertionClientId(form.get('client_assertion'));
    return named?.slice(0, 128) ?? undefined;
  }
  return undefined;
}

function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** `success`, or the OAuth error code of an error response (a bounded set, fit for a metrics label). */
async function outcomeOf(response: Response): Promise<string> {
  if (response.status < 400) return 'success';
  if (/json/.test(response.headers.get('content-type') ?? '')) {
    try {
      // The library's JSON answers hand over their text; any other is read from a copy.
      const text = getWrittenBody(response);
      const body = (text === undefined ? await response.clone().json() : JSON.parse(text)) as { error?: unknown };
      if (typeof body.error === 'string' && /^[a-z_]{1,40}$/.test(body.error)) return body.error;
    } catch {
      // Not an OAuth error body.
    }
  }
  return `http_${response.status}`;
}

function jsonError(status: number, error: string, description: string): Response {
  return new Response(JSON.stringify({ error, error_description: description }), {
    status,
    headers: { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store' },
  });
}

/**
 * The client's address. Untrusted, it is the socket's peer. With `trustProxy` true, the first
 * IP address of `X-Forwarded-For`; with a number n, the entry n hops before the socket peer.
 * Entries with a port (`a.b.c.d:port`, `[v6]:port`) count as their bare address. Every non-empty
 * entry counts as a hop, also one that is not an address (`unknown`, an obfuscated name): a
 * trusted proxy that writes one must not shift the count into the part the client wrote. When the
 * entry n hops back is not an address, the client has none (`unknown`).
 *
 * With `forwardedHeader` `forwarded`, the same rule reads the `for` parameters of the RFC 7239 `Forwarded`
 * header instead (see {@link forwardedClientAddress}); `X-Forwarded-For` is then ignored.
 */
export function resolveClientAddress(
  req: IncomingMessage,
  trustProxy: boolean | number,
  forwardedHeader: ForwardedHeader = 'x-forwarded-for',
): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustProxy === false || trustProxy === 0) return peer;
  // Field line by field line: a quoted-string left open in a line the client sent cannot take in
  // a line a proxy added.
  if (forwardedHeader === 'forwarded') {
    return forwardedClientAddress(req.headersDistinct.forwarded ?? [], trustProxy, peer);
  }
  const header = req.headers['x-forwarded-for'];
  // Empty list elements are not counted (RFC 9110 §5.6.1).
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map(forwardedAddress);
  if (trustProxy === true) return forwarded.find((entry) => entry !== undefined) ?? peer;
  const chain = [...forwarded, peer];
  return chain[Math.max(0, chain.length - 1 - trustProxy)] ?? 'unknown';
}

/**
 * The IP address of one `X-Forwarded-For` entry, without the port some proxies append:
 * `a.b.c.d:port` gives `a.b.c.d`, `[v6]:port` and `[v6]` give `v6`. Undefined when the entry is
 * not an IP address or its port is not one (1 to 65535).
 */
function forwardedAddress(entry: string): string | undefined {
  const match = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry) ?? /^(\d+\.\d+\.\d+\.\d+)(?::(\d{1,5}))?$/.exec(entry);
  const address = match ? match[1]! : entry;
  const port = match?.[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return undefined;
  if (match && entry.startsWith('[') ? isIP(address) !== 6 : isIP(address) === 0) return undefined;
  return address;
}

/**
 * The HTTPS listener. A certificate or key file that cannot be read or used is a configuration
 * error (exit code 2), named with its setting, like every other setting that cannot work.
 */
function createTlsServer(
  tls: { readonly certFile: string; readonly keyFile: string },
  serverOptions: Parameters<typeof createHttpServer>[0],
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): Server {
  const read = (file: string, setting: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(
        `${setting}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
  };
  const cert = read(tls.certFile, 'server.tlsCert');
  const key = read(tls.keyFile, 'server.tlsKey');
  try {
    return createHttpsServer({ ...serverOptions, cert, key }, listener);
  } catch (error) {
    // OpenSSL's reason (a bad PEM, a key that does not match), never the key's contents.
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError(`server.tlsCert and server.tlsKey: not a usable certificate and key: ${reason}`);
  }
}
