// The authorization server's JWK Set as a resource server sees it: fetched from jwks_uri and cached.

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  jwksCache,
  type JWKSCacheInput,
  type JWTVerifyGetKey,
  type JSONWebKeySet,
} from 'jose';
import { longestTimerMs } from '../core/timer-limit.js';
import { readBoundedText } from './bounded-response.js';

/** Options for {@link createRemoteJwkSet}. Durations are in seconds. */
export interface RemoteJwkSetOptions {
  /**
   * How long a fetched JWK Set is used before it is fetched again. Default 300, the JWKS max-age
   * Tessera's key set announces by default.
   */
  readonly cacheMaxAge?: number;
  /**
   * The least time between two fetches caused by tokens whose `kid` is not in the cached set:
   * a flood of tokens with made-up `kid`s costs at most one fetch per cooldown. Default 30.
   */
  readonly cooldown?: number;
  /** How long one fetch may take. Default 5. */
  readonly timeout?: number;
  /**
   * How long past `cacheMaxAge` the last fetched set is still used while fetching it again fails
   * (the authorization server down, say), so tokens signed with its keys are still judged. 0 turns
   * this off. Default 3600.
   */
  readonly staleIfError?: number;
}

/** Resolves a token's verification key; a key source the verifier accepts. */
export type KeyResolver = JWTVerifyGetKey;

/**
 * The JWK Set could not be fetched or read, so no token can be judged right now. Resource
 * servers answer it with `temporarily_unavailable` (503) rather than blaming the token.
 */
export class KeySourceError extends Error {
  override readonly name = 'KeySourceError';
}

/**
 * Creates a resolver for the JWK Set at `jwksUri` (jose's `createRemoteJWKSet`): the set is
 * cached for `cacheMaxAge`; a token naming an unknown `kid` causes a new fetch, at most once
 * per `cooldown`, so keys published after the last fetch are found.
 *
 * @example
 * const jwks = createRemoteJwkSet('https://auth.example.com/.well-known/jwks.json');
 * const verifier = createAccessTokenVerifier({ issuer, audience, jwks });
 */
export function createRemoteJwkSet(jwksUri: string | URL, options: RemoteJwkSetOptions = {}): KeyResolver {
  const { cacheMaxAge = 300, cooldown = 30, timeout = 5, staleIfError = 3600 } = options;
  const cacheMaxAgeMs = durationMs('cacheMaxAge', cacheMaxAge, 'zero');
  const cooldownMs = durationMs('cooldown', cooldown, 'zero');
  const timeoutMs = durationMs('timeout', timeout, 'more than zero');
  if (timeoutMs > longestTimerMs) throw new TypeError(`timeout must be at most ${longestTimerMs / 1000} seconds`);
  const staleIfErrorMs = durationMs('staleIfError', staleIfError, 'zero');
  const url = new URL(jwksUri);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError('the JWK Set URL must use https (or http for local development)');
  }
  // jose writes each fetched set here (and its time): the verifier reads it as it is, the same
  // object until the next fetch, where `remote.jwks()` would make a deep copy per call.
  const fetched: JWKSCacheInput = {};
  const remote = createRemoteJWKSet(url, {
    cacheMaxAge: cacheMaxAgeMs,
    cooldownDuration: cooldownMs,
    timeoutDuration: timeoutMs,
    [jwksCache]: fetched,
    [customFetch]: fetchBounded,
  });
  // After a failed fetch the next waits 1 s, then 2, 4, … up to the cooldown: a key source that
  // is down is not asked once per token, and a resource server under load does not pile onto it.
  let failedFetches = 0;
  let nextFetchAt = 0;
  let lastFailure: unknown;
  let stale: { readonly jwks: JSONWebKeySet; readonly resolve: KeyResolver } | undefined;

  /** Resolves from the last fetched set while it may still be used, else says the source failed. */
  const resolveFromLastSet: KeyResolver = async (protectedHeader, token) => {
    const { jwks, uat } = fetched;
    if (jwks === undefined || uat === undefined || Date.now() >= uat + cacheMaxAgeMs + staleIfErrorMs) {
      throw new KeySourceError('the JWK Set could not be fetched or read', { cause: lastFailure });
    }
    if (stale?.jwks !== jwks) stale = { jwks, resolve: createLocalJWKSet(jwks) };
    try {
      return await stale.resolve(protectedHeader, token);
    } catch (error) {
      // A key the last set lacks may be in the one that could not be fetched: not the token's fault.
      if (error instanceof errors.JWKSNoMatchingKey) {
        throw new KeySourceError('the JWK Set could not be fetched or read', { cause: lastFailure });
      }
      throw error;
    }
  };

  const resolver: KeyResolver = async (protectedHeader, token) => {
    if (Date.now() < nextFetchAt) return resolveFromLastSet(protectedHeader, token);
    try {
      const key = await remote(protectedHeader, token);
      failedFetches = 0;
      return key;
    } catch (error) {
      // No matching key is the token's fault; anything else is the key source's.
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
        throw error;
      }
      // Every token that waited on one fetch gets its error: that is one failure, not many.
      if (error !== lastFailure) {
        lastFailure = error;
        failedFetches++;
        const backoffMs = Math.min(1000 * 2 ** Math.min(failedFetches - 1, 30), Math.max(cooldownMs, 1000));
        nextFetchAt = Date.now() + backoffMs;
      }
      return resolveFromLastSet(protectedHeader, token);
    }
  };
  // The verifier reads the cached set to bind each key to one algorithm (RFC 8725 §3.1). Read,
  // never changed: jose keeps its own copy for matching.
  return Object.defineProperty(resolver, 'jwks', {
    value: (): JSONWebKeySet | undefined => ('jwks' in fetched ? fetched.jwks : undefined),
  });
}

/** Fetches as jose would, but reads a 200 answer's body with a size limit before jose parses it. */
async function fetchBounded(url: string, init: RequestInit): Promise<Response> {
  const response = await fetch(url, init);
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    return response;
  }
  return new Response(await readBoundedText(response), { status: 200 });
}

/** A resolver over a JWK Set held in memory, for tests and for servers configured with keys. */
export function createLocalJwkSet(jwks: JSONWebKeySet): KeyResolver {
  const local = createLocalJWKSet(jwks);
  // jose's jwks() deep-copies its snapshot per call; the set never changes, so one copy serves
  // every verification that reads it (treat it as read-only).
  const snapshot = local.jwks();
  const resolver: KeyResolver = (protectedHeader, token) => local(protectedHeader, token);
  return Object.defineProperty(resolver, 'jwks', { value: (): JSONWebKeySet => snapshot });
}

const shared = new Map<string, KeyResolver>();

/** One cached resolver per JWK Set URL, for callers that pass a URL to `verifyAccessToken`. */
export function sharedRemoteJwkSet(jwksUri: string | URL): KeyResolver {
  const key = new URL(jwksUri).href;
  let resolver = shared.get(key);
  if (!resolver) {
    resolver = createRemoteJwkSet(key);
    shared.set(key, resolver);
  }
  return resolver;
}

/**
 * A duration in seconds as whole milliseconds, rounded up: node's timers refuse a fraction of a
 * millisecond, and a fetch timeout of 0.0001 s would otherwise fail every fetch as a key-source error.
 */
function durationMs(name: string, seconds: number, least: 'zero' | 'more than zero'): number {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0 || (least !== 'zero' && seconds === 0)) {
    throw new TypeError(
      `${name} must be a finite number of seconds, ${least === 'zero' ? '0 or more' : 'more than 0'}`,
    );
  }
  return Math.ceil(seconds * 1000);
}
