// A key set whose keys move next → active → retired → removed, kept sealed in a store (RFC 7517 JWK Set).

import { calculateJwkThumbprint } from 'jose';
import { systemClock, type Clock } from '../core/index.js';
import { reportingSafely } from '../core/report-error.js';
import type { ChangeFeed, SigningKeyStore, StoredSigningKey, Transactional } from '../storage/index.js';
import { SealedValueError, type KeySealer } from './key-encryption.js';
import { checkJwksMaxAge, publicJwkMembers, type JwkSet, type KeySet } from './key-set.js';
import {
  generateSigningKey,
  importSigningKey,
  signingAlgorithms,
  type SigningAlgorithm,
  type SigningKey,
} from './signing-key.js';

/** The store a rotating key set needs: signing keys, transactions, and a change feed when it has one. */
export type RotatingKeyStore = SigningKeyStore & Transactional<SigningKeyStore> & Partial<ChangeFeed>;

/** Options for {@link createRotatingKeySet}. Durations are in seconds. */
export interface RotatingKeySetOptions {
  readonly store: RotatingKeyStore;
  /** Seals private keys before they reach the store and opens them when loaded. */
  readonly sealer: KeySealer;
  /** Algorithm of newly generated keys. Default `RS256`. */
  readonly algorithm?: SigningAlgorithm;
  readonly clock?: Clock;
  /** How long a key signs before it is rotated automatically. Default 30 days; `Infinity` turns it off. */
  readonly rotationPeriod?: number;
  /**
   * How long verifiers may cache the JWK Set (the JWKS endpoint's `Cache-Control: max-age`).
   * A new key is published as `next` for at least this long, plus `refreshInterval`, before it
   * signs. Default 300.
   */
  readonly jwksMaxAge?: number;
  /**
   * The longest lifetime of any token signed by these keys (the provider's access-token lifespan
   * plus the clock tolerance verifiers allow). A retired key stays published this long, plus
   * `refreshInterval`, after it stopped signing. Default 86400.
   */
  readonly maxTokenLifetime?: number;
  /**
   * The longest time this instance trusts its cached copy of the keys before reading the store
   * again; changes announced by the store's change feed are picked up at once. Default 60. After a
   * failed read the store is asked again after 1 s, doubling per failure up to this interval.
   */
  readonly refreshInterval?: number;
  /** Told of background failures (a refresh or an automatic rotation that failed). */
  readonly reportError?: (error: Error) => void;
}

/** What {@link RotatingKeySet.rotate} did. */
export interface RotationResult {
  readonly rotated: boolean;
  /** Why nothing changed: another instance rotated first, or the next key is not yet pre-published. */
  readonly reason?: 'already-rotated' | 'not-pre-published';
  readonly activeKid: string;
  readonly nextKid: string;
}

/** Options for one {@link RotatingKeySet.rotate} call. */
export interface RotateOptions {
  /**
   * Rotate only if this key is still the active one; otherwise someone else already rotated and
   * nothing happens. Default: the active key as this instance sees it when the call starts.
   */
  readonly expectedActiveKid?: string;
  /**
   * Promote the next key even if it has not been published for the whole pre-publication window,
   * e.g. when the active key is compromised. Verifiers that cached the JWK Set refetch it when they
   * meet the unknown `kid`. Default false.
   */
  readonly immediate?: boolean;
}

/** A key as the key set describes it: public facts only. */
export interface SigningKeyStatus {
  readonly kid: string;
  readonly alg: string;
  readonly state: StoredSigningKey['state'];
  readonly createdAt: number;
  readonly activatedAt?: number;
  readonly retiredAt?: number;
  readonly removeAfter?: number;
}

/** A {@link KeySet} that rotates its keys and keeps them in a store. */
export interface RotatingKeySet extends KeySet {
  /**
   * Promotes the next key to active, retires the active key, and generates a new next key, all in
   * one transaction under the `signing-keys` lock, so instances rotating at once still leave
   * exactly one active key. Also removes retired keys whose last token has expired.
   *
   * @throws {SealedValueError} when the key to promote cannot be opened (sealed under a KEK this
   *   process was not given); nothing is written then.
   */
  rotate(options?: RotateOptions): Promise<RotationResult>;
  /** Reads the store again now, instead of waiting for the refresh interval. */
  refresh(): Promise<void>;
  /** The keys and their states, newest first. */
  listKeys(): Promise<readonly SigningKeyStatus[]>;
  /** Seals again, under the sealer's current KEK, every key sealed under an older one; returns how many. */
  resealKeys(): Promise<number>;
  /** Stops listening to the store's change feed. */
  close(): void;
}

interface Snapshot {
  /** When the store was read, by the key set's clock. */
  readonly loadedAt: number;
  readonly records: readonly StoredSigningKey[];
  readonly active: SigningKey;
  readonly next: StoredSigningKey;
}

/**
 * Creates a key set over `store` and loads it, generating an active and a next key when the store
 * has none (safely when several instances start at once).
 *
 * `getSigningKey()` answers from memory: the store is read at most once per `refreshInterval`
 * (sooner when its change feed reports a change), and each private key is unsealed once.
 *
 * @throws TypeError for options that cannot work; the store's error when it cannot be read.
 * @example
 * const keys = await createRotatingKeySet({
 *   store,
 *   sealer: createKeySealer(parseKeyEncryptionKey(kekText)),
 *   algorithm: 'ES256',
 *   rotationPeriod: 30 * 24 * 3600,
 *   maxTokenLifetime: 3600,
 * });
 * const strategy = jwtAccessTokenStrategy({ keys, issuer });
 */
export async function createRotatingKeySet(options: RotatingKeySetOptions): Promise<RotatingKeySet> {
  const {
    store,
    sealer,
    algorithm = 'RS256',
    clock = systemClock,
    rotationPeriod = 30 * 24 * 3600,
    jwksMaxAge = 300,
    maxTokenLifetime = 86_400,
    refreshInterval = 60,
  } = options;
  const reportError = reportingSafely(options.reportError ?? (() => undefined));
  if (!signingAlgorithms.includes(algorithm)) {
    throw new TypeError(`algorithm must be one of ${signingAlgorithms.join(', ')}`);
  }
  checkDuration('rotationPeriod', rotationPeriod, { positive: true, infinite: true });
  checkJwksMaxAge(jwksMaxAge);
  checkDuration('maxTokenLifetime', maxTokenLifetime, { positive: true, infinite: false });
  checkDuration('refreshInterval', refreshInterval, { positive: true, infinite: false });

  const refreshMs = refreshInterval * 1000;
  // Another instance may learn of a new key up to refreshMs late, and a verifier may then keep
  // its copy of that instance's JWK Set for jwksMaxAge: only after both has every verifier seen it.
  const prePublicationMs = (jwksMaxAge + refreshInterval) * 1000;
  // Likewise an instance may go on signing with a retired key for up to refreshMs.
  const retentionMs = (maxTokenLifetime + refreshInterval) * 1000;
  const rotationPeriodMs = rotationPeriod * 1000;
  const lock = { exclusive: 'signing-keys' } as const;
  // After a failed read the store is asked again after 1 s, then 2 s, 4 s, … up to refreshInterval.
  const firstRetryMs = 1000;
  const longestRetryMs = Math.max(firstRetryMs, refreshMs);

  /** Unsealed private keys by kid: each is opened once per process. */
  const unsealed = new Map<string, SigningKey>();
  /** The public JWK and alg last checked for each kid, as text: a record changed in place is checked again. */
  const checkedJwks = new Map<string, string>();
  let snapshot: Snapshot | undefined;
  let stale = false;
  let loading: Promise<Snapshot> | undefined;
  /** Errors of failed re-reads already given to `reportError`. */
  const reportedReadErrors = new WeakSet<object>();
  let autoRotation: Promise<Snapshot> | undefined;
  let autoRotationRetryAt = 0;
  /** Reads that failed in a row, and when the next may be tried (by the key set's clock). */
  let failedReads = 0;
  let readRetryAt = 0;
  let jwksMemo: { readonly state: Snapshot; readonly count: number; readonly jwks: JwkSet } | undefined;

  const unsubscribe =
    store.subscribeToChanges?.((change) => {
      if (change.kind === 'signing-keys' || change.kind === 'all') stale = true;
    }) ?? (() => undefined);

  const newRecord = async (state: 'active' | 'next', now: number, key?: SigningKey): Promise<StoredSigningKey> => {
    const signingKey = key ?? (await generateSigningKey(algorithm));
    unsealed.set(signingKey.kid, signingKey);
    const pem = signingKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    return {
      kid: signingKey.kid,
      alg: signingKey.alg,
      state,
      publicJwk: signingKey.publicJwk,
      sealedPrivateKey: sealer.seal(pem, signingKey.kid),
      createdAt: now,
      ...(state === 'active' ? { activatedAt: now } : {}),
    };
  };

  /** Makes sure there is an active and a next key, inside a transaction. */
  const completeKeys = async (
    tx: SigningKeyStore,
    records: readonly StoredSigningKey[],
    now: number,
  ): Promise<boolean> => {
    let changed = false;
    let next = newestNext(records);
    if (!newestActive(records)) {
      if (next) {
        // The next key is already published: better to sign with it than with an unseen one. But
        // one this process cannot open (sealed under a KEK it was not given) is refused first.
        await openKey(next);
        await tx.updateSigningKey({ ...next, state: 'active', activatedAt: now });
        next = undefined;
      } else {
        await tx.createSigningKey(await newRecord('active', now));
      }
      changed = true;
    }
    if (!next) {
      await tx.createSigningKey(await newRecord('next', now));
      changed = true;
    }
    return changed;
  };

  const isComplete = (records: readonly StoredSigningKey[]): boolean =>
    newestActive(records) !== undefined && newestNext(records) !== undefined;

  const hasExpiredKeys = (records: readonly StoredSigningKey[], now: number): boolean =>
    records.some((record) => isRemovable(record, now));

  const removeExpiredKeys = async (
    tx: SigningKeyStore,
    records: readonly StoredSigningKey[],
    now: number,
  ): Promise<void> => {
    for (const record of records) {
      if (isRemovable(record, now)) await tx.deleteSigningKey(record.kid);
    }
  };

  /** Unseals and imports a stored key, once per process, checking it is the key its kid names. */
  const openKey = async (record: StoredSigningKey): Promise<SigningKey> => {
    const known = unsealed.get(record.kid);
    if (known) return known;
    let pem: string;
    try {
      pem = sealer.openText(record.sealedPrivateKey, record.kid);
    } catch (error) {
      // Named, so an operator knows which record to look at.
      if (!(error instanceof SealedValueError)) throw error;
      throw new SealedValueError(`signing key "${record.kid}": ${error.message}`, { cause: error });
    }
    const key = await importSigningKey(pem, record.alg as SigningAlgorithm);
    if (key.kid !== record.kid) {
      throw new Error(`stored signing key "${record.kid}" does not match its private key`);
    }
    unsealed.set(key.kid, key);
    return key;
  };

  const buildSnapshot = async (records: readonly StoredSigningKey[], loadedAt: number): Promise<Snapshot> => {
    const activeRecord = newestActive(records);
    const next = newestNext(records);
    if (!activeRecord || !next) throw new Error('the signing-key store has no active or no next key');
    for (const record of records) {
      const checked = JSON.stringify([record.alg, record.publicJwk]);
      if (checkedJwks.get(record.kid) === checked) continue;
      // What is published is the stored public JWK: its kid, alg and use must be the ones the
      // key signs with, or verifiers would not find the key, or would bind it to another algorithm.
      const { kid, alg, use, key_ops: keyOps, ext } = record.publicJwk;
      const thumbprint = await calculateJwkThumbprint(publicJwkMembers(record.publicJwk), 'sha256');
      if (
        thumbprint !== record.kid ||
        kid !== record.kid ||
        alg !== record.alg ||
        use !== 'sig' ||
        // RFC 7517 §4.3: a key whose operations leave out "verify" is one verifiers will not use.
        (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('verify'))) ||
        (ext !== undefined && typeof ext !== 'boolean') ||
        !signingAlgorithms.includes(record.alg as SigningAlgorithm)
      ) {
        throw new Error(`stored signing key "${record.kid}" does not match its public JWK`);
      }
      checkedJwks.set(record.kid, checked);
    }
    for (const kid of checkedJwks.keys()) {
      if (!records.some((record) => record.kid === kid)) checkedJwks.delete(kid);
    }
    const active = await openKey(activeRecord);
    for (const kid of unsealed.keys()) {
      if (!records.some((record) => record.kid === kid)) unsealed.delete(kid);
    }
    return { loadedAt, records, active, next };
  };

  /**
   * Reads the store. The stale flag is cleared first, so a change announced during the read is
   * read next time; when the read fails it is set again, so the change is not forgotten, and the
   * next read waits out a back-off that doubles with each failure.
   */
  const readStore = async (): Promise<Snapshot> => {
    const wasStale = stale;
    stale = false;
    try {
      const read = await readRecords();
      failedReads = 0;
      readRetryAt = 0;
      return read;
    } catch (error) {
      if (wasStale) stale = true;
      failedReads++;
      readRetryAt = clock.now() + Math.min(firstRetryMs * 2 ** Math.min(failedReads - 1, 30), longestRetryMs);
      throw error;
    }
  };

  /** A read may start: no back-off, or it ran out (or the clock went back past it). */
  const mayRead = (now: number): boolean => now >= readRetryAt || readRetryAt - now > longestRetryMs;

  const readRecords = async (): Promise<Snapshot> => {
    let records = await store.listSigningKeys();
    const now = Math.floor(clock.now());
    if (!isComplete(records) || hasExpiredKeys(records, now)) {
      records = await store.transaction(async (tx) => {
        // Read again under the lock: another instance may have done this a moment ago.
        const current = await tx.listSigningKeys();
        const at = Math.floor(clock.now());
        let changed = await completeKeys(tx, current, at);
        if (hasExpiredKeys(current, at)) {
          await removeExpiredKeys(tx, current, at);
          changed = true;
        }
        return changed ? tx.listSigningKeys() : current;
      }, lock);
    }
    snapshot = await buildSnapshot(records, now);
    return snapshot;
  };

  /** Reads the store once at a time; `fresh` waits for a read that started after the call. */
  const load = async (fresh = false): Promise<Snapshot> => {
    if (loading && fresh) await loading.catch(() => undefined);
    if (!loading) {
      loading = readStore().finally(() => {
        loading = undefined;
      });
    }
    return loading;
  };

  const rotationDueAt = (current: Snapshot): number => {
    const activatedAt = newestActive(current.records)?.activatedAt ?? current.loadedAt;
    return Math.max(activatedAt + rotationPeriodMs, current.next.createdAt + prePublicationMs);
  };

  const rotate = async (rotateOptions: RotateOptions = {}): Promise<RotationResult> => {
    const seen = await load(true);
    const expectedActiveKid = rotateOptions.expectedActiveKid ?? seen.active.kid;
    // Generated, and the next key opened, before taking the lock, so the lock is held only for the
    // writes. A next key that cannot be opened is refused under the lock, if it is still the next.
    const spare = await generateSigningKey(algorithm);
    await openKey(seen.next).catch(() => undefined);
    const result = await store.transaction(async (tx): Promise<RotationResult> => {
      const records = await tx.listSigningKeys();
      const now = Math.floor(clock.now());
      if (await completeKeys(tx, records, now)) {
        const completed = await tx.listSigningKeys();
        return { rotated: false, reason: 'already-rotated', ...kidsOf(completed) };
      }
      const active = newestActive(records)!;
      const next = newestNext(records)!;
      if (active.kid !== expectedActiveKid) {
        return { rotated: false, reason: 'already-rotated', ...kidsOf(records) };
      }
      if (!rotateOptions.immediate && now < next.createdAt + prePublicationMs) {
        return { rotated: false, reason: 'not-pre-published', ...kidsOf(records) };
      }
      // A key this process cannot open (sealed under a KEK it was not given) must not become the
      // one every instance signs with: refused before anything is written.
      await openKey(next);
      await removeExpiredKeys(tx, records, now);
      for (const record of records) {
        if (record.state !== 'active') continue;
        await tx.updateSigningKey({
          ...record,
          state: 'retired',
          retiredAt: now,
          removeAfter: now + Math.ceil(retentionMs),
        });
      }
      await tx.updateSigningKey({ ...next, state: 'active', activatedAt: now });
      const fresh = await newRecord('next', now, spare);
      await tx.createSigningKey(fresh);
      return { rotated: true, activeKid: next.kid, nextKid: fresh.kid };
    }, lock);
    await load(true);
    return result;
  };

  /** The keys as of now: re-read when stale, rotated when due. Answers from memory otherwise. */
  const current = async (): Promise<Snapshot> => {
    const known = snapshot;
    const now = clock.now();
    let state: Snapshot;
    if (!known) {
      state = await load();
    } else if (
      (stale ||
        now - known.loadedAt >= refreshMs ||
        now < known.loadedAt ||
        // A retired key just outlived its tokens: read again, which also removes it from the store.
        hasExpiredKeys(known.records, now)) &&
      // After a failed read, not before the back-off is over: a failing store is not asked per call.
      mayRead(now)
    ) {
      try {
        state = await load();
      } catch (error) {
        // A store that is briefly unreachable must not stop signing with keys already known.
        // Every caller waiting on the same read gets its error: it is reported once.
        if (typeof error !== 'object' || error === null || !reportedReadErrors.has(error)) {
          if (typeof error === 'object' && error !== null) reportedReadErrors.add(error);
          reportError(asError(error));
        }
        state = known;
      }
    } else {
      state = known;
    }
    if (now >= rotationDueAt(state) && now >= autoRotationRetryAt) state = await rotateWhenDue(state);
    return state;
  };

  const rotateWhenDue = (state: Snapshot): Promise<Snapshot> => {
    autoRotation ??= rotate({ expectedActiveKid: state.active.kid })
      .then(() => snapshot ?? state)
      .catch((error: unknown) => {
        // Signing goes on with the current key; try again after a refresh interval, not per token.
        autoRotationRetryAt = clock.now() + refreshMs;
        reportError(asError(error));
        return state;
      })
      .finally(() => {
        autoRotation = undefined;
      });
    return autoRotation;
  };

  const publishedRecords = (state: Snapshot, now: number): StoredSigningKey[] => {
    const order = { active: 0, next: 1, retired: 2 } as const;
    return state.records
      .filter((record) => !isRemovable(record, now))
      .sort((a, b) => order[a.state] - order[b.state] || b.createdAt - a.createdAt);
  };

  await load();

  return {
    async getSigningKey() {
      return (await current()).active;
    },
    async getPublicJwks(): Promise<JwkSet> {
      const state = await current();
      const records = publishedRecords(state, clock.now());
      // The same set is handed out until the keys change: token recognition asks for it per call.
      if (jwksMemo?.state !== state || jwksMemo.count !== records.length) {
        const jwks = Object.freeze({
          keys: Object.freeze(records.map((record) => Object.freeze(publicJwkMembers(record.publicJwk)))),
        });
        jwksMemo = { state, count: records.length, jwks };
      }
      return jwksMemo.jwks;
    },
    get algorithms(): readonly SigningAlgorithm[] {
      const algs = new Set<SigningAlgorithm>([algorithm]);
      for (const record of snapshot?.records ?? []) algs.add(record.alg as SigningAlgorithm);
      return [...algs];
    },
    jwksMaxAge,
    rotate,
    async refresh() {
      await load(true);
    },
    async listKeys() {
      const state = await current();
      return [...state.records]
        .sort((a, b) => b.createdAt - a.createdAt)
        .map(({ sealedPrivateKey: _sealed, publicJwk: _jwk, ...status }) => status);
    },
    async resealKeys() {
      const count = await store.transaction(async (tx) => {
        let resealed = 0;
        for (const record of await tx.listSigningKeys()) {
          if (!sealer.needsResealing(record.sealedPrivateKey)) continue;
          const plaintext = sealer.open(record.sealedPrivateKey, record.kid);
          await tx.updateSigningKey({ ...record, sealedPrivateKey: sealer.seal(plaintext, record.kid) });
          resealed++;
        }
        return resealed;
      }, lock);
      await load(true);
      return count;
    },
    close: unsubscribe,
  };
}

function newestActive(records: readonly StoredSigningKey[]): StoredSigningKey | undefined {
  return newest(records, 'active', (record) => record.activatedAt ?? record.createdAt);
}

function newestNext(records: readonly StoredSigningKey[]): StoredSigningKey | undefined {
  return newest(records, 'next', (record) => record.createdAt);
}

function newest(
  records: readonly StoredSigningKey[],
  state: StoredSigningKey['state'],
  time: (record: StoredSigningKey) => number,
): StoredSigningKey | undefined {
  let found: StoredSigningKey | undefined;
  for (const record of records) {
    if (record.state === state && (!found || time(record) > time(found))) found = record;
  }
  return found;
}

function kidsOf(records: readonly StoredSigningKey[]): { activeKid: string; nextKid: string } {
  return { activeKid: newestActive(records)?.kid ?? '', nextKid: newestNext(records)?.kid ?? '' };
}

/** A retired key is removed once every token it signed has expired. */
function isRemovable(record: StoredSigningKey, now: number): boolean {
  return record.state === 'retired' && record.removeAfter !== undefined && record.removeAfter <= now;
}

function checkDuration(
  name: string,
  value: number,
  { positive, infinite }: { positive: boolean; infinite: boolean },
): void {
  const valid = (infinite && value === Infinity) || (Number.isFinite(value) && (positive ? value > 0 : value >= 0));
  if (!valid) {
    throw new TypeError(
      `${name} must be a ${positive ? 'positive' : 'non-negative'} number of seconds${infinite ? ' or Infinity' : ''}, got ${String(value)}`,
    );
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
