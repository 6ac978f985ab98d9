// The token endpoint's request and response as domain objects (RFC 6749 §4.4.2, §5.1).

import type { Client } from './client.js';
import type { Session } from './session.js';

/** How the client proved who it is at the token endpoint. */
export type ClientAuthenticationMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';

/** A parsed, authenticated token request after its handler granted scopes and audience. */
export interface AccessRequest {
  /** A random id for logs and token records. */
  readonly id: string;
  readonly requestedAt: number;
  readonly grantType: string;
  readonly client: Client;
  readonly clientAuthenticationMethod: ClientAuthenticationMethod;
  readonly requestedScopes: readonly string[];
  readonly grantedScopes: readonly string[];
  readonly requestedAudience: readonly string[];
  readonly grantedAudience: readonly string[];
  /** Every form parameter, decoded, for handlers that need more than the common ones. */
  readonly form: ReadonlyMap<string, string>;
  readonly session: Session;
}

/** The successful token response before it is written as JSON. */
export interface AccessResponse {
  readonly accessToken: string;
  readonly tokenType: 'bearer';
  /** Seconds until expiry. */
  readonly expiresIn: number;
  readonly grantedScopes: readonly string[];
  readonly refreshToken?: string;
  /** Further response parameters, already in wire spelling. */
  readonly extra?: Readonly<Record<string, unknown>>;
}
