// Brute-force protection for client authentication: failures counted per (client, address) and per address.

import cluster from 'node:cluster';
import { createHash, randomBytes } from 'node:crypto';
import { createHmacSha256, type HmacSha256 } from '../secrets/index.js';
import {
  RateLimiterCluster,
  RateLimiterClusterMaster,
  RateLimiterMemory,
  RateLimiterRedis,
  type RateLimiterAbstract,
  type RateLimiterRes,
} from 'rate-limiter-flexible';
import { presentedAssertionClientId, clientSecretBasic } from '../client-auth/index.js';
import { OAuthError } from '../core/index.js';
import { reportingSafely } from '../core/report-error.js';
import { writeJson, type HttpHandler } from '../provider/index.js';
import { parseForm, readRequestBody, type HttpRequest } from '../request/index.js';
import { normalizeClientAddress } from './client-address.js';

/** How many failed client authentications are tolerated, and for how long an offender waits. */
export interface BruteForceLimits {
  /** Failures of one client id from one address within the window. Default 5. */
  readonly failuresPerClientAndAddress: number;
  /** Failures from one address, whatever client ids it names, within the window. Default 20. */
  readonly failuresPerAddress: number;
  /** The counting window, in seconds. Default 900. */
  readonly windowSeconds: number;
  /** How long a limit, once reached, answers 429, in seconds. Default 900. */
  readonly blockSeconds: number;
}

/** How many distinct unverified credentials one address may have in flight by default. */
export const defaultMaxUnverifiedPerAddress = 2;

export const defaultBruteForceLimits: BruteForceLimits = {
  // Machine clients do not mistype secrets; each failure costs a full hash (about 100 ms at bcrypt
  // cost 10), so a source gets few of them.
  failuresPerClientAndAddress: 5,
  failuresPerAddress: 20,
  windowSeconds: 900,
  blockSeconds: 900,
};

export interface BruteForceGuardOptions extends Partial<BruteForceLimits> {
  /**
   * An ioredis client. When given, counts live in Redis and every instance using the same Redis
   * and prefix shares them; create it with `enableOfflineQueue: false` and a `commandTimeout` so
   * that an outage, or a Redis that stops answering, fails fast.
   * When Redis cannot answer, counting falls back to this process's memory until it answers again.
   */
  readonly redis?: unknown;
  /**
   * In a node:cluster worker, without `redis`: count in the memory of the cluster's primary, over
   * IPC, so the workers of one server share their counts (each worker's own memory would let a
   * source make its failures once per worker, as connections are spread over them). The primary
   * must call {@link countBruteForceInClusterPrimary} before forking. When the primary does not
   * answer within a second, counting falls back to this process's memory, as for Redis.
   */
  readonly shareWithClusterPrimary?: boolean;
  /** Prefix of the limiter keys. Default `tessera`. */
  readonly keyPrefix?: string;
  /**
   * Told when Redis (or the cluster primary) stops answering, once per outage (not once per
   * request: an attack during an outage would flood the log); requests are then judged by the
   * in-memory fallback.
   */
  readonly reportError?: (error: Error) => void;
}

/**
 * Keeps the brute-force counts of a node:cluster's workers in this, the primary process, for
 * guards made with `shareWithClusterPrimary`. Call it once, before forking.
 */
export function countBruteForceInClusterPrimary(): void {
  // rate-limiter-flexible keeps one such instance per process, listening to the workers' messages.
  new RateLimiterClusterMaster();
}

/** The verdict on a request before it is served. */
export type GuardVerdict = { readonly blocked: false } | { readonly blocked: true; readonly retryAfterSeconds: number };

/** Counts failed client authentications and says when a source must wait. */
export interface BruteForceGuard {
  readonly limits: BruteForceLimits;
  /** Whether `address` (or `clientId` from `address`) has reached a limit. */
  check(address: string, clientId?: string): Promise<GuardVerdict>;
  /** Counts one failed authentication. */
  recordFailure(address: string, clientId?: string): Promise<void>;
  /** Forgets the counts of `address` (and of `clientId` from it), e.g. after an operator's review. */
  reset(address: string, clientId?: string): Promise<void>;
}

/**
 * Creates a guard counting failures in memory, or in Redis when `redis` is given.
 *
 * @example
 * const guard = createBruteForceGuard({
 *   failuresPerClientAndAddress: 5,
 *   redis: new Redis({ enableOfflineQueue: false, commandTimeout: 1000 }),
 * });
 */
export function createBruteForceGuard(options: BruteForceGuardOptions = {}): BruteForceGuard {
  const limits: BruteForceLimits = {
    failuresPerClientAndAddress:
      options.failuresPerClientAndAddress ?? defaultBruteForceLimits.failuresPerClientAndAddress,
    failuresPerAddress: options.failuresPerAddress ?? defaultBruteForceLimits.failuresPerAddress,
    windowSeconds: options.windowSeconds ?? defaultBruteForceLimits.windowSeconds,
    blockSeconds: options.blockSeconds ?? defaultBruteForceLimits.blockSeconds,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || (value as number) < 1) {
      throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
    }
  }
  const prefix = options.keyPrefix ?? 'tessera';
  const reportError = reportingSafely(options.reportError ?? (() => undefined));

  // Each count lives in Redis when one is given, and in memory when it is not or while Redis fails.
  // (rate-limiter-flexible's own insurance limiter would fall back too, but without a word.)
  interface Counter {
    readonly shared?: RateLimiterAbstract;
    readonly local: RateLimiterAbstract;
  }
  const counter = (name: string, points: number): Counter => {
    const settings = { keyPrefix: `${prefix}:${name}`, points, duration: limits.windowSeconds };
    const local = new RateLimiterMemory(settings);
    if (options.redis !== undefined) {
      return { shared: new RateLimiterRedis({ ...settings, storeClient: options.redis }), local };
    }
    if (options.shareWithClusterPrimary && cluster.isWorker) {
      return { shared: new RateLimiterCluster({ ...settings, timeoutMs: 1000 }), local };
    }
    return { local };
  };
  const sharedStoreName = options.redis !== undefined ? 'Redis' : 'the cluster primary';
  const perClient = counter('fail-client-address', limits.failuresPerClientAndAddress);
  const perAddress = counter('fail-address', limits.failuresPerAddress);
  let sharedFailing = false;

  // Client ids are chosen by the caller: a digest keeps keys short whatever is sent.
  const clientKey = (address: string, clientId: string): string =>
    `${address}|${createHash('sha256').update(clientId).digest('base64url')}`;

  /** Runs `operation` on the shared store, or on memory when there is none or it fails. */
  const run = async <T>(
    target: Counter,
    operation: (store: RateLimiterAbstract) => Promise<T>,
    fallback: T,
  ): Promise<T> => {
    if (target.shared) {
      try {
        const result = await operation(target.shared);
        sharedFailing = false;
        return result;
      } catch (error) {
        // A store error rejects with an Error; over-limit results are RateLimiterRes, not errors.
        if (!(error instanceof Error)) return fallback;
        if (!sharedFailing) {
          sharedFailing = true;
          reportError(new Error(`brute-force counts fall back to memory: ${sharedStoreName} failed: ${error.message}`));
        }
      }
    }
    try {
      return await operation(target.local);
    } catch (error) {
      if (error instanceof Error) reportError(error);
      return fallback;
    }
  };

  const overLimit = (result: RateLimiterRes | null, points: number): number | undefined =>
    result && result.consumedPoints >= points ? Math.max(1, Math.ceil(result.msBeforeNext / 1000)) : undefined;

  const count = async (target: Counter, key: string, points: number): Promise<void> => {
    const result = await run(target, (store) => store.penalty(key, 1), null);
    // At the limit the key is held for the block time, not only to the end of the window.
    if (result && result.consumedPoints >= points) {
      await run(target, (store) => store.block(key, limits.blockSeconds), null);
    }
  };

  return {
    limits,
    async check(address, clientId) {
      const [byAddress, byClient] = await Promise.all([
        run(perAddress, (store) => store.get(address), null),
        clientId === undefined ? null : run(perClient, (store) => store.get(clientKey(address, clientId)), null),
      ]);
      const wait = Math.max(
        overLimit(byAddress, limits.failuresPerAddress) ?? 0,
        overLimit(byClient, limits.failuresPerClientAndAddress) ?? 0,
      );
      return wait > 0 ? { blocked: true, retryAfterSeconds: wait } : { blocked: false };
    },
    async recordFailure(address, clientId) {
      await Promise.all([
        count(perAddress, address, limits.failuresPerAddress),
        clientId === undefined
          ? undefined
          : count(perClient, clientKey(address, clientId), limits.failuresPerClientAndAddress),
      ]);
    },
    async reset(address, clientId) {
      await Promise.all([
        run(perAddress, (store) => store.delete(address), false),
        clientId === undefined ? false : run(perClient, (store) => store.delete(clientKey(address, clientId)), false),
      ]);
    },
  };
}

/** A fetch-style handler that is also told where the request came from. */
export type GuardedHandler = (request: HttpRequest, clientAddress?: string) => Promise<Response>;

export interface GuardedHandlerOptions {
  readonly guard: BruteForceGuard;
  /**
   * Finds the source address when the caller does not pass one, e.g. from a header set by a
   * trusted proxy. Requests with no address share one bucket, `unknown`.
   */
  readonly getClientAddress?: (request: HttpRequest) => string | undefined;
  /** Sends `error_hint` in 429 bodies. Default false. */
  readonly exposeDebug?: boolean;
  /** Distinct not-yet-verified credentials one address may have in flight. Default 2. */
  readonly maxUnverifiedPerAddress?: number;
  /** Recently successful credentials remembered for the fast lane. Default 10,000. */
  readonly maxKnownCredentials?: number;
  /** How long a success keeps credentials in the fast lane, in milliseconds. Default 5 minutes. */
  readonly knownCredentialsTtlMs?: number;
}

/** Largest form body read again to find the client's credentials. */
const maxCredentialsBody = 64 * 1024;

/**
 * Wraps a handler so failed client authentications (401 answers to POST requests: the token,
 * introspection and revocation endpoints) are counted against the source address, alone and
 * with the client id, and a source over either limit is answered `429` with `Retry-After` and
 * a JSON error body before any secret is hashed. Counting by (client id, address) means an
 * attacker guessing one client's secret locks out only itself, never that client calling from
 * its own address. GET requests (JWK Set, metadata) pass straight through.
 *
 * Requests travel in two lanes. Credentials that recently succeeded (remembered as an HMAC under
 * a random key, never in plaintext) take the fast lane and are not held back. Any other
 * credentials take the slow lane, where a secret will be hashed: one address may have at most
 * `maxUnverifiedPerAddress` distinct unverified credentials in flight; more are answered 429
 * with `Retry-After: 1` at once, without hashing. Requests carrying the same unverified
 * credentials wait for the first instead, so a client opening many connections at once is not
 * refused. A guesser therefore never has more than a few hashes running, and is blocked after
 * the configured failures.
 *
 * @example
 * const guarded = createGuardedHandler(createRouter(provider), { guard: createBruteForceGuard() });
 * createServer((req, res) => handle((request) => guarded(request, req.socket.remoteAddress), req, res));
 */
export function createGuardedHandler(handler: HttpHandler, options: GuardedHandlerOptions): GuardedHandler {
  const { guard, getClientAddress } = options;
  const maxUnverified = options.maxUnverifiedPerAddress ?? defaultMaxUnverifiedPerAddress;
  if (!Number.isInteger(maxUnverified) || maxUnverified < 1) {
    throw new TypeError(`maxUnverifiedPerAddress must be a positive integer, got ${String(maxUnverified)}`);
  }
  const maxKnown = options.maxKnownCredentials ?? 10_000;
  const knownTtlMs = options.knownCredentialsTtlMs ?? 5 * 60_000;
  const fingerprintMac = createHmacSha256(randomBytes(32));
  // Insertion order is recency: the first entry is the least recently used.
  const known = new Map<string, number>();
  const unverified = new Map<string, Map<string, Promise<unknown>>>();

  const tooMany = (retryAfterSeconds: number, hint: string): Response => {
    const error = new OAuthError('tooManyRequests', {
      hint,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
    return writeJson(error.toJSON(options.exposeDebug ?? false), error.status, error.headers);
  };

  const isKnown = (fingerprint: string): boolean => {
    const expiresAt = known.get(fingerprint);
    if (expiresAt === undefined) return false;
    known.delete(fingerprint);
    if (expiresAt <= Date.now()) return false;
    known.set(fingerprint, expiresAt);
    return true;
  };

  const remember = (fingerprint: string): void => {
    known.delete(fingerprint);
    known.set(fingerprint, Date.now() + knownTtlMs);
    while (known.size > maxKnown) {
      const oldest = known.keys().next().value;
      if (oldest === undefined) break;
      known.delete(oldest);
    }
  };

  const serve = async (request: HttpRequest, address: string, credentials: Credentials | undefined) => {
    const response = await handler(request);
    // Checked against the limits on the next request; this one already has its answer.
    if (response.status === 401) {
      // Credentials that stopped working (a rotated secret) leave the fast lane at once.
      if (credentials?.fingerprint !== undefined) known.delete(credentials.fingerprint);
      await guard.recordFailure(address, credentials?.clientId);
    } else if (credentials?.fingerprint !== undefined && response.status < 300) remember(credentials.fingerprint);
    return response;
  };

  return async (request, clientAddress) => {
    if (request.method !== 'POST') return handler(request);
    const address = normalizeClientAddress(clientAddress ?? getClientAddress?.(request));
    const credentials = await credentialsOf(request, fingerprintMac);

    const verdict = await guard.check(address, credentials?.clientId);
    if (verdict.blocked) {
      return tooMany(verdict.retryAfterSeconds, 'Too many failed client authentications from this address.');
    }
    // No secret means nothing to hash; a recently good secret is checked from the cache.
    const fingerprint = credentials?.fingerprint;
    if (fingerprint === undefined || isKnown(fingerprint)) return serve(request, address, credentials);

    for (;;) {
      let inFlight = unverified.get(address);
      const same = inFlight?.get(fingerprint);
      if (same) {
        // Wait for the identical request, then decide again: if it succeeded these credentials
        // take the fast lane; if it failed, this one takes its turn in the slow lane (or is
        // blocked by the failure just counted). Waiters never hash side by side, so repeating
        // one guess (of an unknown client, whose decoy check nothing shares) cannot get around
        // the per-address cap.
        await same.catch(() => undefined);
        if (isKnown(fingerprint)) return serve(request, address, credentials);
        const again = await guard.check(address, credentials?.clientId);
        if (again.blocked) {
          return tooMany(again.retryAfterSeconds, 'Too many failed client authentications from this address.');
        }
        continue;
      }
      if ((inFlight?.size ?? 0) >= maxUnverified) {
        return tooMany(1, 'Too many unverified client authentications from this address at once.');
      }
      if (!inFlight) unverified.set(address, (inFlight = new Map()));
      const served = serve(request, address, credentials);
      inFlight.set(fingerprint, served);
      try {
        return await served;
      } finally {
        inFlight.delete(fingerprint);
        if (inFlight.size === 0) unverified.delete(address);
      }
    }
  };
}

/** The client id, and an HMAC of the whole credentials to recognise them again. */
interface Credentials {
  /** Absent when the body was too large to look for it. */
  readonly clientId?: string;
  /** Absent when no secret was sent: nothing will be hashed. */
  readonly fingerprint?: string;
}

/**
 * Finds the credentials of `client_secret_basic` or `client_secret_post`. A web Request's body is
 * read from a copy, so the handler still gets the untouched stream; a bounded-body request gives
 * the same bytes to every reader. Either is read only up to the body limit.
 */
async function credentialsOf(request: HttpRequest, mac: HmacSha256): Promise<Credentials | undefined> {
  let presented: { clientId: string; clientSecret: string } | undefined;
  try {
    presented = clientSecretBasic(request.headers.get('authorization') ?? undefined);
  } catch {
    presented = undefined;
  }
  // A web Request whose body was already read cannot be copied: the handler answers it, and
  // reports it, as it answers any such request.
  if (!presented && hasBody(request) && isForm(request) && !bodyAlreadyTaken(request)) {
    const form = await formOf(request instanceof Request ? request.clone() : request);
    // Padding the form past what is read here must not take a secret around the capped lane:
    // such a body counts as credentials of its own, never seen before.
    if (form === 'too-large') return { fingerprint: randomBytes(16).toString('base64url') };
    const clientId = form?.get('client_id') ?? presentedAssertionClientId(form?.get('client_assertion'));
    const clientSecret = form?.get('client_secret');
    if (clientId !== undefined && clientSecret !== undefined) presented = { clientId, clientSecret };
    // A bare client_id, or a private_key_jwt assertion's client: counted per client and
    // address like a secret, so guessing at one client's assertions from one address does not
    // block that client elsewhere.
    else if (clientId !== undefined) return { clientId };
  }
  if (!presented) return undefined;
  const named = `${presented.clientId.length}:${presented.clientId}`;
  const input = Buffer.allocUnsafe(Buffer.byteLength(named) + Buffer.byteLength(presented.clientSecret));
  input.write(presented.clientSecret, input.write(named, 0, 'utf8'), 'utf8');
  const fingerprint = mac.digest(input).toString('base64url');
  // The secret must not linger in memory longer than needed.
  input.fill(0);
  return { clientId: presented.clientId, fingerprint };
}

function hasBody(request: HttpRequest): boolean {
  return request instanceof Request ? request.body !== null : request.method !== 'GET' && request.method !== 'HEAD';
}

function bodyAlreadyTaken(request: HttpRequest): boolean {
  return request instanceof Request && (request.bodyUsed || request.body?.locked === true);
}

function isForm(request: HttpRequest): boolean {
  return /^application\/x-www-form-urlencoded\b/i.test(request.headers.get('content-type') ?? '');
}

async function formOf(copy: HttpRequest): Promise<Map<string, string> | 'too-large' | undefined> {
  try {
    const body = await readRequestBody(copy, maxCredentialsBody);
    if (body === 'too-large') return body;
    return parseForm(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
}
