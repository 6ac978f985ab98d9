// The request both the introspection (RFC 7662 §2.1) and revocation (RFC 7009 §2.1) endpoints take.

import { authenticateClient, type AuthenticateClientDependencies } from '../client-auth/index.js';
import { OAuthError, type TokenQuery, type TokenTypeHint } from '../core/index.js';
import { parseFormRequest, type HttpRequest } from '../request/index.js';

export interface ReadTokenQueryOptions {
  readonly maxBodyBytes: number;
  /** Whether a public client, identified by `client_id` alone, may call the endpoint. */
  readonly allowPublicClients: boolean;
}

/**
 * Parses the POSTed form, authenticates the client as the token endpoint does, and reads
 * `token` and `token_type_hint`. A hint that names no registered type is ignored
 * (RFC 7009 §2.1: "An invalid token type hint value is ignored").
 *
 * @throws OAuthError `invalid_request` for a bad request or a missing `token`;
 *   `invalid_client` (401) when client authentication fails.
 */
export async function readTokenQuery(
  request: HttpRequest,
  authentication: AuthenticateClientDependencies,
  options: ReadTokenQueryOptions,
): Promise<TokenQuery> {
  const { form, authorization } = await parseFormRequest(request, options);
  const { client, method } = await authenticateClient({ form, authorization, url: request.url }, authentication);
  if (method === 'none' && !options.allowPublicClients) {
    throw new OAuthError('invalidClient', {
      hint: 'This endpoint requires client authentication.',
      headers: { 'WWW-Authenticate': `Basic realm="${authentication.realm}"` },
    });
  }
  const token = form.get('token');
  if (token === undefined) {
    throw new OAuthError('invalidRequest', { hint: 'The token parameter is missing.' });
  }
  return { token, tokenTypeHint: toTokenTypeHint(form.get('token_type_hint')), client };
}

function toTokenTypeHint(value: string | undefined): TokenTypeHint | undefined {
  return value === 'access_token' || value === 'refresh_token' ? value : undefined;
}

/** Handlers for the hinted type first, the rest after in their composed order. */
export function orderByHint<Handler extends { readonly tokenType: TokenTypeHint }>(
  handlers: readonly Handler[],
  hint: TokenTypeHint | undefined,
): Handler[] {
  if (hint === undefined) return [...handlers];
  return [
    ...handlers.filter((handler) => handler.tokenType === hint),
    ...handlers.filter((handler) => handler.tokenType !== hint),
  ];
}
