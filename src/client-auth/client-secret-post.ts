// client_secret_post: credentials in the request body (RFC 6749 §2.3.1).

import type { PresentedCredentials } from './client-secret-basic.js';

/**
 * Reads `client_secret_post` credentials from a decoded form body.
 * Returns undefined when the body carries no `client_secret`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function clientSecretPost(form: ReadonlyMap<string, string>): PresentedCredentials | undefined {
  const clientSecret = form.get('client_secret');
  if (clientSecret === undefined) return undefined;
  return { clientId: form.get('client_id') ?? '', clientSecret };
}
