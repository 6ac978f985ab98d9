// Storage interfaces: what the library needs to keep. Implementations live in memory/, sqlite/, postgres/.

import type { Client } from '../core/index.js';

/** Reads clients; all the token endpoint needs. */
export interface ClientStore {
  getClient(id: string): Promise<Client | undefined>;
}

/** Page through clients in `id` order. */
export interface ListClientsOptions {
  /** Return clients whose id sorts after this one. */
  readonly after?: string;
  readonly limit?: number;
}

/** Creates and changes clients (admin API, CLI). */
export interface ClientManager extends ClientStore {
  /** @throws {StorageConflictError} when the id is taken. */
  createClient(client: Client): Promise<void>;
  /** @throws {StorageNotFoundError} when no such client exists. */
  updateClient(client: Client): Promise<void>;
  /** Returns false when there was no such client. */
  deleteClient(id: string): Promise<boolean>;
  listClients(options?: ListClientsOptions): Promise<Client[]>;
}

/** What is kept of an issued access token: never the usable token, only its `jti` or signature. */
export interface AccessTokenRecord {
  /** The `jti` of a JWT, or the signature part of an opaque token. */
  readonly signature: string;
  readonly format: 'jwt' | 'opaque';
  readonly clientId: string;
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly audience: readonly string[];
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly requestId?: string;
  /** Extra claims carried by the token, for introspection. */
  readonly extraClaims?: Readonly<Record<string, unknown>>;
}

/** Keeps access-token records so tokens can be introspected and revoked. */
export interface AccessTokenStore {
  createAccessTokenRecord(record: AccessTokenRecord): Promise<void>;
  getAccessTokenRecord(signature: string): Promise<AccessTokenRecord | undefined>;
  /** Removes the record; returns false when there was none. */
  deleteAccessTokenRecord(signature: string): Promise<boolean>;
}

/** The deny-list of revoked JWT ids for stateless issuance: kept until the token would expire anyway. */
export interface RevokedTokenStore {
  revokeTokenId(jti: string, expiresAt: number): Promise<void>;
  isTokenIdRevoked(jti: string): Promise<boolean>;
}

/** The life of a signing key (see keys/). */
export type SigningKeyState = 'next' | 'active' | 'retired';

/** A signing key as stored: the private key is sealed by keys/ before it reaches a store. */
export interface StoredSigningKey {
  /** RFC 7638 thumbprint of the public key. */
  readonly kid: string;
  readonly alg: string;
  readonly state: SigningKeyState;
  /** The public JWK, without private members. */
  readonly publicJwk: Readonly<Record<string, unknown>>;
  /** The private key, encrypted (AES-256-GCM) by the key set; opaque to stores. */
  readonly sealedPrivateKey: string;
  readonly createdAt: number;
  readonly activatedAt?: number;
  readonly retiredAt?: number;
  /** When a retired key may be removed: the expiry of the last token it signed. */
  readonly removeAfter?: number;
}

/** Keeps the signing keys and their states. */
export interface SigningKeyStore {
  listSigningKeys(): Promise<StoredSigningKey[]>;
  createSigningKey(key: StoredSigningKey): Promise<void>;
  /** Replaces the key with the same kid; @throws {StorageNotFoundError} when absent. */
  updateSigningKey(key: StoredSigningKey): Promise<void>;
  deleteSigningKey(kid: string): Promise<boolean>;
}

/** A secret for opaque-token HMACs. The newest signs; older ones still verify. */
export interface StoredHmacSecret {
  readonly id: string;
  /** Sealed like private keys. */
  readonly sealedSecret: string;
  readonly createdAt: number;
}

export interface HmacSecretStore {
  /** Newest first. */
  listHmacSecrets(): Promise<StoredHmacSecret[]>;
  createHmacSecret(secret: StoredHmacSecret): Promise<void>;
}

/** Remembers used assertion ids (`jti`) until they expire, to refuse replays. */
export interface ReplayCache {
  /** Records the id; returns false when it was already recorded and had not expired by `now`. */
  markUsed(jti: string, expiresAt: number, now: number): Promise<boolean>;
}

/** What changed, so caches in every instance can forget it. */
export type StorageChange =
  | { readonly kind: 'client'; readonly clientId: string }
  | { readonly kind: 'signing-keys' }
  | { readonly kind: 'hmac-secrets' }
  | { readonly kind: 'access-token'; readonly signature: string }
  /**
   * Anything may have changed: sent when changes could have been missed (a lost notification
   * connection came back, another process on the same SQLite file fell behind its pruned change
   * log). Drop every cache.
   */
  | { readonly kind: 'all' };

/** Tells listeners of changes, including those made by other instances on the same database. */
export interface ChangeFeed {
  /** Returns a function that stops listening. */
  subscribeToChanges(listener: (change: StorageChange) => void): () => void;
}

/** Removes what has expired, in small batches. */
export interface ExpiredRecordPurger {
  /** Deletes at most `batchSize` expired rows of each kind; returns how many were deleted. */
  purgeExpired(now: number, batchSize: number): Promise<number>;
}

/** Runs several writes as one. */
export interface Transactional<Self> {
  /**
   * Runs `work` in a transaction; `exclusive` names a lock held for its duration, so that two
   * instances doing the same thing (e.g. rotating keys) take turns.
   */
  transaction<T>(work: (tx: Self) => Promise<T>, options?: { readonly exclusive?: string }): Promise<T>;
}

/** Health and lifetime of a store. */
export interface StoreLifecycle {
  /** Resolves when the store can serve; rejects while it cannot. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Everything a full Tessera server keeps. */
export interface Storage
  extends
    ClientManager,
    AccessTokenStore,
    RevokedTokenStore,
    SigningKeyStore,
    HmacSecretStore,
    ReplayCache,
    ChangeFeed,
    ExpiredRecordPurger,
    StoreLifecycle,
    Transactional<Storage> {}

/** One versioned schema change, as reported while migrating. */
export interface MigrationStep {
  readonly version: number;
  readonly name: string;
}

/** What a migration run did: the schema version before and after, and each step applied. */
export interface MigrationReport {
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly applied: readonly MigrationStep[];
}

/** A write that collides with an existing record. */
export class StorageConflictError extends Error {
  override readonly name = 'StorageConflictError';
}

/**
 * A write holding text no store can keep as given: a lone UTF-16 surrogate (U+D800–U+DFFF not
 * part of a pair), which UTF-8 databases would turn into U+FFFD, or U+0000, which PostgreSQL's
 * text cannot hold; or, inside a field kept as JSON (metadata, `jwks`, extra claims, …), a
 * number JSON cannot carry (NaN and the infinities become null, -0 becomes 0). Every store
 * refuses it, so that nothing is stored changed. `field` names the record's field that holds
 * it; the value itself is not repeated.
 */
export class StorageInvalidTextError extends Error {
  override readonly name = 'StorageInvalidTextError';
  constructor(readonly field: string) {
    super(
      `${field} holds a lone UTF-16 surrogate or U+0000, or a number JSON cannot keep (NaN, an infinity, -0), which cannot be stored`,
    );
  }
}

/**
 * A write holding a time (milliseconds since the epoch) that is not a whole number: a fraction,
 * NaN or an infinity. SQL stores keep times as integers, so every store refuses such a value
 * rather than round it, fail with a driver's error, or keep what another store could not.
 * `field` names the field; the message does not repeat the value.
 */
export class StorageInvalidTimeError extends Error {
  override readonly name = 'StorageInvalidTimeError';
  constructor(readonly field: string) {
    super(`${field} is not a whole number of milliseconds since the epoch`);
  }
}

/** An update of a record that does not exist. */
export class StorageNotFoundError extends Error {
  override readonly name = 'StorageNotFoundError';
}

/**
 * The store could not be reached (connection refused, pool exhausted, database down).
 * Endpoints answer it with `temporarily_unavailable` (503).
 */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
}

/**
 * The database's schema is newer than this code knows (a newer Tessera migrated it). Stop and
 * upgrade rather than risk misreading data.
 */
export class StorageSchemaTooNewError extends Error {
  override readonly name = 'StorageSchemaTooNewError';
  constructor(
    readonly databaseVersion: number,
    readonly knownVersion: number,
  ) {
    super(
      `the database schema is at version ${databaseVersion}, but this version of Tessera knows versions up to ${knownVersion} only; upgrade Tessera to use this database`,
    );
  }
}
