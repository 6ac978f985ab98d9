// JSON responses with the caching headers every OAuth endpoint response needs.

import { OAuthError, toOAuthError } from '../core/index.js';
import { StorageUnavailableError } from '../storage/index.js';

/** §5.1: responses carrying tokens or credentials must not be cached. */
const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/** The text of each response writeJson made, so a server adapter can send it without reading the stream. */
const bodyTexts = new WeakMap<Response, string>();

/** A JSON response that no cache may keep. */
export function writeJson(
  body: unknown,
  status = 200,
  headers: Readonly<Record<string, string>> = {},
): Response {
  const text = JSON.stringify(body);
  const response = new Response(text, {
    status,
    headers: { 'Content-Type': 'application/json;charset=UTF-8', ...noStore, ...headers },
  });
  bodyTexts.set(response, text);
  return response;
}

/**
 * The body of a response made by {@link writeJson}, while nobody has read its stream; undefined
 * for any other response, whose body must be read as usual.
 */
export function getWrittenBody(response: Response): string | undefined {
  return response.bodyUsed ? undefined : bodyTexts.get(response);
}

/**
 * Renders anything thrown as an RFC 6749 §5.2 error response. A storage outage becomes
 * `temporarily_unavailable`; any other non-OAuth error becomes `server_error` and is reported.
 */
export function writeOAuthError(
  thrown: unknown,
  options: { readonly exposeDebug: boolean; readonly reportError: (error: Error) => void },
): Response {
  const error =
    thrown instanceof StorageUnavailableError
      ? new OAuthError('temporarilyUnavailable', { cause: thrown, headers: { 'Retry-After': '1' } })
      : toOAuthError(thrown);
  if (error.code === 'server_error' || error.code === 'temporarily_unavailable') {
    options.reportError(error);
  }
  return writeJson(error.toJSON(options.exposeDebug), error.status, error.headers);
}
