// Token introspection endpoint, RFC 7662 §2.

import type { Client, IntrospectedToken, TokenIntrospector, TokenQuery } from '../core/index.js';
import { orderByHint } from './token-query.js';

/** A decided introspection request: the caller, and the token when it is active and visible. */
export interface IntrospectionRequest {
  readonly client: Client;
  readonly active: boolean;
  /** Present exactly when `active` is true. */
  readonly token?: IntrospectedToken;
}

/**
 * Asks each introspector, the hinted type first, and stops at the first that knows the token.
 * RFC 7662 §2.1: when the hint is wrong the server "MAY ... extend its search".
 */
export async function introspect(
  query: TokenQuery,
  introspectors: readonly TokenIntrospector[],
): Promise<IntrospectionRequest> {
  for (const introspector of orderByHint(introspectors, query.tokenTypeHint)) {
    const token = await introspector.introspectToken(query);
    if (token) return { client: query.client, active: true, token };
  }
  return { client: query.client, active: false };
}

/**
 * The §2.2 response body. An inactive token gets `{"active":false}` and nothing else, so the
 * caller never learns why.
 */
export function toIntrospectionBody(introspection: IntrospectionRequest): Record<string, unknown> {
  const { token } = introspection;
  if (!introspection.active || !token) return { active: false };
  const body: Record<string, unknown> = {
    active: true,
    // §2.2's scope is a list of RFC 6749 §3.3 scope tokens, at least one: a token granted none
    // has no scope member, as its JWT has no scope claim.
    ...(token.scopes.length > 0 ? { scope: token.scopes.join(' ') } : {}),
    client_id: token.clientId,
    // §2.2 takes token_type from RFC 6749 §7.1; "Bearer" is the registered name (RFC 6750 §6.1.1).
    token_type: 'Bearer',
    exp: Math.floor(token.expiresAt / 1000),
    iat: Math.floor(token.issuedAt / 1000),
    sub: token.subject,
    aud: token.audience.length === 1 ? token.audience[0] : [...token.audience],
    iss: token.issuer,
    jti: token.tokenId,
  };
  if (token.notBefore !== undefined) body.nbf = Math.floor(token.notBefore / 1000);
  return body;
}
