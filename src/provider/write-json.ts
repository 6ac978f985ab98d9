// JSON responses with the caching headers every OAuth endpoint response needs.

import { OAuthError, toOAuthError } from '../core/index.js';
import { StorageUnavailableError } from '../storage/index.js';

/** §5.1: responses carrying tokens or credentials must not be cached. */
const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/** The headers of every JSON answer. */
const jsonHeaders = { 'Content-Type': 'application/json;charset=UTF-8', ...noStore } as const;

/** The same, as node:http is given them (lowercase names). */
const plainJsonHeaders: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(jsonHeaders).map(([name, value]) => [name.toLowerCase(), value]),
);

/** What a JSON answer is made of, before anything turns it into a web Response. */
interface JsonParts {
  readonly text: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The web Response with the same status, headers and body, made on first use and kept. */
  full: Response | undefined;
}

const partsKey = Symbol('tessera.jsonParts');

/**
 * A JSON Response that is only its text, status and headers until something reads it as a web
 * Response. Making a web Response (its headers list, its body stream) is most of what a small
 * answer costs on Node, and the node:http adapter writes the parts directly
 * ({@link getWrittenJson}), so on that path nothing else is ever made. Every other reader (Hono,
 * fetch-style servers, tests) gets an ordinary Response, built from the parts on first use; from
 * then on every property and method is that Response's, so changes to its headers are kept.
 *
 * Instances come from {@link makeJsonResponse}, never from the constructor: the web Response
 * constructor is the cost this avoids, and an object it did not make has no private members, so
 * none are used. Every member of Response.prototype is overridden here.
 */
class JsonResponse extends Response {
  declare [partsKey]: JsonParts;

  static of(response: Response): JsonParts | undefined {
    return partsKey in response ? (response as JsonResponse)[partsKey] : undefined;
  }

  override get type(): ResponseType {
    return 'default';
  }

  override get url(): string {
    return '';
  }

  override get redirected(): boolean {
    return false;
  }

  override get status(): number {
    return this[partsKey].status;
  }

  override get ok(): boolean {
    const { status } = this[partsKey];
    return status >= 200 && status <= 299;
  }

  override get statusText(): string {
    return '';
  }

  override get headers(): Headers {
    return fullResponse(this[partsKey]).headers;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
    // Never null: the text is at least "{}" or "null".
    return fullResponse(this[partsKey]).body!;
  }

  override get bodyUsed(): boolean {
    return this[partsKey].full?.bodyUsed ?? false;
  }

  override text(): Promise<string> {
    return fullResponse(this[partsKey]).text();
  }

  override json(): Promise<unknown> {
    return fullResponse(this[partsKey]).json();
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return fullResponse(this[partsKey]).arrayBuffer();
  }

  override blob(): Promise<Blob> {
    return fullResponse(this[partsKey]).blob();
  }

  override bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return fullResponse(this[partsKey]).bytes();
  }

  override formData(): Promise<FormData> {
    return fullResponse(this[partsKey]).formData();
  }

  override clone(): Response {
    const { full, text, status, headers } = this[partsKey];
    // Once made, the web Response may carry changed headers: the copy is of it.
    return full ? full.clone() : makeJsonResponse(text, status, headers);
  }

  /** For console.log and util.inspect: the web Response it stands for. */
  [Symbol.for('nodejs.util.inspect.custom')](): Response {
    return fullResponse(this[partsKey]);
  }
}

/** The web Response standing for these parts, made on first use (no private members: see above). */
function fullResponse(parts: JsonParts): Response {
  parts.full ??= new Response(parts.text, { status: parts.status, headers: parts.headers });
  return parts.full;
}

function makeJsonResponse(text: string, status: number, headers: Readonly<Record<string, string>>): Response {
  const response = Object.create(JsonResponse.prototype) as JsonResponse;
  response[partsKey] = { text, status, headers, full: undefined };
  return response;
}

/** A status a web Response takes with a body: 200–599 but for 204, 205 and 304. */
function isPlainStatus(status: number): boolean {
  return (
    Number.isInteger(status) && status >= 200 && status <= 599 && status !== 204 && status !== 205 && status !== 304
  );
}

/** A JSON response that no cache may keep. */
export function writeJson(body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}): Response {
  const text = JSON.stringify(body);
  if (Object.keys(headers).length === 0 && isPlainStatus(status)) {
    return makeJsonResponse(text, status, plainJsonHeaders);
  }
  // Headers or a status the web Response checks: it checks them now, as it always would.
  const response = makeJsonResponse(text, status, {});
  const parts = JsonResponse.of(response)!;
  parts.full = new Response(text, {
    status,
    headers: { ...jsonHeaders, ...headers },
  });
  return response;
}

/** A written JSON answer's parts while nothing has read it as a web Response; else undefined. */
export interface WrittenJson {
  readonly text: string;
  readonly status: number;
  /** Lowercase names. Not to be changed: copy it. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The parts of a response made by {@link writeJson} while nothing has read it as a web Response
 * (its headers, body or methods): a server adapter writes these and skips the web Response.
 */
export function getWrittenJson(response: Response): WrittenJson | undefined {
  const parts = JsonResponse.of(response);
  return parts && parts.full === undefined ? parts : undefined;
}

/**
 * The body of a response made by {@link writeJson}, while nobody has read it; undefined for any
 * other response, whose body must be read as usual.
 */
export function getWrittenBody(response: Response): string | undefined {
  const parts = JsonResponse.of(response);
  return parts && !(parts.full?.bodyUsed ?? false) ? parts.text : undefined;
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
