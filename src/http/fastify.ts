// Fastify mount: turns off Fastify's body parsing in its own scope and hands the raw request over.

import type { FastifyInstance } from 'fastify';
import type { HttpHandler } from '../provider/index.js';
import { handle } from './node.js';

/**
 * Returns a Fastify plugin serving `handler` for every method and path in its scope.
 *
 * The provider reads the raw body itself (size limit, strict form decoding, duplicate checks),
 * so inside the plugin's scope every content-type parser is removed and replaced by one that
 * leaves the body stream untouched, and the reply is hijacked so Fastify writes nothing.
 * Register it without `fastify-plugin`, so the parsers of the rest of the app stay as they are.
 *
 * @example
 * const app = Fastify();
 * await app.register(fastifyHandler(createRouter(provider, { token: '/oauth2/token' })), { prefix: '/oauth2' });
 */
export function fastifyHandler(handler: HttpHandler) {
  return function tesseraPlugin(instance: FastifyInstance, _options: unknown, done: (error?: Error) => void): void {
    instance.removeAllContentTypeParsers();
    // Accept any content type (or none) without reading a byte; the provider judges it.
    instance.addContentTypeParser('*', (_request, _payload, parsed) => {
      parsed(null, undefined);
    });
    instance.all('/*', (request, reply) => {
      reply.hijack();
      // The raw URL keeps any prefix the plugin was registered under, as routers expect.
      handle(handler, request.raw, reply.raw, request.raw.url);
    });
    done();
  };
}
