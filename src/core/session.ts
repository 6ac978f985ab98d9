// Session data that travels with a request and shapes the issued token.

/**
 * What the application adds to a token request. For the client credentials grant the subject
 * is the client itself, so most callers pass an empty session.
 */
export interface Session {
  /** `sub` of the issued token; defaults to the client id for the client credentials grant. */
  readonly subject?: string;
  /** Extra claims for a JWT access token; registered claims cannot be overridden. */
  readonly extraClaims?: Readonly<Record<string, unknown>>;
}
