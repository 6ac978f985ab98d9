// Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3).

import { OAuthError, isPublicClient, type Client, type ClientAuthenticationMethod } from '../core/index.js';
import type { SecretHasher } from '../secrets/index.js';
import type { ClientStore } from '../storage/index.js';
import { clientSecretBasic } from './client-secret-basic.js';
import { clientSecretPost } from './client-secret-post.js';

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
}

/** The parts of a parsed request that carry client credentials. */
export interface ClientAuthenticationInput {
  readonly form: ReadonlyMap<string, string>;
  readonly authorization: string | undefined;
}

/**
 * Works out which single method the client used, finds the client and checks its credentials.
 *
 * @throws OAuthError `invalid_request` when more than one method is used or the Basic and body
 *   client ids differ; `invalid_client` (401, with `WWW-Authenticate`) when no credentials are
 *   given, the client is unknown, the secret is wrong, or the method is not the registered one.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3
 */
export async function authenticateClient(
  input: ClientAuthenticationInput,
  dependencies: AuthenticateClientDependencies,
): Promise<AuthenticatedClient> {
  const challenge = { 'WWW-Authenticate': `Basic realm="${dependencies.realm}"` };
  const invalidClient = (hint: string): OAuthError => new OAuthError('invalidClient', { hint, headers: challenge });

  const basic = clientSecretBasic(input.authorization);
  const post = clientSecretPost(input.form);
  const bodyClientId = input.form.get('client_id');

  // §2.3: "The client MUST NOT use more than one authentication method in each request."
  if (basic && post) {
    throw new OAuthError('invalidRequest', {
      hint: 'Use either HTTP Basic or client_secret in the body, not both.',
    });
  }
  if (input.form.has('client_assertion') || input.form.has('client_assertion_type')) {
    if (basic || post) {
      throw new OAuthError('invalidRequest', {
        hint: 'Use either a client assertion or a client secret, not both.',
      });
    }
    throw invalidClient('Client assertions are not supported by this endpoint.');
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
  if (clientId === undefined) throw invalidClient('No client authentication was included.');

  const client = await dependencies.clients.getClient(clientId);

  if (method === 'none') {
    // A bare client_id authenticates only a public client (§2.1, §3.2.1).
    if (!client || !isPublicClient(client)) {
      throw invalidClient('The client must authenticate with its credentials.');
    }
    return { client, method };
  }

  const secret = presented!.clientSecret;
  if (!client || client.secretHash === undefined) {
    // Spend the same effort as a real check so unknown ids cannot be told apart by timing.
    await dependencies.hasher.verifyDecoy(secret);
    throw invalidClient('The client credentials are invalid.');
  }
  const secretMatches = await dependencies.hasher.verify(secret, client.secretHash, client.id);
  if (!secretMatches) throw invalidClient('The client credentials are invalid.');
  // Checked after the secret, so a wrong guess cannot learn the registered method.
  const registered = client.tokenEndpointAuthMethod;
  if (registered !== undefined && registered !== method) {
    throw invalidClient(`This client is registered for ${registered}.`);
  }
  return { client, method };
}
