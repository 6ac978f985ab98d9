// Maps paths to the provider's endpoints, for servers that mount the whole provider at once.

import { OAuthError } from '../core/index.js';
import type { HttpRequest } from '../request/index.js';
import type { Provider } from './provider.js';
import type { ProviderRoutes } from './routes.js';
import { writeOAuthError } from './write-json.js';

export { defaultRoutes, type ProviderRoutes } from './routes.js';

/** A fetch-style handler taking a web Request: the shape web-standard mounts (Hono) serve. */
export type FetchHandler = (request: Request) => Promise<Response>;

/**
 * A handler that also takes the lighter {@link HttpRequest} the node:http adapters build. Every
 * `HttpHandler` is a {@link FetchHandler}, so it can be mounted anywhere.
 */
export type HttpHandler = (request: HttpRequest) => Promise<Response>;

/**
 * Creates a handler serving every endpoint of `provider`.
 *
 * For an issuer with a path (`https://host/tenant`) each endpoint is also served below that path,
 * where the metadata names it, and the metadata is also served where RFC 8414 §3.1 puts it: the
 * well-known path followed by the issuer's path (`/.well-known/oauth-authorization-server/tenant`).
 * The plain paths stay, for a proxy that strips the prefix.
 *
 * @example
 * const handle = createRouter(provider, { token: '/token' });
 * createServer(toNodeHandler(handle)).listen(8080);
 */
export function createRouter(provider: Provider, routes: Partial<ProviderRoutes> = {}): HttpHandler {
  // The provider learns the paths too: the token endpoint the metadata names is then an accepted
  // private_key_jwt audience at every endpoint (RFC 7523 §3).
  const served = Object.keys(routes).length === 0 ? provider : provider.withRoutes(routes);
  const paths = served.routes;
  const handlers: Record<keyof ProviderRoutes, HttpHandler> = {
    token: (request) => served.handleTokenRequest(request),
    introspection: (request) => served.handleIntrospectionRequest(request),
    revocation: (request) => served.handleRevocationRequest(request),
    jwks: (request) => served.handleJwksRequest(request),
    metadata: (request) => served.handleMetadataRequest(request),
  };
  const endpoints = endpointPaths(paths, provider.config.issuer);
  return async (request) => {
    const endpoint = endpoints.get(pathnameOf(request.url));
    if (endpoint) return handlers[endpoint](request);
    return writeOAuthError(
      new OAuthError('notFound', { hint: 'No endpoint is served at this path.' }),
      provider.config,
    );
  };
}

/**
 * Which endpoint each path serves, as {@link createRouter} maps them: the routes' paths, and for
 * an issuer with a path the same below it plus the metadata's RFC 8414 §3.1 location. Where two
 * endpoints share a path, the first in route order keeps it.
 */
export function endpointPaths(routes: ProviderRoutes, issuer: string): Map<string, keyof ProviderRoutes> {
  const endpoints = new Map<string, keyof ProviderRoutes>();
  const serve = (path: string, endpoint: keyof ProviderRoutes): void => {
    if (!endpoints.has(path)) endpoints.set(path, endpoint);
  };
  const names = ['token', 'introspection', 'revocation', 'jwks', 'metadata'] as const;
  for (const name of names) serve(routes[name], name);
  const issuerPath = issuerPathOf(issuer);
  if (issuerPath !== '') {
    for (const name of names) serve(`${issuerPath}${routes[name]}`, name);
    serve(`${routes.metadata}${issuerPath}`, 'metadata');
  }
  return endpoints;
}

/** The issuer's path without a trailing slash: '' for `https://host`, '/tenant' for `https://host/tenant/`. */
function issuerPathOf(issuer: string): string {
  if (!URL.canParse(issuer)) return '';
  return new URL(issuer).pathname.replace(/\/+$/, '');
}

/**
 * The path of an http(s) URL, as `new URL(url).pathname` gives it. A plain serialized URL (what
 * `Request.url` holds) has its path between the authority and `?` or `#`, already normalized, so
 * it is cut out without parsing; anything less plain (escapes, dot segments, characters URL would
 * change) is parsed. For routing a request by path without building a URL object per request.
 *
 * @example
 * if (pathnameOf(request.url) === '/token') return tokenHandler(request);
 */
export function pathnameOf(url: string): string {
  const match = plainUrl.exec(url);
  if (match === null || dotSegment.test(match[1]!)) return new URL(url).pathname;
  return match[1]!;
}

/** Scheme, an authority of plain characters, a path of characters URL keeps as they are. */
const plainUrl = /^https?:\/\/[A-Za-z0-9\-._~!$&'()*+,;=:@[\]]+(\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)(?:[?#]|$)/;
/** A `.` or `..` segment, which URL resolves away. */
const dotSegment = /\/\.\.?(?:\/|$)/;
