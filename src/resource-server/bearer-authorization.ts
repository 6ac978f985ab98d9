// Bearer token usage at a resource server, RFC 6750: reading the token (§2.1) and the challenge (§3).

import { OAuthError, toOAuthError } from '../core/index.js';
import { reportingSafely } from '../core/report-error.js';
import { hasLaterSchemeElement, startsWithSchemeThenWhiteSpace, trimOptionalWhiteSpace } from '../request/index.js';
import type { AccessTokenVerifier, VerifiedAccessToken } from './verify-access-token.js';

/** What a request offers for Bearer authorization, as an adapter reads it. */
export interface BearerRequest {
  /** The `Authorization` header, if any. */
  readonly authorization: string | null | undefined;
  /** Whether the URL also carries an `access_token` query parameter (RFC 6750 §2.3). */
  readonly hasAccessTokenParameter?: boolean;
}

/** Options of the resource-server middleware. */
export interface BearerAuthOptions {
  readonly verifier: AccessTokenVerifier;
  /** The `realm` of the challenge. Default `api`. */
  readonly realm?: string;
  /** Scopes this route needs, on top of the verifier's. */
  readonly requiredScopes?: readonly string[];
  /** Told of failures that are not the client's fault (5xx), for logging. What it throws is ignored. */
  readonly reportError?: (error: Error) => void;
}

/** An answer refusing the request: status, headers (with `WWW-Authenticate`) and body. */
export interface BearerChallenge {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON `{ error, error_description }`, or null when no error code is sent (§3.1). */
  readonly body: string | null;
}

export type BearerAuthorization =
  | { readonly ok: true; readonly auth: VerifiedAccessToken }
  | { readonly ok: false; readonly challenge: BearerChallenge };

/** RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. */
const b64token = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Reads the token of an `Authorization: Bearer` header (§2.1). The scheme is matched without
 * regard to case (RFC 9110 §11.1).
 *
 * @returns undefined when the header is absent or names another scheme.
 * @throws OAuthError `invalid_request` when the Bearer credentials are not well formed.
 */
export function readBearerToken(authorization: string | null | undefined): string | undefined {
  if (!authorization) return undefined;
  const trimmed = trimOptionalWhiteSpace(authorization);
  // Split at the first space by hand: a pattern with a run of spaces before a part that may fail
  // (at a line break, say) retried the rest of the header once per space.
  const gap = trimmed.indexOf(' ');
  const scheme = gap === -1 ? trimmed : trimmed.slice(0, gap);
  // A bare Bearer ending the first list element (`Bearer,`, or `Bearer, Basic …` from two
  // fields joined): presented without its token, so malformed (§3.1), as a bare `Bearer` is. An
  // empty list element after it counts for nothing (RFC 9110 §5.6.1).
  const comma = trimmed.indexOf(',');
  if (comma !== -1 && (gap === -1 || comma < gap) && trimmed.slice(0, comma).toLowerCase() === 'bearer') {
    const others = trimmed.slice(comma + 1).replace(/[ \t,]/g, '') !== '';
    throw new OAuthError('invalidRequest', {
      description: others
        ? 'The request offers Bearer credentials together with other credentials.'
        : 'The Bearer authorization carries no access token.',
    });
  }
  if (scheme.toLowerCase() !== 'bearer') {
    // The Bearer scheme, then a tab or other white space: a token presented against the §2.1
    // syntax (`"Bearer" 1*SP b64token`), so malformed (§3.1), never read as no credentials.
    if (startsWithSchemeThenWhiteSpace(trimmed, 'bearer')) {
      throw new OAuthError('invalidRequest', {
        description: 'Only spaces may separate the Bearer scheme from the access token.',
      });
    }
    // Fields sent twice arrive joined with commas: Bearer credentials after another scheme's
    // are a second method in one request (§2), malformed rather than absent (§3.1).
    if (hasLaterSchemeElement(authorization, 'bearer')) {
      throw new OAuthError('invalidRequest', {
        description: 'The request offers Bearer credentials together with other credentials.',
      });
    }
    return undefined;
  }
  let start = gap === -1 ? trimmed.length : gap;
  while (trimmed.charCodeAt(start) === 0x20) start++;
  const token = trimmed.slice(start);
  if (token === '') {
    throw new OAuthError('invalidRequest', { description: 'The Bearer authorization carries no access token.' });
  }
  if (!b64token.test(token)) {
    throw new OAuthError('invalidRequest', { description: 'The Bearer authorization is malformed.' });
  }
  return token;
}

/**
 * True when the URL's query has an `access_token` parameter. Only the query is read, so a
 * target that is not a valid URL (a bad port, say) cannot hide the parameter.
 */
export function hasAccessTokenParameter(url: string): boolean {
  const fragment = url.indexOf('#');
  const target = fragment === -1 ? url : url.slice(0, fragment);
  const start = target.indexOf('?');
  return start !== -1 && new URLSearchParams(target.slice(start + 1)).has('access_token');
}

/**
 * Creates the framework-neutral core of the resource-server middleware: it reads the token,
 * verifies it and either returns the verified token or the RFC 6750 §3 challenge to answer with.
 *
 * @throws TypeError when the realm cannot be written in a quoted string, or a required scope (the
 *   route's or the verifier's) is not an RFC 6749 §3.3 scope name.
 * @example
 * const authorize = createBearerAuthorizer({ verifier, realm: 'invoices', requiredScopes: ['invoices:read'] });
 * const result = await authorize({ authorization: request.headers.get('authorization') });
 * if (!result.ok) return bearerChallengeResponse(result.challenge);
 */
export function createBearerAuthorizer(
  options: BearerAuthOptions,
): (request: BearerRequest) => Promise<BearerAuthorization> {
  const { verifier, realm = 'api', requiredScopes = [] } = options;
  const reportError = reportingSafely(options.reportError ?? (() => undefined));
  if (!isQuotable(realm)) throw new TypeError('realm must be printable ASCII without quotes or backslashes');
  // §3: an insufficient_scope challenge names every scope needed, the verifier's own included.
  const challengeScopes = [...new Set([...(verifier.requiredScopes ?? []), ...requiredScopes])];
  // Checked now, not per request: they go quoted into the challenge's scope attribute.
  for (const scope of challengeScopes) {
    if (!isScopeToken(scope)) throw new TypeError(`${JSON.stringify(scope)} is not a valid scope name (RFC 6749 §3.3)`);
  }

  return async (request) => {
    let token: string | undefined;
    try {
      token = readBearerToken(request.authorization);
      if (token !== undefined && request.hasAccessTokenParameter) {
        throw new OAuthError('invalidRequest', {
          description: 'The access token was sent in more than one way.',
        });
      }
    } catch (error) {
      return { ok: false, challenge: writeBearerChallenge(toOAuthError(error), realm, challengeScopes) };
    }
    if (token === undefined) {
      // §3.1: a request without any authentication gets a challenge without an error code.
      return {
        ok: false,
        challenge: {
          status: 401,
          headers: { 'WWW-Authenticate': `Bearer realm="${realm}"`, 'Cache-Control': 'no-store' },
          body: null,
        },
      };
    }
    try {
      return { ok: true, auth: await verifier.verify(token, requiredScopes) };
    } catch (thrown) {
      const error = toOAuthError(thrown);
      if (error.status >= 500) reportError(error);
      return { ok: false, challenge: writeBearerChallenge(error, realm, challengeScopes) };
    }
  };
}

/**
 * The RFC 6750 §3 answer to an error: the status, a `WWW-Authenticate: Bearer` challenge with
 * `error` and `error_description` (and `scope` for `insufficient_scope`), and a JSON body.
 * Failures of the server itself (5xx) carry no challenge: the token was not judged.
 */
export function writeBearerChallenge(
  error: OAuthError,
  realm: string,
  requiredScopes: readonly string[] = [],
): BearerChallenge {
  const body = JSON.stringify({ error: error.code, error_description: error.description });
  const headers: Record<string, string> = {
    'Content-Type': 'application/json;charset=UTF-8',
    'Cache-Control': 'no-store',
  };
  if (error.status < 500) {
    const parts = [`realm="${realm}"`, `error="${error.code}"`];
    parts.push(`error_description="${toQuotable(error.description)}"`);
    if (error.code === 'insufficient_scope' && requiredScopes.length > 0) {
      parts.push(`scope="${requiredScopes.join(' ')}"`);
    }
    headers['WWW-Authenticate'] = `Bearer ${parts.join(', ')}`;
  } else if (error.code === 'temporarily_unavailable') {
    headers['Retry-After'] = '1';
  }
  return { status: error.status, headers, body };
}

/** The challenge as a web Response, for fetch-style frameworks. */
export function bearerChallengeResponse(challenge: BearerChallenge): Response {
  return new Response(challenge.body, { status: challenge.status, headers: challenge.headers });
}

function isQuotable(value: string): boolean {
  return /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/.test(value);
}

/** RFC 6749 §3.3 scope-token, which RFC 6750 §3 puts in the quoted `scope` attribute. */
function isScopeToken(value: unknown): boolean {
  return typeof value === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(value);
}

/** §3: error_description uses %x20-21 / %x23-5B / %x5D-7E only. */
function toQuotable(value: string): string {
  return value.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "'");
}
