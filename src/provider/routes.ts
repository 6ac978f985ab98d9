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
