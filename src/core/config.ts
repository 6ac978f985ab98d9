// Provider configuration: what compose() checks once at start-up.

import type { Clock } from './clock.js';

/** Decides whether a client allowed `allowed` scopes may be granted `requested`. */
export type ScopeStrategy = (allowed: readonly string[], requested: string) => boolean;

/** Decides whether a client allowed `allowed` audiences may be granted `requested`. */
export type AudienceStrategy = (allowed: readonly string[], requested: string) => boolean;

/** Everything a provider can be told. Factories take a `Pick` of what they read. */
export interface ProviderConfig {
  /** `iss` of issued tokens and the base of metadata URLs, e.g. `https://auth.example.com`. */
  readonly issuer: string;
  /** Access-token lifetime in seconds. Default 3600. */
  readonly accessTokenLifespan: number;
  readonly clock: Clock;
  readonly scopeStrategy: ScopeStrategy;
  readonly audienceStrategy: AudienceStrategy;
  /** `aud` of a token whose request named no audience (RFC 9068 §2.2 requires one). Default: the issuer. */
  readonly defaultAudience: readonly string[];
  /** Sends `error_hint` and `error_debug` to clients. Off by default: they can reveal internals. */
  readonly exposeDebug: boolean;
  /** Largest accepted request body in bytes. Default 64 KiB. */
  readonly maxBodyBytes: number;
  /** The realm named in `WWW-Authenticate` challenges. */
  readonly realm: string;
  /**
   * Issue JWTs without a token record: no write per token, but revocation then works only
   * through the deny-list of `jti`s. Default false.
   */
  readonly statelessAccessTokens: boolean;
  /** `scopes_supported` published in the authorization server metadata (RFC 8414 §2); omitted when unset. */
  readonly scopesSupported?: readonly string[];
  /** Told of every `server_error` with its cause, for logging. Never sent to clients. */
  readonly reportError: (error: Error) => void;
}

/**
 * The issuer as tokens and metadata name it: trailing slashes removed, so `https://as.example/`
 * and `https://as.example` are one issuer wherever it is configured (compose() and the JWT
 * strategy both read it through this).
 */
export function canonicalIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, '');
}
