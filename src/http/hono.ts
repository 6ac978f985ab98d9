// Hono mount: Hono already speaks web Request/Response, so this only hands the raw request over.

import { OAuthError } from '../core/index.js';
import type { FetchHandler } from '../provider/index.js';

/**
 * What the handler reads of Hono's request: the raw request, and what Hono kept of a body a
 * middleware read. (Hono's types give the cached bodies as values; it stores promises.)
 */
interface HonoRequestLike {
  readonly raw: Request;
  readonly bodyCache?: { readonly arrayBuffer?: unknown; readonly blob?: unknown };
}

/**
 * Returns a Hono handler serving `handler`. Register it before any middleware that reads the
 * body, so the provider gets the raw bytes. Where one read it through Hono and Hono kept the
 * exact bytes (`c.req.arrayBuffer()`, `c.req.blob()`, and `c.req.parseBody()`, which reads them
 * that way), the provider reads those; after `c.req.text()`, `json()`, `formData()` or a read of
 * `c.req.raw` the bytes the client sent are gone, and a request that needs them is answered
 * `500 server_error`, with `reportError` told why. On Node, `@hono/node-server` drains a body
 * the provider stopped reading (size limit) for a short while and then closes the connection.
 *
 * @example
 * app.all('/oauth2/*', honoHandler(createRouter(provider)));
 */
export function honoHandler(handler: FetchHandler) {
  return async (context: { req: HonoRequestLike }): Promise<Response> => {
    try {
      return await handler(requestWithBody(context.req));
    } catch {
      return new Response(JSON.stringify({ error: 'server_error' }), {
        status: 500,
        headers: { 'Content-Type': 'application/json;charset=UTF-8', 'Cache-Control': 'no-store' },
      });
    }
  };
}

/** The raw request, or, if a middleware read its body, a copy whose body is what Hono kept. */
function requestWithBody(req: HonoRequestLike): Request {
  const raw = req.raw;
  // Checked first: on Node, asking about the body builds the full Request a GET can do without.
  if (raw.method === 'GET' || raw.method === 'HEAD') return raw;
  if (!raw.bodyUsed && !(raw.body?.locked ?? false)) return raw;
  const cached = req.bodyCache;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Errors thrown here become the error a reader of the body gets.
      controller.enqueue(await keptBytes(cached));
      controller.close();
    },
  });
  return new Request(raw.url, {
    method: raw.method,
    headers: raw.headers,
    signal: raw.signal,
    body,
    duplex: 'half',
  } as RequestInit);
}

/**
 * The exact bytes Hono kept of a body a middleware read. Decoded text and parsed forms are not
 * the bytes sent (decoding drops a byte-order mark and bad bytes, parsing undoes the encoding), so
 * without bytes the body is refused as a server set-up error, which the provider answers 500 and
 * reports, rather than read as empty and the client told its parameters are missing.
 */
async function keptBytes(cache: HonoRequestLike['bodyCache']): Promise<Uint8Array> {
  const arrayBuffer: unknown = await cache?.arrayBuffer;
  if (arrayBuffer instanceof ArrayBuffer) return new Uint8Array(arrayBuffer);
  const blob: unknown = await cache?.blob;
  if (blob instanceof Blob) return new Uint8Array(await blob.arrayBuffer());
  const cause = new Error(
    'the request body was already read before it reached Tessera: register it before any middleware that reads the body',
  );
  throw new OAuthError('serverError', { hint: cause.message, cause });
}
