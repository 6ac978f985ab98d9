// Express mount: hands the untouched request to the provider. Mount it before any body parser.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpHandler } from '../provider/index.js';
import { handle } from './node.js';

/**
 * Returns Express middleware serving `handler`. The provider reads the raw body itself, so the
 * route must not pass through `express.json()` or `express.urlencoded()` first.
 *
 * @example
 * app.use('/oauth2', expressHandler(createRouter(provider, { token: '/oauth2/token' })));
 */
export function expressHandler(handler: HttpHandler) {
  return (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse): void => {
    handle(handler, req, res, req.originalUrl ?? req.url);
  };
}
