// Resource-server middleware for Hono: answers RFC 6750 challenges, sets the verified token as `auth`.

import type { MiddlewareHandler } from 'hono';
import {
  bearerChallengeResponse,
  createBearerAuthorizer,
  hasAccessTokenParameter,
  type BearerAuthOptions,
  type VerifiedAccessToken,
} from '../resource-server/index.js';

/** The Hono environment the middleware adds to: `c.get('auth')`. */
export interface BearerAuthEnv {
  Variables: { auth: VerifiedAccessToken };
}

/**
 * Returns Hono middleware that lets a request through only with a valid access token, with
 * `c.get('auth')` set; otherwise it answers 400, 401 or 403 with a `WWW-Authenticate` challenge.
 *
 * @example
 * app.get('/invoices', honoBearerAuth({ verifier, requiredScopes: ['invoices:read'] }), (c) =>
 *   c.json({ client: c.get('auth').clientId }));
 */
export function honoBearerAuth(options: BearerAuthOptions): MiddlewareHandler<BearerAuthEnv> {
  const authorize = createBearerAuthorizer(options);
  return async (c, next) => {
    const result = await authorize({
      authorization: c.req.header('authorization'),
      hasAccessTokenParameter: hasAccessTokenParameter(c.req.url),
    });
    if (!result.ok) return bearerChallengeResponse(result.challenge);
    c.set('auth', result.auth);
    await next();
  };
}
