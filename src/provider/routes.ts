// The paths the router serves each endpoint at; metadata builds its URLs from the same paths.

/** Where each endpoint is served, as a path below the issuer. */
export interface ProviderRoutes {
  readonly token: string;
  readonly introspection: string;
  readonly revocation: string;
  readonly jwks: string;
  /** RFC 8414 §3: the well-known location of the authorization server metadata. */
  readonly metadata: string;
}

export const defaultRoutes: ProviderRoutes = {
  token: '/oauth2/token',
  introspection: '/oauth2/introspect',
  revocation: '/oauth2/revoke',
  jwks: '/.well-known/jwks.json',
  metadata: '/.well-known/oauth-authorization-server',
};

/**
 * `changes` over `base`, each route checked: a path (RFC 3986 §3.3) starting with "/", without
 * query or fragment. Routes left out or undefined keep `base`'s.
 *
 * @throws TypeError for a route that is not such a path.
 */
export function mergeRoutes(base: ProviderRoutes, changes: Partial<ProviderRoutes> | undefined): ProviderRoutes {
  if (changes === undefined) return base;
  const merged = { ...base };
  for (const name of routeNames) {
    const path: unknown = changes[name];
    if (path === undefined) continue;
    if (typeof path !== 'string' || !/^\/[^?#\s]*$/.test(path)) {
      throw new TypeError(`routes.${name} must be a path starting with "/", got ${JSON.stringify(path)}`);
    }
    merged[name] = path;
  }
  return merged;
}

const routeNames = Object.keys(defaultRoutes) as (keyof ProviderRoutes)[];
