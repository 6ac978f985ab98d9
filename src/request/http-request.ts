// The request the library reads: a web Request, or a lighter object a server adapter builds.

import { OAuthError } from '../core/index.js';

/** Reads request headers the way `Headers.get` does: any case, duplicates joined by ", ". */
export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * A request whose body is read only up to a size limit, for adapters that can hand the body over
 * without web streams (the node:http adapter does). The library reads no more than this from a
 * request; a web `Request` needs none of it.
 */
export interface BoundedBodyRequest {
  readonly method: string;
  /** The absolute URL, as `Request.url`. */
  readonly url: string;
  readonly headers: HeaderReader;
  /**
   * Reads the body to its end, or until more than `maxBytes` arrived: then it stops reading and
   * resolves `'too-large'`. It may be called again (with any limit) and gives the same bytes.
   * Rejects when the body cannot be read to its end (the client went away).
   */
  readBody(maxBytes: number): Promise<Uint8Array | 'too-large'>;
}

/** What every endpoint accepts: a web `Request` (fetch, Hono, tests) or a {@link BoundedBodyRequest}. */
export type HttpRequest = Request | BoundedBodyRequest;

/**
 * Reads the body of either kind of request, stopping as soon as it is over `maxBytes`: the bytes,
 * or `'too-large'`. A request without a body gives no bytes.
 *
 * @throws OAuthError `server_error` when a web Request's body was already read or is locked.
 * @throws Error when the body cannot be read to its end.
 */
export async function readRequestBody(request: HttpRequest, maxBytes: number): Promise<Uint8Array | 'too-large'> {
  if ('readBody' in request) return request.readBody(maxBytes);
  if (!request.body) return new Uint8Array(0);
  if (request.bodyUsed || request.body.locked) {
    // Something before the library read the body (or holds its reader): the client sent it
    // whole, so this is a set-up error of the server, answered 500 and reported, not the client's.
    const cause = new Error(
      'the request body was already read before it reached Tessera: pass the Request before anything reads its body',
    );
    throw new OAuthError('serverError', { hint: cause.message, cause });
  }
  return readBoundedStream(request.body, maxBytes);
}

/**
 * Reads a web stream to its end, stopping as soon as it is over `maxBytes`: the bytes, or
 * `'too-large'` (and the rest of the stream is cancelled, not read).
 */
export async function readBoundedStream(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array | 'too-large'> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Not awaited: on one branch of a tee (a cloned Request) cancel settles only once the
      // other branch is cancelled too, which would hang the reader here.
      reader.cancel().catch(() => undefined);
      return 'too-large';
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : concatenate(chunks, size);
}

/** Joins chunks into one array of `size` bytes. */
export function concatenate(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
