// The handler contracts of the token, introspection and revocation endpoints, after fosite's.

import type { AccessRequest, AccessResponse } from './access-request.js';
import type { Client } from './client.js';

/** What is known of a token request before the client is authenticated. */
export interface TokenRequestPreview {
  readonly grantType: string;
  readonly form: ReadonlyMap<string, string>;
}

/**
 * Handles one grant at the token endpoint. The provider picks the handler whose
 * `canHandleTokenEndpointRequest` is true, authenticates the client unless
 * `canSkipClientAuth` says otherwise, then calls the two phases in order.
 */
export interface TokenEndpointHandler {
  readonly kind: 'token-endpoint';
  /** The registered `grant_type` this handler serves, for metadata. */
  readonly grantType: string;
  canHandleTokenEndpointRequest(request: TokenRequestPreview): boolean;
  /** True for grants whose request itself proves the client (none so far). */
  canSkipClientAuth(request: TokenRequestPreview): boolean;
  /**
   * Validates the request and decides what is granted.
   * @returns the request with `grantedScopes` and `grantedAudience` set.
   * @throws OAuthError with the grant's error codes.
   */
  handleTokenEndpointRequest(request: AccessRequest): Promise<AccessRequest>;
  /** Issues the token(s). */
  populateTokenEndpointResponse(request: AccessRequest): Promise<AccessResponse>;
}

/** Token type identifiers of the RFC 7009 §4.1.2 registry, as used in `token_type_hint`. */
export type TokenTypeHint = 'access_token' | 'refresh_token';

/** What an introspector or revocation handler is asked about a presented token. */
export interface TokenQuery {
  /** The token exactly as presented. */
  readonly token: string;
  /** The caller's `token_type_hint`, when it named a registered type; only a hint. */
  readonly tokenTypeHint: TokenTypeHint | undefined;
  /** The authenticated client asking. */
  readonly client: Client;
}

/** An active token as introspection reports it (RFC 7662 §2.2), in domain spelling. */
export interface IntrospectedToken {
  readonly tokenUse: TokenTypeHint;
  readonly clientId: string;
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly audience: readonly string[];
  readonly issuer: string;
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly notBefore?: number;
  /** `jti`: the JWT id, or the signature of an opaque token. */
  readonly tokenId: string;
}

/**
 * Looks up tokens of one type for the introspection endpoint, after fosite's `TokenIntrospector`.
 * The provider asks each introspector in turn, those for the hinted type first.
 */
export interface TokenIntrospector {
  readonly kind: 'token-introspector';
  /** The type of token this introspector knows. */
  readonly tokenType: TokenTypeHint;
  /**
   * Returns the token when it is active and `query.client` may see it; undefined otherwise,
   * whatever the reason (unknown, malformed, expired, revoked, not the caller's to see).
   */
  introspectToken(query: TokenQuery): Promise<IntrospectedToken | undefined>;
}

/**
 * What a revocation handler did with a presented token: `revoked` (or already unusable),
 * `unknown` when it is not a token of this handler's type, `not-owner` when the token is
 * active but was issued to another client, `unsupported` when the handler recognises the
 * token but cannot revoke tokens of its type.
 */
export type RevocationOutcome = 'revoked' | 'unknown' | 'not-owner' | 'unsupported';

/**
 * Revokes tokens of one type at the revocation endpoint, after fosite's `RevocationHandler`.
 * The provider asks each handler in turn, those for the hinted type first, until one knows
 * the token.
 */
export interface RevocationHandler {
  readonly kind: 'revocation-handler';
  readonly tokenType: TokenTypeHint;
  revokeToken(query: TokenQuery): Promise<RevocationOutcome>;
}
