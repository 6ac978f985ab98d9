// The registered client, RFC 6749 §2, with RFC 7591 metadata names in camelCase.

/** A client authentication method registered for the token endpoint (RFC 7591 §2). */
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';

/** A registered client. Plain readonly data, so tests can write one as a literal. */
export interface Client {
  /** `client_id`. */
  readonly id: string;
  /** The secret's hash as produced by the configured {@link SecretHasher}; never the secret itself. */
  readonly secretHash?: string;
  /** `grant_types` the client may use. */
  readonly grantTypes: readonly string[];
  /** Scopes the client may be granted (`scope`, split on spaces). */
  readonly scopes: readonly string[];
  /** Scopes granted when a request names none; empty by default. */
  readonly defaultScopes?: readonly string[];
  /** Audiences the client may request. */
  readonly audience: readonly string[];
  /**
   * The registered `token_endpoint_auth_method`. When absent the client may use either
   * `client_secret_basic` or `client_secret_post` (or `none` when it has no secret).
   */
  readonly tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** A JWK Set for `private_key_jwt` (RFC 7591 `jwks`). */
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] };
  /** Free-form metadata kept with the client. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Creation and last secret change, in milliseconds since the epoch. */
  readonly createdAt?: number;
  readonly secretUpdatedAt?: number;
}

/** A client is public when it registered `none`, or registered nothing and has no secret. */
export function isPublicClient(client: Client): boolean {
  if (client.tokenEndpointAuthMethod) return client.tokenEndpointAuthMethod === 'none';
  return client.secretHash === undefined;
}
