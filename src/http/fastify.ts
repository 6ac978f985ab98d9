// Fastify mount: turns off Fastify's body parsing in its own scope and hands the raw request over.

import type { FastifyInstance } from 'fastify';
import { OAuthError } from '../core/index.js';
import type { HttpHandler } from '../provider/index.js';
import { handle } from './node.js';

/**
 * Returns a Fastify plugin serving `handler` for every method and path in its scope.
 *
 * The provider reads the raw body itself (size limit, strict form decoding, duplicate checks),
 * so inside the plugin's scope every content-type parser is removed and replaced by one that
 * leaves the body stream untouched, and the reply is hijacked so Fastify writes nothing.
 * Register it without `fastify-plugin`, so the parsers of the rest of the app stay as they are.
 * A `preParsing` hook that hands on a stream of its own in place of the request's cannot apply
 * in its scope: such a request is answered `500 server_error`, and `reportError` is told why.
 *
 * @example
 * const app = Fastify();
 * await app.register(fastifyHandler(createRouter(provider, { token: '/oauth2/token' })), { prefix: '/oauth2' });
 */
export function fastifyHandler(handler: HttpHandler) {
  const refusingBody = withBodyRefused(handler);
  return function tesseraPlugin(instance: FastifyInstance, _options: unknown, done: (error?: Error) => void): void {
    instance.removeAllContentTypeParsers();
    // Accept any content type (or none) without reading a byte; the provider judges it.
    instance.addContentTypeParser('*', (request, payload, parsed) => {
      if (payload === request.raw) {
        parsed(null, undefined);
        return;
      }
      // A preParsing hook put its own stream in the request's place, and that stream reads the
      // request too: the provider would get what the hook left over, so the body is refused.
      // The hook's stream is drained, so the socket goes on being read and the connection can
      // serve its next request; its errors (a corrupt compressed body, say) change nothing now.
      payload.on('error', () => undefined);
      payload.resume();
      parsed(null, replacedBody);
    });
    // Fastify refuses a Content-Type it cannot parse (415) before any parser runs; the body is
    // still unread then, so the provider gets the request and answers with its own RFC error.
    // Likewise a body-carrying method sent without one (QUERY, say), which Fastify refuses first.
    instance.setErrorHandler((error, request, reply) => {
      if (!handedOnErrors.has(String((error as { code?: unknown }).code))) return reply.send(error);
      reply.hijack();
      handle(handler, request.raw, reply.raw, request.raw.url);
    });
    // A method `all` does not cover (PROPFIND, PURGE, …) finds no route: the provider answers it
    // as any method it does not serve, 405 with Allow, or 404 off its paths. Fastify keeps one
    // not-found handler per prefix, so only a plugin under a prefix of its own takes it: at the
    // root it would clash with the app's own.
    if (instance.prefix !== '') {
      instance.setNotFoundHandler((request, reply) => {
        reply.hijack();
        handle(handler, request.raw, reply.raw, request.raw.url);
      });
    }
    instance.all('/*', (request, reply) => {
      reply.hijack();
      // The raw URL keeps any prefix the plugin was registered under, as routers expect.
      handle(request.body === replacedBody ? refusingBody : handler, request.raw, reply.raw, request.raw.url);
    });
    done();
  };
}

/** Fastify's refusals of a request the provider should judge itself, with its own RFC error. */
const handedOnErrors = new Set(['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE']);

/** The parsed body of a request whose body stream a preParsing hook replaced. */
const replacedBody = Symbol('tessera.replacedBody');

/**
 * `handler`, given the request with a body that fails to read: a server set-up error, which the
 * provider answers 500 and reports, rather than a body read as empty and blamed on the client.
 */
function withBodyRefused(handler: HttpHandler): HttpHandler {
  return (request) =>
    handler({
      method: request.method,
      headers: request.headers,
      get url() {
        return request.url;
      },
      readBody: () => {
        const cause = new Error(
          'a preParsing hook replaced the request body stream before it reached Tessera: keep such hooks out of its scope',
        );
        return Promise.reject(new OAuthError('serverError', { hint: cause.message, cause }));
      },
    });
}
