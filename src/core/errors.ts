// OAuth 2.0 error responses, RFC 6749 §5.2, and the one error type every part throws.

/**
 * Every error the library can produce, by name. Mirrors fosite's `errors.go` entry for entry;
 * where fosite's HTTP status differs from the RFC, the RFC wins (see README, "Differences from fosite").
 */
export const errorDefinitions = {
  invalidRequest: {
    code: 'invalid_request',
    status: 400,
    description:
      'The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.',
  },
  unauthorizedClient: {
    code: 'unauthorized_client',
    // RFC 6749 §5.2 answers 400 unless stated otherwise; fosite sends 401.
    status: 400,
    description: 'The client is not authorized to request a token using this method.',
  },
  accessDenied: {
    code: 'access_denied',
    status: 403,
    description: 'The resource owner or authorization server denied the request.',
  },
  unsupportedResponseType: {
    code: 'unsupported_response_type',
    status: 400,
    description: 'The authorization server does not support obtaining a token using this method.',
  },
  unsupportedResponseMode: {
    code: 'unsupported_response_mode',
    status: 400,
    description: 'The authorization server does not support this response mode.',
  },
  invalidScope: {
    code: 'invalid_scope',
    status: 400,
    description: 'The requested scope is invalid, unknown, or malformed.',
  },
  serverError: {
    code: 'server_error',
    status: 500,
    description:
      'The authorization server encountered an unexpected condition that prevented it from fulfilling the request.',
  },
  temporarilyUnavailable: {
    code: 'temporarily_unavailable',
    status: 503,
    description:
      'The authorization server is currently unable to handle the request due to a temporary overloading or maintenance of the server.',
  },
  unsupportedGrantType: {
    code: 'unsupported_grant_type',
    status: 400,
    description: 'The authorization grant type is not supported by the authorization server.',
  },
  invalidGrant: {
    code: 'invalid_grant',
    status: 400,
    description:
      'The provided authorization grant or refresh token is invalid, expired, revoked, or was issued to another client.',
  },
  invalidClient: {
    code: 'invalid_client',
    status: 401,
    description:
      'Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).',
  },
  invalidState: {
    code: 'invalid_state',
    status: 400,
    description: 'The state is missing or too short and is therefore considered too weak.',
  },
  misconfiguration: {
    code: 'misconfiguration',
    status: 500,
    description: 'The request failed because of an internal error that is probably caused by misconfiguration.',
  },
  insufficientEntropy: {
    code: 'insufficient_entropy',
    status: 400,
    description: 'The request used a security parameter (e.g., anti-replay, anti-csrf) with insufficient entropy.',
  },
  notFound: {
    code: 'not_found',
    status: 404,
    description: 'Could not find the requested resource(s).',
  },
  requestUnauthorized: {
    code: 'request_unauthorized',
    status: 401,
    description: 'The request could not be authorized.',
  },
  requestForbidden: {
    code: 'request_forbidden',
    status: 403,
    description: 'The request is not allowed.',
  },
  invalidTokenFormat: {
    code: 'invalid_token',
    status: 400,
    description: 'Invalid token format.',
  },
  tokenSignatureMismatch: {
    code: 'token_signature_mismatch',
    status: 400,
    description: 'Token signature mismatch.',
  },
  tokenExpired: {
    code: 'invalid_token',
    status: 401,
    description: 'Token expired.',
  },
  scopeNotGranted: {
    code: 'scope_not_granted',
    status: 403,
    description: 'The token was not granted the requested scope.',
  },
  tokenClaim: {
    code: 'token_claim',
    status: 401,
    description: 'The token failed validation due to a claim mismatch.',
  },
  inactiveToken: {
    code: 'token_inactive',
    status: 401,
    description: 'Token is inactive because it is malformed, expired or otherwise invalid.',
  },
  loginRequired: {
    code: 'login_required',
    status: 400,
    description: 'The authorization server requires end-user authentication.',
  },
  interactionRequired: {
    code: 'interaction_required',
    status: 400,
    description: 'The authorization server requires end-user interaction of some form to proceed.',
  },
  consentRequired: {
    code: 'consent_required',
    status: 400,
    description: 'The authorization server requires end-user consent.',
  },
  requestNotSupported: {
    code: 'request_not_supported',
    status: 400,
    description: 'The OP does not support use of the request parameter.',
  },
  requestUriNotSupported: {
    code: 'request_uri_not_supported',
    status: 400,
    description: 'The OP does not support use of the request_uri parameter.',
  },
  registrationNotSupported: {
    code: 'registration_not_supported',
    status: 400,
    description: 'The OP does not support use of the registration parameter.',
  },
  invalidRequestUri: {
    code: 'invalid_request_uri',
    status: 400,
    description: 'The request_uri in the authorization request returns an error or contains invalid data.',
  },
  invalidRequestObject: {
    code: 'invalid_request_object',
    status: 400,
    description: 'The request parameter contains an invalid request object.',
  },
  jtiKnown: {
    code: 'jti_known',
    status: 400,
    description: 'The jti was already used.',
  },
  authorizationPending: {
    code: 'authorization_pending',
    status: 400,
    description: 'The authorization request is still pending as the end user has not yet completed it.',
  },
  slowDown: {
    code: 'slow_down',
    status: 400,
    description: 'The client is polling too quickly and should back off.',
  },
  expiredToken: {
    code: 'expired_token',
    status: 400,
    description: 'The device code has expired.',
  },
  unsupportedTokenType: {
    code: 'unsupported_token_type',
    status: 400,
    description: 'The authorization server does not support the revocation of the presented token type.',
  },
  invalidToken: {
    // RFC 6750 §3.1, answered by resource servers.
    code: 'invalid_token',
    status: 401,
    description: 'The access token provided is expired, revoked, malformed, or invalid for other reasons.',
  },
  insufficientScope: {
    // RFC 6750 §3.1, answered by resource servers.
    code: 'insufficient_scope',
    status: 403,
    description: 'The request requires higher privileges than provided by the access token.',
  },
  tooManyRequests: {
    code: 'too_many_requests',
    status: 429,
    description: 'Too many failed attempts; retry later.',
  },
} as const satisfies Record<string, { code: string; status: number; description: string }>;

/** The name of an entry in {@link errorDefinitions}. */
export type OAuthErrorName = keyof typeof errorDefinitions;

/** A wire error code, such as `invalid_request`. */
export type OAuthErrorCode = (typeof errorDefinitions)[OAuthErrorName]['code'];

/** Extra detail for one thrown error. */
export interface OAuthErrorOptions {
  /** What the caller should fix; sent only when debug exposure is on. */
  readonly hint?: string;
  /** Internal detail for operators; sent only when debug exposure is on. */
  readonly debug?: string;
  /** Replaces the definition's description. */
  readonly description?: string;
  /** Replaces the definition's HTTP status (e.g. 405, 413) where HTTP is more precise. */
  readonly status?: number;
  /** Response headers, e.g. `WWW-Authenticate`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The underlying failure; logged, never sent. */
  readonly cause?: unknown;
}

/**
 * The one error type of the library: an RFC 6749 §5.2 error code with its HTTP status.
 *
 * @example
 * throw new OAuthError('invalidScope', { hint: 'scope "admin" is not allowed for this client' });
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  /** The definition this error was made from. */
  readonly errorName: OAuthErrorName;
  readonly code: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  readonly hint: string | undefined;
  readonly debug: string | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(errorName: OAuthErrorName, options: OAuthErrorOptions = {}) {
    const definition = errorDefinitions[errorName];
    const description = options.description ?? definition.description;
    super(options.hint ? `${description} ${options.hint}` : description, {
      cause: options.cause,
    });
    this.errorName = errorName;
    this.code = definition.code;
    this.status = options.status ?? definition.status;
    this.description = description;
    this.hint = options.hint;
    this.debug = options.debug;
    this.headers = options.headers ?? {};
  }

  /** The §5.2 JSON body; `hint` and `debug` only when `exposeDebug` is true. */
  toJSON(exposeDebug = false): Record<string, string> {
    const body: Record<string, string> = { error: this.code, error_description: this.description };
    if (exposeDebug && this.hint) body.error_hint = this.hint;
    if (exposeDebug && this.debug) body.error_debug = this.debug;
    return body;
  }
}

/** True when `value` is an {@link OAuthError}. */
export function isOAuthError(value: unknown): value is OAuthError {
  return value instanceof OAuthError;
}

/** Turns anything thrown into an OAuthError; unknown failures become `server_error` with the cause kept. */
export function toOAuthError(value: unknown): OAuthError {
  return isOAuthError(value) ? value : new OAuthError('serverError', { cause: value });
}
