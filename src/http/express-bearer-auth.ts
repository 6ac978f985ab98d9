// Resource-server middleware for Express: answers RFC 6750 challenges, puts the verified token on `req.auth`.

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createBearerAuthorizer,
  hasAccessTokenParameter,
  type BearerAuthOptions,
  type VerifiedAccessToken,
} from '../resource-server/index.js';
import { readAuthorization, sendChallenge } from './node-bearer-auth.js';

declare global {
  // Express's documented way to add request members: merging into its global namespace.
  namespace Express {
    interface Request {
      /** The access token a bearer-auth middleware verified. */
      auth?: VerifiedAccessToken;
    }
  }
}

/**
 * Returns Express middleware that lets a request through only with a valid access token,
 * setting `req.auth`; otherwise it answers 400, 401 or 403 with a `WWW-Authenticate` challenge.
 *
 * @example
 * app.get('/invoices', expressBearerAuth({ verifier, requiredScopes: ['invoices:read'] }), (req, res) => {
 *   res.json({ client: req.auth.clientId });
 * });
 */
export function expressBearerAuth(options: BearerAuthOptions) {
  const authorize = createBearerAuthorizer(options);
  return (
    req: IncomingMessage & { auth?: VerifiedAccessToken; originalUrl?: string },
    res: ServerResponse,
    next: (error?: unknown) => void,
  ): void => {
    authorize({
      authorization: readAuthorization(req),
      hasAccessTokenParameter: hasAccessTokenParameter(req.originalUrl ?? req.url ?? '/'),
    }).then(
      (result) => {
        if (result.ok) {
          req.auth = result.auth;
          next();
        } else {
          sendChallenge(res, result.challenge);
        }
      },
      (error: unknown) => next(error),
    );
  };
}
