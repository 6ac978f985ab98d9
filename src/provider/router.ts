// Maps paths to the provider's endpoints, for servers that mount the whole provider at once.

import { OAuthError } from '../core/index.js';
import type { HttpRequest } from '../request/index.js';
import type { Provider } from './provider.js';
import { defaultRoutes, type ProviderRoutes } from './routes.js';
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
 * @example
 * const handle = createRouter(provider, { token: '/token' });
 * createServer(toNodeHandler(handle)).listen(8080);
 */
export function createRouter(provider: Provider, routes: Partial<ProviderRoutes> = {}): HttpHandler {
  const paths = { ...defaultRoutes, ...routes };
  return async (request) => {
    switch (pathnameOf(request.url)) {
      case paths.token:
        return provider.handleTokenRequest(request);
      case paths.introspection:
        return provider.handleIntrospectionRequest(request);
      case paths.revocation:
        return provider.handleRevocationRequest(request);
      case paths.jwks:
        return provider.handleJwksRequest(request);
      case paths.metadata:
        return provider.handleMetadataRequest(request, paths);
      default:
        return writeOAuthError(
          new OAuthError('notFound', { hint: 'No endpoint is served at this path.' }),
          provider.config,
        );
    }
  };
}

/**
 * The path of a serialized http(s) URL, as `new URL(url).pathname` gives it. A serialized URL
 * (what `Request.url` holds) has its path between the authority and `?` or `#`, already
 * normalized, so it is cut out without parsing; anything less plain is parsed.
 */
function pathnameOf(url: string): string {
  const authority = url.startsWith('http://') ? 7 : url.startsWith('https://') ? 8 : -1;
  const slash = authority < 0 ? -1 : url.indexOf('/', authority);
  if (slash < 0) return new URL(url).pathname;
  let end = url.length;
  for (let index = slash; index < url.length; index++) {
    const char = url.charCodeAt(index);
    // `?`, `#`, and what a serialized path may hold but needs a closer look: `%`, `.`, `\`.
    if (char === 0x3f || char === 0x23) {
      end = index;
      break;
    }
    if (char === 0x25 || char === 0x2e || char === 0x5c) return new URL(url).pathname;
  }
  return url.slice(slash, end);
}
