// Hono mount: Hono already speaks web Request/Response, so this only hands the raw request over.

import type { FetchHandler } from '../provider/index.js';

/**
 * Returns a Hono handler serving `handler`.
 *
 * @example
 * app.all('/oauth2/*', honoHandler(createRouter(provider)));
 */
export function honoHandler(handler: FetchHandler) {
  return (context: { req: { raw: Request } }): Promise<Response> => handler(context.req.raw);
}
