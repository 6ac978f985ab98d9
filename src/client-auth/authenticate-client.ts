// Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3).

import { OAuthError, isPublicClient, type Client, type ClientAuthenticationMethod } from '../core/index.js';
import type { SecretHasher } from '../secrets/index.js';
import type { ClientStore } from '../storage/index.js';
import { clientSecretBasic } from './client-secret-basic.js';
import { clientSecretPost } from './client-secret-post.js';
import {
  ClientAssertionError,
  assertedClientId,
  jwtBearerAssertionType,
  verifyClientAssertion,
  type ClientAssertionVerifierOptions,
} from './private-key-jwt.js';

/** The client that proved its identity, and how. */
export interface AuthenticatedClient {
  readonly client: Client;
  readonly method: ClientAuthenticationMethod;
}

export interface AuthenticateClientDependencies {
  readonly clients: ClientStore;
  readonly hasher: SecretHasher;
  /** Realm of the `WWW-Authenticate` challenge. */
  readonly realm: string;
  /** Accepts `private_key_jwt` client assertions when given; without it they are refused. */
  readonly assertions?: ClientAssertionVerifierOptions & {
    /** Whose origin, with the path of the endpoint being called, is one more accepted `aud`. */
    readonly issuer: string;
  };
}

/** The parts of a parsed request that carry client credentials. */
export interface ClientAuthenticationInput {
  readonly form: ReadonlyMap<string, string>;
  readonly authorization: string | undefined;
  /** The request URL: its path names the endpoint, an accepted assertion audience. */
  readonly url?: string;
}

/**
 * Works out which single method the client used, finds the client and checks its credentials.
 *
 * Secrets come as `client_secret_basic` or `client_secret_post`; with `dependencies.assertions`,
 * a `private_key_jwt` client assertion is accepted too.
 *
 * @throws OAuthError `invalid_request` when both secret methods are used or the Basic, body or
 *   assertion client ids differ; `invalid_client` (401, with `WWW-Authenticate`) when no
 *   credentials are given, a client assertion comes with a secret (RFC 7521 §4.2.1), the client
 *   is unknown, the secret is wrong, the assertion fails a check of RFC 7523 §3, or the method is
 *   not the registered one.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
export async function authenticateClient(
  input: ClientAuthenticationInput,
  dependencies: AuthenticateClientDependencies,
): Promise<AuthenticatedClient> {
  const { realm } = dependencies;

  const basic = clientSecretBasic(input.authorization);
  const post = clientSecretPost(input.form);
  const bodyClientId = input.form.get('client_id');

  // §2.3: "The client MUST NOT use more than one authentication method in each request."
  if (basic && post) {
    throw new OAuthError('invalidRequest', {
      hint: 'Use either HTTP Basic or client_secret in the body, not both.',
    });
  }
  const assertion = input.form.get('client_assertion');
  const assertionType = input.form.get('client_assertion_type');
  if (assertion !== undefined || assertionType !== undefined) {
    // RFC 7521 §4.2.1: "if more than one client authentication mechanism is used", the error
    // "MUST be the invalid_client error code" (401, with the Basic challenge when Basic was sent).
    if (basic || post) throw invalidClient(realm, 'Use either a client assertion or a client secret, not both.');
    // RFC 7521 §4.2: both parameters are REQUIRED.
    if (assertion === undefined || assertionType === undefined) {
      throw new OAuthError('invalidRequest', { hint: 'client_assertion and client_assertion_type go together.' });
    }
    if (!dependencies.assertions) throw invalidClient(realm, 'Client assertions are not supported by this endpoint.');
    if (assertionType !== jwtBearerAssertionType) {
      throw invalidClient(realm, `The only client_assertion_type supported is ${jwtBearerAssertionType}.`);
    }
    const { issuer, ...verifier } = dependencies.assertions;
    const endpoint = endpointUrl(issuer, input.url);
    const audiences = endpoint ? [...verifier.audiences, endpoint] : verifier.audiences;
    return authenticateWithAssertion(assertion, bodyClientId, dependencies, { ...verifier, audiences });
  }
  if (basic && bodyClientId !== undefined && bodyClientId !== basic.clientId) {
    throw new OAuthError('invalidRequest', {
      hint: 'The client_id in the body differs from the one in the Authorization header.',
    });
  }
  if (post && post.clientId === '') {
    throw new OAuthError('invalidRequest', { hint: 'client_secret was sent without client_id.' });
  }

  const presented = basic ?? post;
  const method: ClientAuthenticationMethod = basic ? 'client_secret_basic' : post ? 'client_secret_post' : 'none';
  const clientId = presented?.clientId ?? bodyClientId;
  if (clientId === undefined) throw invalidClient(realm, 'No client authentication was included.');

  const client = await dependencies.clients.getClient(clientId);

  if (method === 'none') {
    // A bare client_id authenticates only a public client (§2.1, §3.2.1).
    if (!client || !isPublicClient(client)) {
      throw invalidClient(realm, 'The client must authenticate with its credentials.');
    }
    return { client, method };
  }

  const secret = presented!.clientSecret;
  if (!client || client.secretHash === undefined) {
    // Spend the same effort as a real check so unknown ids cannot be told apart by timing.
    await dependencies.hasher.verifyDecoy(secret);
    throw invalidClient(realm, 'The client credentials are invalid.');
  }
  const secretMatches = await dependencies.hasher.verify(secret, client.secretHash, client.id);
  if (!secretMatches) throw invalidClient(realm, 'The client credentials are invalid.');
  // Checked after the secret, so a wrong guess cannot learn the registered method.
  const registered = client.tokenEndpointAuthMethod;
  if (registered !== undefined && registered !== method) {
    throw invalidClient(realm, `This client is registered for ${registered}.`);
  }
  return { client, method };
}

/**
 * `private_key_jwt`: the assertion names the client (its `sub`), which must have registered that
 * method and the keys that verify it. Every refusal is `invalid_client` (RFC 7521 §4.2.1).
 */
async function authenticateWithAssertion(
  assertion: string,
  bodyClientId: string | undefined,
  dependencies: AuthenticateClientDependencies,
  assertions: ClientAssertionVerifierOptions,
): Promise<AuthenticatedClient> {
  let clientId: string;
  try {
    clientId = assertedClientId(assertion);
  } catch (error) {
    throw invalidClient(dependencies.realm, (error as Error).message);
  }
  // RFC 7521 §4.2: a client_id, when sent, "MUST identify the same client" as the assertion.
  if (bodyClientId !== undefined && bodyClientId !== clientId) {
    throw new OAuthError('invalidRequest', {
      hint: 'The client_id in the body differs from the subject of the client assertion.',
    });
  }
  const client = await dependencies.clients.getClient(clientId);
  if (!client || client.tokenEndpointAuthMethod !== 'private_key_jwt') {
    throw invalidClient(dependencies.realm, 'The client credentials are invalid.');
  }
  try {
    await verifyClientAssertion(assertion, client, assertions);
  } catch (error) {
    if (error instanceof ClientAssertionError) throw invalidClient(dependencies.realm, error.message);
    throw error;
  }
  return { client, method: 'private_key_jwt' };
}

/**
 * The URL of the endpoint being called, as this server's: the issuer's origin with the request's
 * path. The request's own host is not used: it comes from the Host header, which the client
 * chooses, and would let an assertion made for another server pass here.
 */
function endpointUrl(issuer: string, requestUrl: string | undefined): string | undefined {
  if (requestUrl === undefined) return undefined;
  try {
    return `${new URL(issuer).origin}${new URL(requestUrl).pathname}`;
  } catch {
    return undefined;
  }
}

/** `invalid_client` with the Basic challenge RFC 6749 §5.2 asks for; made only when refusing. */
function invalidClient(realm: string, hint: string): OAuthError {
  return new OAuthError('invalidClient', { hint, headers: { 'WWW-Authenticate': `Basic realm="${realm}"` } });
}
