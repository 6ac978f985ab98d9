// Asks the authorization server whether a token is still active, RFC 7662 §2, to learn of revocation.

import { OAuthError } from '../core/index.js';
import { readBoundedText } from './bounded-response.js';

/** How a resource server reaches the introspection endpoint, as a client of the authorization server. */
export interface IntrospectionCheckOptions {
  /** The `introspection_endpoint` from the authorization server's metadata. */
  readonly endpoint: string | URL;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Default `client_secret_basic`. */
  readonly authMethod?: 'client_secret_basic' | 'client_secret_post';
  /** Seconds one call may take. Default 5. */
  readonly timeout?: number;
  /** Replaces the global `fetch`, e.g. to add a proxy or an agent. */
  readonly fetch?: typeof fetch;
}

/**
 * Asks the introspection endpoint about `token`; returns only when it answers `"active": true`.
 *
 * @throws OAuthError `invalid_token` when the token is not active (revoked, expired, unknown);
 *   `temporarily_unavailable` when the endpoint cannot be reached or answers unexpectedly.
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export async function checkTokenIsActive(token: string, options: IntrospectionCheckOptions): Promise<void> {
  const { clientId, clientSecret, authMethod = 'client_secret_basic', timeout = 5 } = options;
  const body = new URLSearchParams({ token, token_type_hint: 'access_token' });
  const headers: Record<string, string> = {
    'Content-Type': 'application/x-www-form-urlencoded',
    Accept: 'application/json',
  };
  if (authMethod === 'client_secret_basic') {
    // RFC 6749 §2.3.1: id and secret are form-encoded (so plain ASCII) before they are joined
    // and base64-encoded.
    headers.Authorization = `Basic ${btoa(`${formEncode(clientId)}:${formEncode(clientSecret)}`)}`;
  } else {
    body.set('client_id', clientId);
    body.set('client_secret', clientSecret);
  }

  let answer: unknown;
  try {
    const response = await (options.fetch ?? fetch)(new URL(options.endpoint), {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      // Whole milliseconds: node's timers refuse a fraction, which would fail every check.
      signal: AbortSignal.timeout(Math.ceil(timeout * 1000)),
    });
    if (response.status !== 200) {
      // Left unread, the body would hold its connection until garbage collection.
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`the introspection endpoint answered HTTP ${response.status}`);
    }
    answer = JSON.parse(await readBoundedText(response));
  } catch (cause) {
    throw new OAuthError('temporarilyUnavailable', {
      description: 'The access token could not be checked with the authorization server.',
      cause,
    });
  }
  if (typeof answer !== 'object' || answer === null || typeof (answer as { active?: unknown }).active !== 'boolean') {
    throw new OAuthError('temporarilyUnavailable', {
      description: 'The access token could not be checked with the authorization server.',
      debug: 'the introspection response has no boolean "active" member',
    });
  }
  if ((answer as { active: boolean }).active !== true) {
    throw new OAuthError('invalidToken', { description: 'The access token is not active.' });
  }
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
