// Hono mount: Hono already speaks web Request/Response, so this only hands the raw request over.

import type { FetchHandler } from '../provider/index.js';

/**
 * Returns a Hono handler serving `handler`. Register it before any middleware that reads the
 * body, so the provider gets the raw bytes. On Node, `@hono/node-server` drains a body the
 * provider stopped reading (size limit) for a short while and then closes the connection.
 *
 * @example
 * app.all('/oauth2/*', honoHandler(createRouter(provider)));
 */
export function honoHandler(handler: FetchHandler) {
  return async (context: { req: { raw: Request } }): Promise<Response> => {
    try {
      return await handler(context.req.raw);
    } catch {
      return new Response(JSON.stringify({ error: 'server_error' }), {
        status: 500,
        headers: { 'Content-Type': 'application/json;charset=UTF-8', 'Cache-Control': 'no-store' },
      });
    }
  };
}
