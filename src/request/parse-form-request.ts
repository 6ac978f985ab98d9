// Token-style endpoint request checks: POST, form encoding, size, no duplicates (RFC 6749 §3.2).

import { OAuthError } from '../core/index.js';
import { decodeFormComponent } from './form-encoding.js';
import { trimOptionalWhiteSpace } from './optional-white-space.js';
import { readRequestBody, type HttpRequest } from './http-request.js';

/** What every form-posting endpoint needs from the HTTP request. */
export interface FormRequest {
  /** Decoded parameters; a parameter sent without a value is absent (RFC 6749 §3.1). */
  readonly form: ReadonlyMap<string, string>;
  /** The `Authorization` header, if any. */
  readonly authorization: string | undefined;
}

export interface ParseFormRequestOptions {
  /** Largest accepted body in bytes. */
  readonly maxBodyBytes: number;
}

/**
 * Reads a POSTed `application/x-www-form-urlencoded` body and checks it.
 *
 * @throws OAuthError `invalid_request` for a wrong method (405), a wrong content type, a body over
 *   the size limit (413), bad percent-encoding, non-UTF-8 bytes, or a parameter given twice.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.2
 */
export async function parseFormRequest(request: HttpRequest, options: ParseFormRequestOptions): Promise<FormRequest> {
  if (request.method !== 'POST') {
    throw new OAuthError('invalidRequest', {
      status: 405,
      hint: 'This endpoint accepts only POST.',
      headers: { Allow: 'POST' },
    });
  }
  checkContentType(request.headers.get('content-type'));
  const body = await readBody(request, options.maxBodyBytes);
  return { form: parseForm(body), authorization: request.headers.get('authorization') ?? undefined };
}

function checkContentType(contentType: string | null): void {
  if (contentType === null) {
    throw new OAuthError('invalidRequest', {
      hint: 'The body must be application/x-www-form-urlencoded.',
    });
  }
  // What nearly every client sends: nothing to split or fold.
  if (contentType === 'application/x-www-form-urlencoded') return;
  const [mediaType = '', ...parameters] = contentType.split(';');
  if (trimOptionalWhiteSpace(mediaType).toLowerCase() !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalidRequest', {
      hint: 'The body must be application/x-www-form-urlencoded.',
    });
  }
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    // Appendix B of RFC 6749 fixes the encoding to UTF-8.
    if (
      trimOptionalWhiteSpace(name).toLowerCase() === 'charset' &&
      !/^"?utf-8"?$/i.test(trimOptionalWhiteSpace(value))
    ) {
      throw new OAuthError('invalidRequest', { hint: 'The body must be encoded in UTF-8.' });
    }
  }
}

async function readBody(request: HttpRequest, maxBodyBytes: number): Promise<string> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBodyBytes) throw bodyTooLarge(maxBodyBytes);
  let bytes: Uint8Array | 'too-large';
  try {
    bytes = await readRequestBody(request, maxBodyBytes);
  } catch (cause) {
    // A reader that already knows what went wrong says so (a server set-up error, say).
    if (cause instanceof OAuthError) throw cause;
    // The client went away mid-body: its request, not the server, failed.
    throw new OAuthError('invalidRequest', { hint: 'The body could not be read to its end.', cause });
  }
  if (bytes === 'too-large') throw bodyTooLarge(maxBodyBytes);
  // The body must be ASCII: anything else should have been percent-encoded (Appendix B).
  for (const byte of bytes) {
    if (byte > 0x7f) {
      throw new OAuthError('invalidRequest', {
        hint: 'The body contains bytes that are not percent-encoded.',
      });
    }
  }
  return latin1.decode(bytes);
}

const latin1 = new TextDecoder('latin1');

function bodyTooLarge(maxBodyBytes: number): OAuthError {
  return new OAuthError('invalidRequest', {
    status: 413,
    hint: `The body is larger than ${maxBodyBytes} bytes.`,
  });
}

/**
 * Parses a form body strictly. Exported for endpoints that receive a body some other way.
 *
 * A parameter without a value is left out, and so is no repeat of one with a value (§3.1).
 *
 * @throws OAuthError `invalid_request` on bad encoding or a parameter given a value twice.
 */
export function parseForm(body: string): Map<string, string> {
  const form = new Map<string, string>();
  if (body === '') return form;
  for (const pair of body.split('&')) {
    if (pair === '') continue;
    const separator = pair.indexOf('=');
    const name = decodeOrThrow(separator < 0 ? pair : pair.slice(0, separator));
    const value = decodeOrThrow(separator < 0 ? '' : pair.slice(separator + 1));
    // §3.1: "Parameters sent without a value MUST be treated as if they were omitted from the
    // request", so they are not counted as a repeat either (`scope=&scope=read` is `scope=read`).
    if (value === '') continue;
    // §3.2: "Request and response parameters MUST NOT be included more than once."
    if (form.has(name)) {
      throw new OAuthError('invalidRequest', {
        hint: `The parameter "${printable(name)}" is included more than once.`,
      });
    }
    form.set(name, value);
  }
  return form;
}

function decodeOrThrow(component: string): string {
  const decoded = decodeFormComponent(component);
  if (typeof decoded === 'string') return decoded;
  throw new OAuthError('invalidRequest', {
    hint: decoded.problem === 'not-utf-8' ? 'The body is not valid UTF-8.' : 'The body has invalid percent-encoding.',
  });
}

/** Parameter names are echoed in hints; keep them short and free of control characters. */
function printable(name: string): string {
  const cleaned = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return cleaned.length > 40 ? `${cleaned.slice(0, 40)}…` : cleaned;
}

/** Splits a space-delimited list (`scope`, `audience`), ignoring repeated spaces. */
export function splitSpaceDelimited(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(' ').filter((item) => item !== '');
}
