// JSON responses with the caching headers every OAuth endpoint response needs.

import { OAuthError, toOAuthError } from '../core/index.js';
import { StorageUnavailableError } from '../storage/index.js';

/** §5.1: responses carrying tokens or credentials must not be cached. */
const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/**
 * A JSON Response whose body stream is made only when something reads it. Building a web stream
 * is most of what a small Response costs on Node, and the node:http adapter writes the text
 * directly ({@link getWrittenBody}), so on that path no stream is ever made. Every other reader
 * (Hono, fetch-style servers, tests) gets an ordinary body, built from the same text on first use.
 */
class JsonResponse extends Response {
  readonly #text: string;
  #full: Response | undefined;

  constructor(text: string, init: ResponseInit) {
    super(null, init);
    this.#text = text;
  }

  /** The same response with its body as a stream, made once. */
  #withBody(): Response {
    this.#full ??= new Response(this.#text, {
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
    });
    return this.#full;
  }

  static textOf(response: Response): string | undefined {
    return #text in response && !response.bodyUsed ? response.#text : undefined;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
    // Never null: the text is at least "{}" or "null".
    return this.#withBody().body!;
  }

  override get bodyUsed(): boolean {
    return this.#full?.bodyUsed ?? false;
  }

  override text(): Promise<string> {
    return this.#withBody().text();
  }

  override json(): Promise<unknown> {
    return this.#withBody().json();
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return this.#withBody().arrayBuffer();
  }

  override blob(): Promise<Blob> {
    return this.#withBody().blob();
  }

  override bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#withBody().bytes();
  }

  override formData(): Promise<FormData> {
    return this.#withBody().formData();
  }

  override clone(): Response {
    if (this.bodyUsed) throw new TypeError('Response.clone: the body has already been read');
    return new JsonResponse(this.#text, { status: this.status, statusText: this.statusText, headers: this.headers });
  }
}

/** A JSON response that no cache may keep. */
export function writeJson(body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}): Response {
  return new JsonResponse(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json;charset=UTF-8', ...noStore, ...headers },
  });
}

/**
 * The body of a response made by {@link writeJson}, while nobody has read it; undefined for any
 * other response, whose body must be read as usual.
 */
export function getWrittenBody(response: Response): string | undefined {
  return JsonResponse.textOf(response);
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
