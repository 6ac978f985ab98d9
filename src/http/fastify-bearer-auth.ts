// Resource-server hook for Fastify: answers RFC 6750 challenges, puts the verified token on `request.auth`.

import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  createBearerAuthorizer,
  hasAccessTokenParameter,
  type BearerAuthOptions,
  type VerifiedAccessToken,
} from '../resource-server/index.js';
import { readAuthorization } from './node-bearer-auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The access token a bearer-auth hook verified. */
    auth?: VerifiedAccessToken;
  }
}

/**
 * Returns a Fastify `preHandler` hook that lets a request through only with a valid access token,
 * setting `request.auth`; otherwise it answers 400, 401 or 403 with a `WWW-Authenticate` challenge.
 *
 * @example
 * app.get('/invoices', { preHandler: fastifyBearerAuth({ verifier, requiredScopes: ['invoices:read'] }) },
 *   async (request) => ({ client: request.auth?.clientId }));
 */
export function fastifyBearerAuth(options: BearerAuthOptions) {
  const authorize = createBearerAuthorizer(options);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const result = await authorize({
      authorization: readAuthorization(request.raw),
      hasAccessTokenParameter: hasAccessTokenParameter(request.url),
    });
    if (result.ok) {
      request.auth = result.auth;
      return;
    }
    // Another hook (a timeout, say) answered while the token was checked: a second send would
    // only log "Reply was already sent" as an error.
    if (reply.sent) return;
    const { status, headers, body } = result.challenge;
    await reply
      .code(status)
      .headers(headers)
      .send(body ?? undefined);
  };
}
