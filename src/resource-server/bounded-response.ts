// Answers from the authorization server are read with a size limit: a server that is broken, or
// an address that is not what it seems, must not make a resource server buffer without end.

import { readBoundedStream } from '../request/http-request.js';

/** The most a JWK Set or introspection answer may hold: far more than any real one needs. */
export const maxResponseBytes = 1024 * 1024;

/** The answer was longer than {@link maxResponseBytes}; the rest was not read. */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(limit: number) {
    super(`the response is larger than ${limit} bytes`);
  }
}

/**
 * Reads `response`'s body as UTF-8 text, refusing it as soon as it passes `limit` bytes, whether
 * or not it declared its length.
 *
 * @throws {ResponseTooLargeError} when the body is longer than `limit`
 */
export async function readBoundedText(response: Response, limit: number = maxResponseBytes): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limit || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    if (declared > limit) throw new ResponseTooLargeError(limit);
    return '';
  }
  const bytes = await readBoundedStream(response.body, limit);
  if (bytes === 'too-large') throw new ResponseTooLargeError(limit);
  return new TextDecoder().decode(bytes);
}
