// Granting requested scopes and audiences, shared by every grant (RFC 6749 §3.3).

import { OAuthError, type Client, type ProviderConfig } from '../core/index.js';

// §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const scopeTokenPattern = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Grants every requested scope the client may have, or the client's default scopes when none
 * was requested.
 *
 * @throws OAuthError `invalid_scope` for a malformed scope or one the client may not have.
 */
export function grantScopes(
  client: Client,
  requested: readonly string[],
  config: Pick<ProviderConfig, 'scopeStrategy'>,
): string[] {
  if (requested.length === 0) return [...(client.defaultScopes ?? [])];
  for (const scope of requested) {
    if (!scopeTokenPattern.test(scope)) {
      throw new OAuthError('invalidScope', { hint: 'A scope contains a character §3.3 forbids.' });
    }
    if (!config.scopeStrategy(client.scopes, scope)) {
      throw new OAuthError('invalidScope', {
        hint: `The scope "${scope}" is not allowed for this client.`,
      });
    }
  }
  return [...new Set(requested)];
}

/**
 * Grants every requested audience the client may address.
 *
 * @throws OAuthError `invalid_request` for an audience the client may not request.
 */
export function grantAudience(
  client: Client,
  requested: readonly string[],
  config: Pick<ProviderConfig, 'audienceStrategy'>,
): string[] {
  for (const audience of requested) {
    if (!config.audienceStrategy(client.audience, audience)) {
      throw new OAuthError('invalidRequest', {
        hint: `The audience "${audience}" is not allowed for this client.`,
      });
    }
  }
  return [...new Set(requested)];
}
