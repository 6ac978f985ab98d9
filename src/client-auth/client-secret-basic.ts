// client_secret_basic: HTTP Basic credentials, form-url-decoded (RFC 6749 §2.3.1).

import { OAuthError } from '../core/index.js';
import { decodeFormComponent, hasLaterSchemeElement, startsWithSchemeThenWhiteSpace } from '../request/index.js';

/** Client credentials as presented, before they are checked. */
export interface PresentedCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Reads `client_secret_basic` credentials from an `Authorization` header.
 * Returns undefined when the header is absent or uses another scheme.
 *
 * @throws OAuthError `invalid_request` when the Basic credentials are malformed.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function clientSecretBasic(authorization: string | undefined): PresentedCredentials | undefined {
  if (authorization === undefined) return undefined;
  // Taken apart step by step: a single pattern with two runs of spaces around an optional part
  // (`basic +(\S*) *$`) tried every split of a long run of spaces before failing.
  const scheme = /^basic +/i.exec(authorization);
  if (!scheme) {
    // The Basic scheme, then a tab or other white space: Basic credentials all the same, laid out
    // against RFC 7235 §2.1 (spaces only). Read as none, credentials in the body would pass as the
    // only method while the header names a client too (§2.3).
    if (startsWithSchemeThenWhiteSpace(authorization, 'basic')) {
      throw malformed('Only spaces may separate the Basic scheme from the credentials.');
    }
    // Fields sent twice arrive joined with commas: Basic credentials after another scheme's are
    // presented all the same, and with the other scheme's make two methods in one request (§2.3).
    if (hasLaterSchemeElement(authorization, 'basic')) {
      throw malformed('The Authorization header holds Basic credentials together with other credentials.');
    }
    return undefined;
  }
  const rest = authorization.slice(scheme[0].length);
  const end = rest.search(/\s/);
  const encoded = end === -1 ? rest : rest.slice(0, end);
  if (end !== -1 && !/^[ \t]*$/.test(rest.slice(end))) {
    // More after the credentials: a second Authorization field (fields are joined by ", ") or
    // stray words. §5.2 counts multiple credentials as invalid_request, not as no credentials.
    if (holdsMoreCredentials(authorization)) {
      throw malformed('The Authorization header holds more than one set of Basic credentials.');
    }
    // A tab or other white space, then more: still Basic credentials presented, not none.
    throw malformed('The Basic credentials are followed by more than spaces.');
  }
  if (encoded === '' || encoded.length % 4 !== 0 || !base64Pattern.test(encoded)) {
    throw malformed('The Basic credentials are not valid base64.');
  }
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Buffer.from(encoded, 'base64'));
  } catch {
    throw malformed('The Basic credentials are not valid UTF-8.');
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) throw malformed('The Basic credentials have no ":" between id and secret.');
  // §2.3.1: id and secret are form-url-encoded before they are put in the header.
  const clientId = decodeFormComponent(decoded.slice(0, colon));
  const clientSecret = decodeFormComponent(decoded.slice(colon + 1));
  if (typeof clientId !== 'string' || typeof clientSecret !== 'string') {
    throw malformed('The Basic credentials have invalid form-url-encoding.');
  }
  if (clientId === '') throw malformed('The Basic credentials have an empty client id.');
  return { clientId, clientSecret };
}

/**
 * Whether Basic credentials are followed by more: a comma inside them with something after it,
 * or spaces and then more. Written without a pattern whose parts can share a run of spaces: one
 * such pattern took seconds on a header of spaces that ended in a character it did not expect.
 */
function holdsMoreCredentials(authorization: string): boolean {
  const head = /^basic +(\S+)/i.exec(authorization);
  if (!head) return false;
  const credentials = head[1]!;
  const rest = authorization.slice(head[0].length);
  const comma = credentials.indexOf(',', 1);
  if (comma > 0 && comma < credentials.length - 1) return true;
  return (comma > 0 && /^ *\S/.test(rest)) || /^ +\S/.test(rest);
}

function malformed(hint: string): OAuthError {
  return new OAuthError('invalidRequest', { hint });
}
