// Resource-server guard for node:http: answers RFC 6750 challenges, puts the verified token on `req.auth`.

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createBearerAuthorizer,
  hasAccessTokenParameter,
  type BearerAuthOptions,
  type BearerChallenge,
  type VerifiedAccessToken,
} from '../resource-server/index.js';

/** A node:http request a guard has let through. */
export type AuthorizedRequest<Request extends IncomingMessage = IncomingMessage> = Request & {
  auth: VerifiedAccessToken;
};

/**
 * Returns a guard for node:http handlers. It resolves to true with `req.auth` set when the
 * request carries a valid access token; otherwise it has already answered 400, 401 or 403 with a
 * `WWW-Authenticate` challenge and resolves to false.
 *
 * @example
 * const guard = nodeBearerAuth({ verifier, realm: 'invoices', requiredScopes: ['invoices:read'] });
 * createServer(async (req, res) => {
 *   if (!(await guard(req, res))) return;
 *   res.end(`hello ${(req as AuthorizedRequest).auth.clientId}`);
 * });
 */
export function nodeBearerAuth(options: BearerAuthOptions) {
  const authorize = createBearerAuthorizer(options);
  return async <Request extends IncomingMessage>(req: Request, res: ServerResponse): Promise<boolean> => {
    const result = await authorize({
      authorization: readAuthorization(req),
      hasAccessTokenParameter: hasAccessTokenParameter(req.url ?? '/'),
    });
    if (result.ok) {
      (req as AuthorizedRequest<Request>).auth = result.auth;
      return true;
    }
    sendChallenge(res, result.challenge);
    return false;
  };
}

/**
 * The `Authorization` header of a node:http request with every copy it carries, joined with
 * ", " as Fetch joins them. `req.headers.authorization` keeps only the first copy, which would let
 * a request with the field twice (malformed, RFC 9110 §5.3) through on its first credentials;
 * joined, a duplicated Bearer credential is refused 400 invalid_request, as in the Hono adapter.
 */
export function readAuthorization(req: IncomingMessage): string | undefined {
  const copies = (req.headersDistinct as IncomingMessage['headersDistinct'] | undefined)?.authorization;
  return copies === undefined ? req.headers.authorization : copies.join(', ');
}

/**
 * Writes a challenge to a node:http response. When something else has answered meanwhile (a
 * timeout middleware, while the verifier waited on the JWK Set, say) nothing is written: writing
 * would throw, and in Express that error would escape as an unhandled rejection.
 */
export function sendChallenge(res: ServerResponse, challenge: BearerChallenge): void {
  if (res.headersSent) return;
  res.writeHead(challenge.status, { ...challenge.headers });
  res.end(challenge.body ?? undefined);
}
