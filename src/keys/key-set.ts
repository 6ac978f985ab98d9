// The keys a provider signs with and publishes (RFC 7517 JWK Set).

import type { JWK } from 'jose';
import type { SigningAlgorithm, SigningKey } from './signing-key.js';

/** A JWK Set document. */
export interface JwkSet {
  readonly keys: readonly JWK[];
}

/** Where token strategies get their signing key and the JWKS endpoint its document. */
export interface KeySet {
  /** The key that signs now. */
  getSigningKey(): Promise<SigningKey>;
  /** Every public key a verifier may meet now: never a private member. */
  getPublicJwks(): Promise<JwkSet>;
  /** Algorithms of the published keys, for metadata. */
  readonly algorithms: readonly SigningAlgorithm[];
  /** How long verifiers may cache the JWK Set, in seconds. */
  readonly jwksMaxAge: number;
}

/**
 * A key set that never changes: the first key signs, all are published.
 *
 * @throws TypeError without keys, or for a `jwksMaxAge` that is not a whole number of seconds.
 * @example
 * const keys = createStaticKeySet([await importSigningKey(pem, 'RS256')]);
 */
export function createStaticKeySet(keys: readonly SigningKey[], jwksMaxAge = 300): KeySet {
  const [active] = keys;
  if (!active) throw new TypeError('a key set needs at least one signing key');
  checkJwksMaxAge(jwksMaxAge);
  // A key made by hand may carry private members in its publicJwk: they are never published.
  const jwks: JwkSet = { keys: keys.map((key) => publicJwkMembers(key.publicJwk)) };
  return {
    getSigningKey: () => Promise.resolve(active),
    getPublicJwks: () => Promise.resolve(jwks),
    algorithms: [...new Set(keys.map((key) => key.alg))],
    jwksMaxAge,
  };
}

/**
 * The JWKS endpoint sends `jwksMaxAge` as `Cache-Control: max-age`, whose value is delta-seconds,
 * digits only (RFC 9111 §1.2.2, §5.2.2.1): a fraction, a negative number or NaN would be an
 * invalid directive, which caches treat as already stale.
 *
 * @throws TypeError when `jwksMaxAge` is not a whole number of seconds, 0 or more.
 */
export function checkJwksMaxAge(jwksMaxAge: number): void {
  if (!Number.isSafeInteger(jwksMaxAge) || jwksMaxAge < 0) {
    throw new TypeError(`jwksMaxAge must be a whole number of seconds, 0 or more, got ${String(jwksMaxAge)}`);
  }
}

/**
 * JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037
 * §2), and `priv`, the private seed of the post-quantum AKP key type, so that such a key is never
 * published whole should one reach a key set.
 */
export const privateJwkMembers: ReadonlySet<string> = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv']);

/** The public members of a JWK: private members are dropped, wherever the JWK came from. */
export function publicJwkMembers(jwk: Readonly<Record<string, unknown>>): JWK {
  return Object.fromEntries(Object.entries(jwk).filter(([name]) => !privateJwkMembers.has(name))) as JWK;
}
