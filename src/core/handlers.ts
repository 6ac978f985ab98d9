// The phases a token-endpoint handler goes through, after fosite's handler contracts.

import type { AccessRequest, AccessResponse } from './access-request.js';

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
