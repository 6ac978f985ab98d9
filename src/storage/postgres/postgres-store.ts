// A store in PostgreSQL through a pg Pool: the choice for more than one instance.

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Client } from '../../core/index.js';
import {
  StorageConflictError,
  StorageNotFoundError,
  StorageUnavailableError,
  type AccessTokenRecord,
  type ListClientsOptions,
  type MigrationReport,
  type MigrationStep,
  type Storage,
  type StorageChange,
  type StoredHmacSecret,
  type StoredSigningKey,
} from '../index.js';
import {
  accessTokenColumns,
  clientColumns,
  columnNames,
  fromRow,
  hmacSecretColumns,
  signingKeyColumns,
  toRowValues,
  type TableColumns,
} from '../sql-columns.js';
import { createGroupCommit, type PendingRecord } from '../group-commit.js';
import {
  checkStorableText,
  hashedReplayKey,
  hashedReplayKeyPrefix,
  isStorableText,
  withLoneSurrogatesReplaced,
} from '../storable-text.js';
import { checkStorableTimes, comparisonInstant, replayEntryExpiry, rowLimit } from '../storable-time.js';
import { createChangeListener } from './change-listener.js';
import { applyPostgresMigrations } from './migrate.js';
import { isDeadConnection, toStorageError } from './postgres-errors.js';
import { advisoryLockKey, changeChannel, checkSchemaName, quoteIdentifier } from './sql-names.js';

/** Options for {@link createPostgresStore}: a connection string, or a pool you manage. */
export type PostgresStoreOptions = PostgresConnectionOptions & {
  /** The schema that holds Tessera's tables; created when missing. Default `public`. */
  readonly schema?: string;
  /** Longest wait for a broken change-notification connection to be retried. Default 5000 ms. */
  readonly listenReconnectMaxDelayMs?: number;
  /**
   * How often the change-notification connection must answer a check; one that has not answered
   * within this long is replaced, so a connection the network silently dropped is noticed within
   * twice this. Default 10000 ms.
   */
  readonly listenHeartbeatMs?: number;
  /** Told of each migration step applied on first use. */
  readonly onMigrationStep?: (step: MigrationStep) => void;
  /** Told of connection errors that were absorbed (an idle connection dropped), for logging. */
  readonly onConnectionError?: (error: Error) => void;
};

/** Where the database is: a `postgres://` URL (the store makes and ends its pool), or a pool of yours. */
export type PostgresConnectionOptions =
  | {
      readonly connectionString: string;
      /** Most connections in the pool, at least 2: one is kept for change notifications. Default 10. */
      readonly maxConnections?: number;
      /** How long to wait for a connection before the call fails as unavailable. Default 5000 ms. */
      readonly connectionTimeoutMs?: number;
      /** How long to wait for a query's answer before it fails as unavailable. Default 10000 ms. */
      readonly queryTimeoutMs?: number;
      readonly pool?: undefined;
    }
  | { readonly pool: pg.Pool; readonly connectionString?: undefined };

/** A PostgreSQL store, with what the change feed needs to be observed. */
export interface PostgresStorage extends Storage {
  /**
   * Applies pending migrations (at most once per store, and under an advisory lock) and reports
   * what this store applied. Every other call does this first by itself.
   */
  migrate(): Promise<MigrationReport>;
  /** Resolves once change notifications from other instances are being received. */
  whenListening(): Promise<void>;
}

type Row = Record<string, unknown>;

/** Something that runs a query: the pool, or the connection of one transaction. */
interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>>;
}

type Operations = Omit<Storage, 'transaction' | 'subscribeToChanges' | 'ping' | 'close'>;

/** The bytes PostgreSQL accepts in one notification payload, with room to spare. */
const maxPayloadBytes = 7900;

/**
 * Creates a store on PostgreSQL. Nothing connects until the first call, which applies pending
 * migrations (under an advisory lock, so instances starting together take turns); await `ping()`
 * at start-up to apply them and surface errors early.
 *
 * Calls made while the database cannot be reached fail with {@link StorageUnavailableError} and
 * succeed again once it is back, with no restart. Changes made by other instances on the same
 * schema reach subscribers through LISTEN/NOTIFY.
 *
 * @throws {StorageSchemaTooNewError} (from any call) when the schema was migrated by a newer Tessera
 * @example
 * const storage = createPostgresStore({ connectionString: process.env.DATABASE_URL! });
 * await storage.ping();
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresStorage {
  const schema = checkSchemaName(options.schema ?? 'public');
  const s = quoteIdentifier(schema);
  const ownsPool = options.pool === undefined;
  if (
    options.pool === undefined &&
    options.maxConnections !== undefined &&
    !(Number.isInteger(options.maxConnections) && options.maxConnections >= 2)
  ) {
    // One connection is kept for change notifications; the others serve queries.
    throw new TypeError(`maxConnections must be an integer of at least 2, got ${String(options.maxConnections)}`);
  }
  const listenHeartbeatMs = options.listenHeartbeatMs ?? 10_000;
  if (!(Number.isFinite(listenHeartbeatMs) && listenHeartbeatMs >= 1)) {
    throw new TypeError(
      `listenHeartbeatMs must be a number of milliseconds of at least 1, got ${String(listenHeartbeatMs)}`,
    );
  }
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
      query_timeout: options.queryTimeoutMs ?? 10_000,
      keepAlive: true,
      application_name: 'tessera',
    });
  // An idle connection that dies (database restarted, backend terminated) must not crash the process.
  const onPoolError = (error: Error): void => options.onConnectionError?.(error);
  pool.on('error', onPoolError);

  const origin = randomUUID();
  const channel = changeChannel(schema);
  const listeners = new Set<(change: StorageChange) => void>();
  let closed = false;
  let migration: Promise<MigrationReport> | undefined;
  let migrated = false;
  /**
   * Set when a read starts while someone is subscribed but LISTEN is not yet in effect: what it
   * read may be cached, and a change committed before LISTEN took effect is notified to nobody.
   */
  let readWhileNotListening = false;

  const deliver = (change: StorageChange): void => {
    for (const listener of listeners) {
      // A listener's failure must not turn a completed write into a rejected one.
      try {
        listener(change);
      } catch {
        // ignored: listeners are caches and must not throw
      }
    }
  };

  const changeListener = createChangeListener({
    pool,
    channel,
    maxDelayMs: options.listenReconnectMaxDelayMs ?? 5000,
    heartbeatMs: listenHeartbeatMs,
    onNotification(payload) {
      const message = parsePayload(payload);
      // Our own changes were told to local subscribers when they were made.
      if (message.origin !== origin) deliver(message.change);
    },
    onMissedChanges: () => deliver({ kind: 'all' }),
    readBeforeListening: () => {
      const read = readWhileNotListening;
      readWhileNotListening = false;
      return read;
    },
    onConnectionError: (error) => options.onConnectionError?.(error),
  });

  const migrate = (): Promise<MigrationReport> => {
    if (closed) return Promise.reject(new StorageUnavailableError('the PostgreSQL store is closed'));
    // A store that made its own pool waits for the lock no longer than for any query.
    const lockTimeoutMs = options.pool === undefined ? (options.queryTimeoutMs ?? 10_000) : undefined;
    migration ??= applyPostgresMigrations(pool, schema, options.onMigrationStep, undefined, lockTimeoutMs).then(
      (report) => {
        migrated = true;
        return report;
      },
      (error: unknown) => {
        // Try again on the next call: the database may just not be up yet.
        migration = undefined;
        throw error;
      },
    );
    return migration;
  };

  const ready = async (): Promise<void> => {
    if (closed) throw new StorageUnavailableError('the PostgreSQL store is closed');
    if (!migrated) await migrate();
  };

  /** Runs statements on the pool once `whenReady` allows. */
  const queryableWhen = (whenReady: () => Promise<void>): Queryable => ({
    async query(text, values) {
      await whenReady();
      if (listeners.size > 0 && text.startsWith('SELECT') && !changeListener.isListening())
        readWhileNotListening = true;
      try {
        return await pool.query<Row>(text, values);
      } catch (error) {
        // A read that met a pooled connection the server had already closed (a restart, a
        // failover) is tried once more on a fresh one; a write is not, as it may have committed.
        if (!text.startsWith('SELECT') || !isDeadConnection(error)) throw toStorageError(error);
      }
      try {
        return await pool.query<Row>(text, values);
      } catch (error) {
        throw toStorageError(error);
      }
    },
  });
  const poolQueryable = queryableWhen(ready);

  const lockKeyFor = (name: string): string => advisoryLockKey(`tessera:${schema}:${name}`);

  const notification = (change: StorageChange): string => {
    const payload = JSON.stringify({ o: origin, c: change });
    return Buffer.byteLength(payload) <= maxPayloadBytes ? payload : JSON.stringify({ o: origin, c: { kind: 'all' } });
  };

  const outerOperations = createOperations(poolQueryable, s, channel, notification, deliver);
  // Writes of records accepted before close(): close() keeps the pool open until they settle, so
  // a batch that has to be retried record by record is not refused as closed halfway through.
  const acceptedWritesQueryable = queryableWhen(async () => {
    if (!migrated) await migrate();
  });
  const acceptedWrites = createOperations(acceptedWritesQueryable, s, channel, notification, deliver);
  const groupCommit = createGroupCommit(
    batchWriter(
      async (batch) => {
        if (batch.length === 1) {
          await acceptedWrites.createAccessTokenRecord(batch[0]!);
          return [true];
        }
        const { rows } = await acceptedWritesQueryable.query(
          accessTokenBatchInsertSql(s, batch.length),
          batch.flatMap((record) => toRowValues(accessTokenColumns, record)),
        );
        const written = new Set(rows.map((row) => row.signature));
        return batch.map((record) => written.has(record.signature));
      },
      (record) => acceptedWrites.createAccessTokenRecord(record),
    ),
  );

  const store: PostgresStorage = {
    ...outerOperations,

    createAccessTokenRecord(record) {
      if (closed) return Promise.reject(new StorageUnavailableError('the PostgreSQL store is closed'));
      // Refused here, alone: in a batch it would fail the statement that writes the others.
      try {
        checkStorableText(record, 'access token record');
        checkStorableTimes(record, 'access token record');
      } catch (error) {
        return Promise.reject(error as Error);
      }
      return groupCommit.add(record);
    },

    migrate,
    whenListening: () => changeListener.whenListening(),

    subscribeToChanges(listener) {
      listeners.add(listener);
      changeListener.start();
      return () => {
        listeners.delete(listener);
        // Stopping only gives the connection back; nothing to wait for.
        if (listeners.size === 0) void changeListener.stop();
      };
    },

    async ping() {
      await poolQueryable.query('SELECT 1');
    },

    async close() {
      if (closed) return;
      // Records already accepted are written (or refused) before the pool goes.
      const written = groupCommit.flush();
      closed = true;
      listeners.clear();
      await written;
      await changeListener.stop();
      if (ownsPool) await pool.end();
      pool.off('error', onPoolError);
    },

    async transaction(work, transactionOptions) {
      await ready();
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw toStorageError(error);
      }
      let broken: Error | undefined;
      const onError = (error: Error): void => {
        broken = error;
      };
      // A checked-out connection that dies emits 'error'; unheard, that would end the process.
      client.on('error', onError);
      const connection: Queryable = {
        async query(text, values) {
          try {
            return await client.query<Row>(text, values);
          } catch (error) {
            throw toStorageError(error);
          }
        },
      };
      const state = { open: true };
      const changes: StorageChange[] = [];
      try {
        await connection.query('BEGIN');
        if (transactionOptions?.exclusive !== undefined) {
          // Held until COMMIT or ROLLBACK: every instance on this schema takes its turn.
          await connection.query('SELECT pg_advisory_xact_lock($1::bigint)', [
            lockKeyFor(transactionOptions.exclusive),
          ]);
        }
        const tx = createTransactionStore(
          connection,
          state,
          changes,
          store,
          (queryable, notify) => createOperations(queryable, s, channel, notification, notify),
          lockKeyFor,
        );
        const result = await work(tx);
        const commit = await connection.query('COMMIT');
        state.open = false;
        // COMMIT of a transaction an earlier statement aborted answers ROLLBACK instead of failing.
        if (commit.command === 'ROLLBACK') throw new Error('the transaction was rolled back after an earlier error');
        for (const change of changes) deliver(change);
        return result;
      } catch (error) {
        if (state.open) {
          state.open = false;
          await client.query('ROLLBACK').catch((rollbackError: unknown) => {
            broken ??= rollbackError instanceof Error ? rollbackError : new Error('rollback failed');
          });
        }
        throw toStorageError(error);
      } finally {
        client.off('error', onError);
        // A connection in an unknown state is closed, not handed to the next caller.
        client.release(broken);
      }
    },
  };
  return store;
}

/** A notification this version cannot read: something changed, what is unknown. */
const unreadable = { origin: '', change: { kind: 'all' } } as const;

function parsePayload(payload: string | undefined): { origin: string; change: StorageChange } {
  if (payload === undefined) return unreadable;
  try {
    const { o, c } = JSON.parse(payload) as { o?: unknown; c?: unknown };
    if (typeof o !== 'string') return unreadable;
    return { origin: o, change: toStorageChange(c) };
  } catch {
    return unreadable;
  }
}

/**
 * The change a notification names, rebuilt from its known fields. A kind this version does not
 * know (sent by a newer instance on the same schema), or one without its key, is told as
 * `{ kind: 'all' }`: caches ignore what they do not understand, and would keep what it changed.
 */
function toStorageChange(change: unknown): StorageChange {
  const { kind, clientId, signature } = (typeof change === 'object' && change !== null ? change : {}) as Record<
    string,
    unknown
  >;
  if (kind === 'client' && typeof clientId === 'string') return { kind, clientId };
  if (kind === 'access-token' && typeof signature === 'string') return { kind, signature };
  if (kind === 'signing-keys' || kind === 'hmac-secrets' || kind === 'all') return { kind };
  return { kind: 'all' };
}

function insertSql(s: string, table: TableColumns<unknown>): string {
  const names = columnNames(table);
  // DO NOTHING rather than an error: a failed statement would abort a surrounding transaction.
  return `INSERT INTO ${s}.${table.table} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT DO NOTHING RETURNING 1`;
}

/** One INSERT of `count` access-token records, answering the signature of each row it wrote. */
function accessTokenBatchInsertSql(s: string, count: number): string {
  const names = columnNames(accessTokenColumns);
  const rows = Array.from(
    { length: count },
    (_, row) => `(${names.map((_, i) => `$${row * names.length + i + 1}`).join(', ')})`,
  );
  return `INSERT INTO ${s}.${accessTokenColumns.table} (${names.join(', ')}) VALUES ${rows.join(', ')} ON CONFLICT DO NOTHING RETURNING signature`;
}

/**
 * Writes a group commit's batch by one multi-row INSERT (one round trip, one commit) and settles
 * each caller: resolved when its row was written, rejected with {@link StorageConflictError} when
 * its signature existed or came earlier in the same batch, or with {@link StorageUnavailableError}
 * when the database could not be reached. Any other failure of the statement (one bad row) is
 * retried record by record, so each caller gets its own answer.
 */
function batchWriter(
  writeBatch: (batch: readonly AccessTokenRecord[]) => Promise<readonly boolean[]>,
  writeOne: (record: AccessTokenRecord) => Promise<void>,
) {
  const conflict = (): StorageConflictError => new StorageConflictError('access token record already exists');

  return async (batch: readonly PendingRecord[]): Promise<void> => {
    // A signature twice in one batch: the first keeps its place, the later ones collide with it.
    const unique = new Map<string, PendingRecord>();
    for (const entry of batch) {
      if (unique.has(entry.record.signature)) entry.reject(conflict());
      else unique.set(entry.record.signature, entry);
    }
    const entries = [...unique.values()];
    let outcome: readonly boolean[];
    try {
      outcome = await writeBatch(entries.map(({ record }) => record));
    } catch (error) {
      if (entries.length === 1 || error instanceof StorageUnavailableError) {
        for (const entry of entries) entry.reject(error);
        return;
      }
      // The statement failed as a whole, so none of it was kept: each record is tried on its own.
      await Promise.all(entries.map((entry) => writeOne(entry.record).then(entry.resolve, entry.reject)));
      return;
    }
    entries.forEach((entry, i) => {
      if (outcome[i]) entry.resolve();
      else entry.reject(conflict());
    });
  };
}

function updateSql(s: string, table: TableColumns<unknown>, key: string): string {
  const names = columnNames(table);
  const assignments = names.map((name, i) => (name === key ? undefined : `${name} = $${i + 1}`)).filter(Boolean);
  return `UPDATE ${s}.${table.table} SET ${assignments.join(', ')} WHERE ${key} = $${names.indexOf(key) + 1} RETURNING 1`;
}

/** Longest replay key kept as given; a B-tree entry of PostgreSQL holds at most about 2,700 bytes. */
const maxPlainReplayKeyBytes = 512;

/**
 * The replay cache's key as stored. A key PostgreSQL could not keep as given (longer than its
 * index allows, holding U+0000, or holding a lone surrogate, which would arrive as U+FFFD) is
 * kept as its SHA-256; so is a key that starts like a hashed one, so that no key given as is can
 * equal another key's hash.
 */
function storedReplayKey(key: string): string {
  if (
    Buffer.byteLength(key) <= maxPlainReplayKeyBytes &&
    isStorableText(key) &&
    !key.startsWith(hashedReplayKeyPrefix)
  ) {
    return key;
  }
  return hashedReplayKey(key);
}

function purgeSql(s: string, table: string, key: string): string {
  // SKIP LOCKED: two janitors on two instances share the work instead of waiting on each other.
  return `DELETE FROM ${s}.${table} WHERE ${key} IN (SELECT ${key} FROM ${s}.${table} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`;
}

/**
 * The store's operations on one queryable. A write that other instances must hear of sends its
 * NOTIFY in the same statement, so the notification is sent exactly when the write commits.
 */
function createOperations(
  db: Queryable,
  s: string,
  channel: string,
  notification: (change: StorageChange) => string,
  notify: (change: StorageChange) => void,
): Operations {
  /** Runs a data-changing statement that returns a row per changed record; notifies when any changed. */
  const changeAndNotify = async (sql: string, values: unknown[], change: StorageChange): Promise<boolean> => {
    const n = values.length;
    const result = await db.query(`WITH changed AS (${sql}) SELECT pg_notify($${n + 1}, $${n + 2}) FROM changed`, [
      ...values,
      channel,
      notification(change),
    ]);
    const changed = (result.rowCount ?? 0) > 0;
    if (changed) notify(change);
    return changed;
  };

  const clientInsert = insertSql(s, clientColumns);
  const clientUpdate = updateSql(s, clientColumns, 'id');
  const accessTokenInsert = insertSql(s, accessTokenColumns);
  const signingKeyInsert = insertSql(s, signingKeyColumns);
  const signingKeyUpdate = updateSql(s, signingKeyColumns, 'kid');
  const hmacSecretInsert = insertSql(s, hmacSecretColumns);

  return {
    async getClient(id) {
      // Client ids arrive from unauthenticated requests; one no store can hold is simply unknown.
      if (!isStorableText(id)) return undefined;
      const { rows } = await db.query(`SELECT * FROM ${s}.clients WHERE id = $1`, [id]);
      return rows[0] === undefined ? undefined : fromRow(clientColumns, rows[0]);
    },
    async createClient(client: Client) {
      checkStorableText(client, 'client');
      checkStorableTimes(client, 'client');
      const change: StorageChange = { kind: 'client', clientId: client.id };
      if (!(await changeAndNotify(clientInsert, toRowValues(clientColumns, client), change))) {
        throw new StorageConflictError(`client "${client.id}" already exists`);
      }
    },
    async updateClient(client: Client) {
      const change: StorageChange = { kind: 'client', clientId: client.id };
      if (!isStorableText(client.id)) throw new StorageNotFoundError(`client "${client.id}" does not exist`);
      checkStorableText(client, 'client');
      checkStorableTimes(client, 'client');
      if (!(await changeAndNotify(clientUpdate, toRowValues(clientColumns, client), change))) {
        throw new StorageNotFoundError(`client "${client.id}" does not exist`);
      }
    },
    deleteClient: (id) =>
      !isStorableText(id)
        ? Promise.resolve(false)
        : changeAndNotify(`DELETE FROM ${s}.clients WHERE id = $1 RETURNING 1`, [id], { kind: 'client', clientId: id }),
    async listClients({ after, limit = 100 }: ListClientsOptions = {}) {
      const { rows } = await db.query(
        `SELECT * FROM ${s}.clients WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2`,
        // No stored id holds U+0000, so the ids after "a\u0000…" are exactly those after "a". A lone
        // surrogate counts as U+FFFD, as in every store, not left to the driver.
        [
          after === undefined ? null : withLoneSurrogatesReplaced(after.split('\u0000', 1)[0]!),
          rowLimit(limit, 'limit'),
        ],
      );
      return rows.map((row) => fromRow(clientColumns, row));
    },

    async createAccessTokenRecord(record: AccessTokenRecord) {
      checkStorableText(record, 'access token record');
      checkStorableTimes(record, 'access token record');
      // The hot path of issuance: no notification, nobody caches what does not exist yet.
      const result = await db.query(accessTokenInsert, toRowValues(accessTokenColumns, record));
      if (result.rowCount === 0) throw new StorageConflictError('access token record already exists');
    },
    async getAccessTokenRecord(signature) {
      if (!isStorableText(signature)) return undefined;
      const { rows } = await db.query(`SELECT * FROM ${s}.access_tokens WHERE signature = $1`, [signature]);
      return rows[0] === undefined ? undefined : fromRow(accessTokenColumns, rows[0]);
    },
    deleteAccessTokenRecord: (signature) =>
      !isStorableText(signature)
        ? Promise.resolve(false)
        : changeAndNotify(`DELETE FROM ${s}.access_tokens WHERE signature = $1 RETURNING 1`, [signature], {
            kind: 'access-token',
            signature,
          }),

    async revokeTokenId(jti, expiresAt) {
      checkStorableText({ jti }, 'revoked token id');
      checkStorableTimes({ expiresAt }, 'revoked token id');
      await changeAndNotify(
        `INSERT INTO ${s}.revoked_token_ids AS r (jti, expires_at) VALUES ($1, $2)
         ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(r.expires_at, excluded.expires_at) RETURNING 1`,
        [jti, expiresAt],
        { kind: 'access-token', signature: jti },
      );
    },
    async isTokenIdRevoked(jti) {
      if (!isStorableText(jti)) return false;
      const { rowCount } = await db.query(`SELECT 1 FROM ${s}.revoked_token_ids WHERE jti = $1`, [jti]);
      return (rowCount ?? 0) > 0;
    },

    async listSigningKeys() {
      const { rows } = await db.query(`SELECT * FROM ${s}.signing_keys ORDER BY created_at, seq`);
      return rows.map((row) => fromRow(signingKeyColumns, row));
    },
    async createSigningKey(key: StoredSigningKey) {
      checkStorableText(key, 'signing key');
      checkStorableTimes(key, 'signing key');
      if (!(await changeAndNotify(signingKeyInsert, toRowValues(signingKeyColumns, key), { kind: 'signing-keys' }))) {
        throw new StorageConflictError(`signing key "${key.kid}" already exists`);
      }
    },
    async updateSigningKey(key: StoredSigningKey) {
      if (!isStorableText(key.kid)) throw new StorageNotFoundError(`signing key "${key.kid}" does not exist`);
      checkStorableText(key, 'signing key');
      checkStorableTimes(key, 'signing key');
      if (!(await changeAndNotify(signingKeyUpdate, toRowValues(signingKeyColumns, key), { kind: 'signing-keys' }))) {
        throw new StorageNotFoundError(`signing key "${key.kid}" does not exist`);
      }
    },
    deleteSigningKey: (kid) =>
      !isStorableText(kid)
        ? Promise.resolve(false)
        : changeAndNotify(`DELETE FROM ${s}.signing_keys WHERE kid = $1 RETURNING 1`, [kid], { kind: 'signing-keys' }),

    async listHmacSecrets() {
      // Of two secrets made at the same moment, the one added later is the newer.
      const { rows } = await db.query(`SELECT * FROM ${s}.hmac_secrets ORDER BY created_at DESC, seq DESC`);
      return rows.map((row) => fromRow(hmacSecretColumns, row));
    },
    async createHmacSecret(secret: StoredHmacSecret) {
      checkStorableText(secret, 'HMAC secret');
      checkStorableTimes(secret, 'HMAC secret');
      if (
        !(await changeAndNotify(hmacSecretInsert, toRowValues(hmacSecretColumns, secret), { kind: 'hmac-secrets' }))
      ) {
        throw new StorageConflictError(`HMAC secret "${secret.id}" already exists`);
      }
    },

    async markUsed(jti, expiresAt, now) {
      const expiry = replayEntryExpiry(expiresAt);
      const instant = comparisonInstant(now);
      // Inserts, or takes over an entry that has expired; a concurrent twin waits and then finds it held.
      const result = await db.query(
        `INSERT INTO ${s}.replay_cache AS r (jti, expires_at) VALUES ($1, $2)
         ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE r.expires_at <= $3`,
        [storedReplayKey(jti), expiry, instant],
      );
      return (result.rowCount ?? 0) > 0;
    },

    async purgeExpired(now, batchSize) {
      const instant = comparisonInstant(now);
      const limit = rowLimit(batchSize, 'batchSize');
      let purged = 0;
      for (const [table, key] of [
        ['access_tokens', 'signature'],
        ['revoked_token_ids', 'jti'],
        ['replay_cache', 'jti'],
      ] as const) {
        purged += (await db.query(purgeSql(s, table, key), [instant, limit])).rowCount ?? 0;
      }
      return purged;
    },
  };
}

/** The store handed to transaction work: runs on the transaction's connection, tells changes at commit. */
function createTransactionStore(
  connection: Queryable,
  state: { open: boolean },
  changes: StorageChange[],
  outer: Storage,
  operationsOn: (queryable: Queryable, notify: (change: StorageChange) => void) => Operations,
  lockKeyFor: (name: string) => string,
): Storage {
  let savepoints = 0;
  const guarded: Queryable = {
    query(text, values) {
      if (!state.open) return Promise.reject(new Error('the transaction has ended; its store can no longer be used'));
      return connection.query(text, values);
    },
  };
  const tx: Storage = {
    ...operationsOn(guarded, (change) => changes.push(change)),
    subscribeToChanges: (listener) => outer.subscribeToChanges(listener),
    ping: () => outer.ping(),
    close: () => Promise.reject(new Error('close the store, not the transaction')),
    // A nested transaction is a savepoint: its failure takes back only its own writes.
    async transaction(work, options) {
      const name = `tessera_sp_${++savepoints}`;
      const changeMark = changes.length;
      if (options?.exclusive !== undefined) {
        // A transaction-level lock: held until the outermost transaction ends.
        await guarded.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKeyFor(options.exclusive)]);
      }
      await guarded.query(`SAVEPOINT ${name}`);
      try {
        const result = await work(tx);
        await guarded.query(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (error) {
        await guarded.query(`ROLLBACK TO SAVEPOINT ${name}`);
        changes.splice(changeMark);
        throw error;
      }
    },
  };
  return tx;
}
