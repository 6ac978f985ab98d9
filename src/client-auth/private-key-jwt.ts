// private_key_jwt: the client proves its identity with a JWT it signed with a key it registered
// (RFC 7523 §2.2 and §3, on the RFC 7521 §4.2 framework).

import {
  createLocalJWKSet,
  decodeJwt,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';
import { asymmetricJwsAlgorithms, isCompactJws, type Client, type Clock } from '../core/index.js';
import type { ReplayCache } from '../storage/index.js';

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const jwtBearerAssertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Signature algorithms accepted for client assertions: public-key ones only, never `none` or a MAC. */
export const clientAssertionAlgorithms = asymmetricJwsAlgorithms;

/** An assertion may be valid for at most this long from now, so its replay entry stays short-lived. */
export const maxAssertionLifetimeSeconds = 3600;

/** Leeway for `exp` and `nbf` between the client's clock and ours. */
export const assertionClockToleranceSeconds = 30;

export interface ClientAssertionVerifierOptions {
  /**
   * What `aud` may name (§3 rule 3): the issuer identifier and the token endpoint URL. One of
   * them must be in the assertion's `aud`.
   */
  readonly audiences: readonly string[];
  /** Remembers each accepted `jti` until the assertion expires (§3 rule 7). */
  readonly replay: ReplayCache;
  readonly clock: Clock;
}

/** Why an assertion was refused; the caller turns it into `invalid_client` (RFC 7521 §4.2.1). */
export class ClientAssertionError extends Error {
  override readonly name = 'ClientAssertionError';
}

/**
 * The client an assertion claims to come from (its `sub`, which §3 rule 2 makes the client id),
 * read without verifying anything: it only says whose keys to verify it with.
 *
 * @throws ClientAssertionError when the assertion is not a JWT or has no string `sub`.
 */
export function assertedClientId(assertion: string): string {
  // RFC 7515 §5.2: exactly base64url; jose would also read variants of it (a space, `=` padding).
  if (!isCompactJws(assertion)) throw new ClientAssertionError('The client assertion is not a JWT.');
  let claims;
  try {
    claims = decodeJwt(assertion);
  } catch {
    throw new ClientAssertionError('The client assertion is not a JWT.');
  }
  if (typeof claims.sub !== 'string' || claims.sub === '') {
    throw new ClientAssertionError('The client assertion has no subject.');
  }
  return claims.sub;
}

/**
 * {@link assertedClientId} for logs and rate limits: the client an assertion names, unverified,
 * or undefined when there is no assertion or it names none.
 */
export function presentedAssertionClientId(assertion: string | null | undefined): string | undefined {
  if (assertion === null || assertion === undefined) return undefined;
  try {
    return assertedClientId(assertion);
  } catch {
    return undefined;
  }
}

/**
 * Verifies a client's JWT assertion with `jose` against the keys the client registered:
 * signature (asymmetric algorithms only; only its `token_endpoint_auth_signing_alg` when the
 * client's metadata names one), `iss` and `sub` equal to the client id, an accepted
 * `aud`, `exp` in the future but at most {@link maxAssertionLifetimeSeconds} ahead, `nbf`, and
 * a `jti` never accepted before. `jti` is required: without it a captured assertion could be
 * replayed until it expires.
 *
 * @throws ClientAssertionError when any of that fails.
 */
export async function verifyClientAssertion(
  assertion: string,
  client: Client,
  options: ClientAssertionVerifierOptions,
): Promise<void> {
  if (!client.jwks || client.jwks.keys.length === 0) {
    throw new ClientAssertionError('The client has registered no keys.');
  }
  if (!isCompactJws(assertion)) throw new ClientAssertionError('The client assertion is not a JWT.');
  const nowMs = options.clock.now();
  const verifyOptions: JWTVerifyOptions = {
    algorithms: acceptedAlgorithms(client),
    issuer: client.id,
    subject: client.id,
    audience: [...options.audiences],
    requiredClaims: ['exp', 'jti'],
    currentDate: new Date(nowMs),
    clockTolerance: assertionClockToleranceSeconds,
  };
  let payload;
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks as JSONWebKeySet), verifyOptions));
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) {
      throw new ClientAssertionError(describeRefusal(error), { cause: error });
    }
    // Several registered keys fit the header (no kid, say): the assertion is good if one verifies it.
    payload = await verifyWithAnyOf(error, assertion, verifyOptions);
  }
  const exp = payload.exp!;
  if (exp * 1000 > nowMs + maxAssertionLifetimeSeconds * 1000) {
    throw new ClientAssertionError(`The client assertion is valid for more than ${maxAssertionLifetimeSeconds} s.`);
  }
  if (typeof payload.jti !== 'string' || payload.jti === '') {
    throw new ClientAssertionError('The client assertion has no jti.');
  }
  // The jti is kept in the replay cache; control characters have no place in an identifier
  // (and PostgreSQL cannot store U+0000).
  if (/[\u0000-\u001f\u007f]/.test(payload.jti)) {
    throw new ClientAssertionError('The client assertion has a jti with control characters.');
  }
  // Kept until the assertion could no longer be accepted, tolerance included. The key names the
  // client too, so two clients' ids never collide.
  const key = `${client.id.length}:${client.id}:${payload.jti}`;
  // jose judges exp against the current whole second, so an exp with a fraction (RFC 7519 §2,
  // NumericDate) is accepted until the end of the second it falls in: kept that long too.
  const expiresAt = Math.ceil(exp + assertionClockToleranceSeconds) * 1000;
  if (!(await options.replay.markUsed(key, expiresAt, nowMs))) {
    throw new ClientAssertionError('The client assertion was already used.');
  }
}

/**
 * The algorithms a client's assertions may be signed with: the one it registered as
 * `token_endpoint_auth_signing_alg` (RFC 7591 §2: it "MUST be used"), else any public-key one.
 */
function acceptedAlgorithms(client: Client): string[] {
  const registered = client.metadata?.token_endpoint_auth_signing_alg;
  if (registered === undefined) return [...clientAssertionAlgorithms];
  if (!clientAssertionAlgorithms.some((alg) => alg === registered)) {
    throw new ClientAssertionError('The client registered a token_endpoint_auth_signing_alg that is not accepted.');
  }
  return [registered as string];
}

async function verifyWithAnyOf(
  candidates: errors.JWKSMultipleMatchingKeys,
  assertion: string,
  verifyOptions: JWTVerifyOptions,
): Promise<JWTPayload> {
  let lastError: unknown = candidates;
  for await (const key of candidates as unknown as AsyncIterable<CryptoKey>) {
    try {
      return (await jwtVerify(assertion, key, verifyOptions)).payload;
    } catch (error) {
      lastError = error;
      // Another key may still verify it; any other failure is the assertion's own.
      if (!(error instanceof errors.JWSSignatureVerificationFailed)) break;
    }
  }
  throw new ClientAssertionError(describeRefusal(lastError), { cause: lastError });
}

/** A short reason for the log and the debug hint; never the assertion itself. */
function describeRefusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The client assertion has expired.';
  if (error instanceof errors.JWTClaimValidationFailed) {
    return `The client assertion's "${error.claim}" claim is not acceptable.`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed)
    return 'The client assertion is signed with an algorithm not accepted.';
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return 'No single registered key of the client matches the client assertion.';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The client assertion signature is not valid.';
  return 'The client assertion is not a valid JWT.';
}
