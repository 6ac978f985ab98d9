// A store in one SQLite file through better-sqlite3: WAL, synchronous commits, one writer connection.

import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { longestTimerMs } from '../../core/timer-limit.js';
import { makeDirectory } from '../make-directory.js';
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
  toRow,
  toRowValues,
  type TableColumns,
} from '../sql-columns.js';
import { createGroupCommit } from '../group-commit.js';
import { checkStorableText, isStorableText, withLoneSurrogatesReplaced } from '../storable-text.js';
import { checkStorableTimes, comparisonInstant, replayEntryExpiry, rowLimit } from '../storable-time.js';
import { applySqliteMigrations } from './migrate.js';
import { toStorageError } from './sqlite-errors.js';

/** Options for {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** Path of the database file; its folder is created when missing. `:memory:` keeps nothing. */
  readonly filename: string;
  /**
   * `full` (default) makes every acknowledged write survive a power cut as well as a killed process;
   * `normal` still survives a killed process (the WAL is in the operating system's hands at commit)
   * but may lose the last writes on power loss, for fewer fsyncs.
   */
  readonly synchronous?: 'full' | 'normal';
  /**
   * How long a write waits for another process's lock before failing as unavailable, counted from
   * the call. Default 5000 ms.
   */
  readonly busyTimeoutMs?: number;
  /**
   * How often subscribers check whether another process (a worker, a CLI command) wrote to the
   * file; what it changed is read from the change log and told as it happened. Default 1000 ms.
   */
  readonly changePollIntervalMs?: number;
  /**
   * How many of the newest change-log rows are kept. A process that falls further behind than
   * this between two checks is told `{ kind: 'all' }`. Default 10000.
   */
  readonly changeLogRetention?: number;
  /** Told of each migration step applied while opening. */
  readonly onMigrationStep?: (step: MigrationStep) => void;
}

/** A SQLite store, with what opening it did to the schema. */
export interface SqliteStorage extends Storage {
  /** The migrations applied when the file was opened; `fromVersion` 0 means a new database. */
  readonly migration: MigrationReport;
  /**
   * The connection's `PRAGMA synchronous` between writes, read from SQLite: `full` or `normal`
   * as configured (a `full` store drops to `normal` only inside its token batches, whose WAL it
   * then syncs itself before acknowledging them).
   */
  readonly synchronous: 'off' | 'normal' | 'full' | 'extra';
}

type Row = Record<string, unknown>;

/** The operations every store offers, written synchronously against one connection. */
type SyncOperations = {
  [K in keyof Omit<Storage, 'transaction' | 'subscribeToChanges' | 'ping' | 'close'>]: (
    ...args: Parameters<Storage[K]>
  ) => Awaited<ReturnType<Storage[K]>>;
};

/** What the running transaction of an async context is, so a misplaced outer call can be caught. */
interface TransactionState {
  open: boolean;
}

/**
 * Opens (creating when new) a SQLite database and migrates its schema.
 *
 * Several processes may serve from one file (`serve --workers`) and a CLI command may write to it
 * while they do: each write that caches care about is logged in the same transaction, and the
 * subscribers of every other process on the file hear it within `changePollIntervalMs`.
 *
 * @throws {StorageSchemaTooNewError} when the file was migrated by a newer Tessera
 * @throws {StorageUnavailableError} when the file cannot be opened
 * @example
 * const storage = createSqliteStore({ filename: './data/tessera.db' });
 */
export function createSqliteStore(options: SqliteStoreOptions): SqliteStorage {
  checkSqliteOptions(options);
  const db = openDatabase(options);
  let migration: MigrationReport;
  try {
    migration = applySqliteMigrations(db, options.onMigrationStep);
  } catch (error) {
    db.close();
    throw toStorageError(error);
  }

  // From here on a lock held by another process is waited for without blocking the event loop.
  db.pragma('busy_timeout = 0');
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const statements = prepareStatements(db);
  // SQLite applies `PRAGMA synchronous` when such a statement is prepared, not only when it runs:
  // preparing the two switches below left every connection at FULL. The configured level is set again.
  db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  const gate = createGate();
  const transactionContext = new AsyncLocalStorage<TransactionState>();
  const listeners = new Set<(change: StorageChange) => void>();
  const pollIntervalMs = options.changePollIntervalMs ?? 1000;
  let poller: NodeJS.Timeout | undefined;
  let lastDataVersion = 0;
  // The newest change-log row this store has accounted for while someone is subscribed.
  let lastChangeSeq = 0;
  let closed = false;
  const changeLog = createChangeLog(statements, options.changeLogRetention ?? 10_000);

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

  const assertUsable = (): void => {
    if (closed) throw new StorageUnavailableError('the SQLite store is closed');
    if (transactionContext.getStore()?.open) {
      // The transaction holds the only connection: waiting for it from inside it would never end.
      throw new Error('inside transaction(), use the store passed to the work function');
    }
  };

  /** Runs one synchronous operation now, or after the running transaction when there is one. */
  const runOutside = <R>(operation: () => R): Promise<R> => {
    try {
      assertUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    const attempt = (): R => {
      if (closed) throw new StorageUnavailableError('the SQLite store is closed');
      return operation();
    };
    // The wait for another process's lock counts from the call, not from its turn: calls queued
    // behind one another must not add their timeouts up.
    const deadline = performance.now() + busyTimeoutMs;
    return gate.run(attempt).catch(async (error: unknown) => {
      if (!isBusy(error)) throw toStorageError(error);
      // Another process holds the write lock: wait for it in turn, without blocking the event loop.
      return gate.exclusive(() => retryWhileBusy(attempt, deadline));
    });
  };

  // A write outside a transaction gets one of its own, so its change-log row commits with it.
  const inOwnTransaction = db.transaction((work: () => boolean) => work());
  const outerOperations = createOperations(statements, {
    atomically: (work) => inOwnTransaction.immediate(work),
    log: changeLog.append,
    tell: deliver,
  });

  // Under `synchronous = FULL` a token batch is committed without waiting for the disk, then
  // made durable by syncing the WAL on libuv's pool: the fsync no longer stalls the event loop,
  // and no record is acknowledged before it is on disk.
  const walSync =
    options.synchronous !== 'normal' && isFile(options.filename)
      ? createWalSync(`${walBasePath(options.filename)}-wal`)
      : undefined;
  const groupCommit = createGroupCommit(async (pending) => {
    const deadline = performance.now() + busyTimeoutMs;
    const batch = pending.map(({ record }) => record);
    const attempt = (): BatchOutcome => {
      // Checked on the connection, not `closed`: a batch taken by close() still gets written.
      if (!db.open) throw new StorageUnavailableError('the SQLite store is closed');
      if (!walSync) return insertAccessTokenBatch(statements, batch);
      statements.synchronousNormal.run();
      try {
        return insertAccessTokenBatch(statements, batch);
      } finally {
        statements.synchronousFull.run();
      }
    };
    const outcome = await gate.run(attempt).catch(async (error: unknown) => {
      if (!isBusy(error)) throw toStorageError(error);
      return gate.exclusive(() => retryWhileBusy(attempt, deadline));
    });
    await walSync?.sync();
    pending.forEach((entry, i) => {
      const result = outcome[i];
      if (result === true) entry.resolve();
      else if (result === false) entry.reject(new StorageConflictError('access token record already exists'));
      else entry.reject(result?.error);
    });
  });

  const store: SqliteStorage = {
    ...promisify(outerOperations, runOutside),
    migration,

    get synchronous() {
      const levels = ['off', 'normal', 'full', 'extra'] as const;
      return levels[Number(db.pragma('synchronous', { simple: true }))] ?? 'full';
    },

    createAccessTokenRecord(record) {
      try {
        assertUsable();
        // Refused here, alone, rather than inside a batch written with others.
        checkStorableText(record, 'access token record');
        checkStorableTimes(record, 'access token record');
      } catch (error) {
        return Promise.reject(error);
      }
      return groupCommit.add(record);
    },

    subscribeToChanges(listener) {
      listeners.add(listener);
      startPolling();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) stopPolling();
      };
    },

    ping() {
      if (closed) return Promise.reject(new StorageUnavailableError('the SQLite store is closed'));
      try {
        statements.ping.get();
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(toStorageError(error));
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      stopPolling();
      listeners.clear();
      // Records already accepted are written before the connection goes, as is a running transaction.
      const written = groupCommit.flush();
      await gate.exclusive(() => Promise.resolve());
      await written;
      await walSync?.close();
      db.close();
    },

    async transaction(work) {
      assertUsable();
      const deadline = performance.now() + busyTimeoutMs;
      return gate.exclusive(async () => {
        if (closed) throw new StorageUnavailableError('the SQLite store is closed');
        // IMMEDIATE takes the write lock at once, so another process cannot slip in between our reads and writes.
        await retryWhileBusy(() => statements.begin.run(), deadline);
        const state: TransactionState = { open: true };
        const changes: StorageChange[] = [];
        const tx = createTransactionStore(db, statements, changeLog, state, changes, store);
        try {
          const result = await transactionContext.run(state, () => work(tx));
          runStatement(() => statements.commit.run());
          state.open = false;
          for (const change of changes) deliver(change);
          return result;
        } catch (error) {
          state.open = false;
          if (db.inTransaction) runStatement(() => statements.rollback.run());
          throw toStorageError(error);
        } finally {
          // On Node 20 an enabled AsyncLocalStorage puts a hook on every promise of the process;
          // it is needed only while a transaction is open (transactions take turns), so it is
          // switched off again, and the next transaction's run() switches it on.
          transactionContext.disable();
        }
      });
    },
  };

  function startPolling(): void {
    if (poller !== undefined || closed) return;
    lastDataVersion = readDataVersion();
    try {
      lastChangeSeq = changeLog.bounds().newest;
    } catch {
      lastChangeSeq = 0;
    }
    poller = setInterval(() => {
      if (closed || gate.isBusy()) return;
      const version = readDataVersion();
      // Token records written by other processes move data_version too; only the log says
      // whether anything a cache holds changed.
      if (version !== lastDataVersion) {
        lastDataVersion = version;
        tellChangesOfOthers();
      }
    }, pollIntervalMs);
    poller.unref();
  }

  function tellChangesOfOthers(): void {
    let read: ChangesSince;
    try {
      read = changeLog.readSince(lastChangeSeq);
    } catch {
      // Unreadable for now: tell everything, and read from the same place at the next check.
      deliver({ kind: 'all' });
      return;
    }
    lastChangeSeq = read.newest;
    if (read.changes === undefined) {
      deliver({ kind: 'all' });
      return;
    }
    for (const { writer, change } of read.changes) {
      // This store told its own changes when it made them.
      if (writer !== changeLog.writer) deliver(change);
    }
  }

  function stopPolling(): void {
    if (poller !== undefined) clearInterval(poller);
    poller = undefined;
  }

  function readDataVersion(): number {
    try {
      // Changes only when another connection commits to the file; our own commits leave it alone.
      return Number(db.pragma('data_version', { simple: true }));
    } catch {
      return lastDataVersion;
    }
  }

  return store;
}

/** Whether `filename` names a plain file, beside which SQLite keeps its `-wal` file. */
/**
 * The database file's own path, with every link resolved, as SQLite names its WAL after it:
 * a `filename` that is a symbolic link has its WAL beside the file it points to. Absolute, so a
 * later change of the working directory cannot move it. The file exists once it is opened.
 */
function walBasePath(filename: string): string {
  try {
    return realpathSync(filename);
  } catch {
    return resolve(filename);
  }
}

/** @throws TypeError for a wait, interval or retention that is not a finite number in range. */
function checkSqliteOptions(options: SqliteStoreOptions): void {
  const checks = [
    ['busyTimeoutMs', options.busyTimeoutMs, 0],
    ['changePollIntervalMs', options.changePollIntervalMs, 1],
    ['changeLogRetention', options.changeLogRetention, 1],
  ] as const;
  for (const [name, value, least] of checks) {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= least)) {
      throw new TypeError(`${name} must be a finite number of at least ${least}, got ${String(value)}`);
    }
  }
  // A wait or interval past what node's timers take would fire at once.
  if (options.changePollIntervalMs !== undefined && options.changePollIntervalMs > longestTimerMs) {
    throw new TypeError(`changePollIntervalMs must be at most ${longestTimerMs}, got ${options.changePollIntervalMs}`);
  }
}

function isFile(filename: string): boolean {
  return filename !== ':memory:' && filename !== '' && !filename.startsWith('file:');
}

/**
 * Syncs the WAL file to disk, off the event loop. Calls made while a sync runs share the next
 * one, which starts when the running one ends: that sync may have begun before their commit.
 */
function createWalSync(path: string) {
  let handle: Promise<FileHandle> | undefined;
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;

  const start = (): Promise<void> => {
    const run = (async () => {
      // Opened once the first commit has created the file; SQLite keeps it while it is open.
      handle ??= open(path, 'r');
      // fdatasync, as SQLite itself syncs on Linux: the frames and the file's size reach the disk;
      // timestamps, which recovery never reads, are not flushed on their own.
      await (await handle).datasync();
    })().catch((error: unknown) => {
      // The next sync opens the file afresh; this handle is closed, not leaked.
      const failed = handle;
      handle = undefined;
      void failed?.then((opened) => opened.close()).catch(() => undefined);
      throw new StorageUnavailableError('the SQLite write-ahead log could not be synced to disk', { cause: error });
    });
    running = run;
    void run
      .finally(() => {
        if (running === run) running = undefined;
      })
      .catch(() => undefined);
    return run;
  };

  return {
    sync(): Promise<void> {
      if (running === undefined) return start();
      next ??= running
        .catch(() => undefined)
        .then(() => {
          next = undefined;
          return start();
        });
      return next;
    },
    async close(): Promise<void> {
      await Promise.allSettled([running, next]);
      const opened = handle;
      handle = undefined;
      if (opened) await (await opened.catch(() => undefined))?.close();
    },
  };
}

function openDatabase(options: SqliteStoreOptions): Database.Database {
  const { filename } = options;
  try {
    if (isFile(filename)) {
      makeDirectory(dirname(filename));
    }
    const db = new Database(filename);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    // Opening and migrating may wait for another process synchronously; nothing is being served yet.
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    return db;
  } catch (error) {
    const mapped = toStorageError(error);
    if (mapped !== error) throw mapped;
    throw new StorageUnavailableError(`cannot open SQLite database "${filename}"`, { cause: error });
  }
}

/** Whether another connection holds the lock the statement needed. */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** Retries a statement refused for a lock held elsewhere, with short pauses, for at most `timeoutMs`. */
/**
 * Runs `operation`, trying again while another process holds the lock, until `deadline` (a
 * `performance.now()` time). It is always tried once, even past the deadline.
 */
async function retryWhileBusy<R>(operation: () => R, deadline: number): Promise<R> {
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      return operation();
    } catch (error) {
      if (!isBusy(error) || performance.now() >= deadline) throw toStorageError(error);
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

function runStatement<R>(run: () => R): R {
  try {
    return run();
  } catch (error) {
    throw toStorageError(error);
  }
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * An INSERT of `table`'s columns, `extraColumns` (name to SQL expression) after them. Named
 * parameters (`@name`, bound from {@link toRow}), or numbered ones in column order (bound from
 * {@link toRowValues}) where `positional`: binding by position costs less, which counts for token records.
 */
function insertSql(
  table: TableColumns<unknown>,
  { extraColumns = {}, positional = false }: { extraColumns?: Record<string, string>; positional?: boolean } = {},
): string {
  const names = columnNames(table);
  const columns = [...names, ...Object.keys(extraColumns)].join(', ');
  const values = [...names.map((name) => (positional ? '?' : `@${name}`)), ...Object.values(extraColumns)].join(', ');
  // DO NOTHING rather than an error keeps a surrounding transaction usable after a collision.
  return `INSERT INTO ${table.table} (${columns}) VALUES (${values}) ON CONFLICT DO NOTHING`;
}

function updateSql(table: TableColumns<unknown>, key: string): string {
  const assignments = columnNames(table)
    .filter((name) => name !== key)
    .map((name) => `${name} = @${name}`)
    .join(', ');
  return `UPDATE ${table.table} SET ${assignments} WHERE ${key} = @${key}`;
}

function purgeSql(table: string, key: string): string {
  return `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE expires_at <= @now LIMIT @limit)`;
}

function prepareStatements(db: Database.Database) {
  return {
    ping: db.prepare('SELECT 1'),
    synchronousNormal: db.prepare('PRAGMA synchronous = NORMAL'),
    synchronousFull: db.prepare('PRAGMA synchronous = FULL'),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),

    getClient: db.prepare<[string], Row>('SELECT * FROM clients WHERE id = ?'),
    insertClient: db.prepare(insertSql(clientColumns)),
    updateClient: db.prepare(updateSql(clientColumns, 'id')),
    deleteClient: db.prepare<[string]>('DELETE FROM clients WHERE id = ?'),
    listClients: db.prepare<{ after: string | null; limit: number }, Row>(
      'SELECT * FROM clients WHERE @after IS NULL OR id > @after ORDER BY id LIMIT @limit',
    ),

    insertAccessToken: db.prepare<unknown[]>(insertSql(accessTokenColumns, { positional: true })),
    getAccessToken: db.prepare<[string], Row>('SELECT * FROM access_tokens WHERE signature = ?'),
    deleteAccessToken: db.prepare<[string]>('DELETE FROM access_tokens WHERE signature = ?'),

    revokeTokenId: db.prepare<{ jti: string; expiresAt: number }>(
      `INSERT INTO revoked_token_ids (jti, expires_at) VALUES (@jti, @expiresAt)
       ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
    ),
    isTokenIdRevoked: db.prepare<[string], number>('SELECT 1 FROM revoked_token_ids WHERE jti = ?').pluck(),

    listSigningKeys: db.prepare<[], Row>('SELECT * FROM signing_keys ORDER BY created_at, seq'),
    insertSigningKey: db.prepare(
      insertSql(signingKeyColumns, { extraColumns: { seq: '(SELECT coalesce(max(seq), 0) + 1 FROM signing_keys)' } }),
    ),
    updateSigningKey: db.prepare(updateSql(signingKeyColumns, 'kid')),
    deleteSigningKey: db.prepare<[string]>('DELETE FROM signing_keys WHERE kid = ?'),

    // Of two secrets made at the same moment, the one added later is the newer.
    listHmacSecrets: db.prepare<[], Row>('SELECT * FROM hmac_secrets ORDER BY created_at DESC, seq DESC'),
    insertHmacSecret: db.prepare(
      insertSql(hmacSecretColumns, { extraColumns: { seq: '(SELECT coalesce(max(seq), 0) + 1 FROM hmac_secrets)' } }),
    ),

    // Inserts, or takes over an entry that has expired; changes nothing while the old one holds.
    markUsed: db.prepare<{ jti: string; expiresAt: number; now: number }>(
      `INSERT INTO replay_cache (jti, expires_at) VALUES (@jti, @expiresAt)
       ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE replay_cache.expires_at <= @now`,
    ),

    appendChange: db.prepare<{ writer: string; kind: string; key: string | null }>(
      'INSERT INTO change_log (writer, kind, key) VALUES (@writer, @kind, @key)',
    ),
    pruneChanges: db.prepare<{ newest: number | bigint; keep: number }>(
      'DELETE FROM change_log WHERE seq <= @newest - @keep',
    ),
    changeLogBounds: db.prepare<[], { oldest: number | null; newest: number | null }>(
      'SELECT min(seq) AS oldest, max(seq) AS newest FROM change_log',
    ),
    changesSince: db.prepare<{ after: number; limit: number }, ChangeLogRow>(
      'SELECT seq, writer, kind, key FROM change_log WHERE seq > @after ORDER BY seq LIMIT @limit',
    ),

    purgeAccessTokens: db.prepare<{ now: number; limit: number }>(purgeSql('access_tokens', 'signature')),
    purgeRevokedTokenIds: db.prepare<{ now: number; limit: number }>(purgeSql('revoked_token_ids', 'jti')),
    purgeReplayCache: db.prepare<{ now: number; limit: number }>(purgeSql('replay_cache', 'jti')),
  };
}

/** How the operations record a write that caches care about. */
interface ChangeRecording {
  /** Runs `work` so that the write and its log row commit together or not at all. */
  readonly atomically: (work: () => boolean) => boolean;
  /** Appends the change-log row, inside the write's transaction. */
  readonly log: (change: StorageChange) => void;
  /** Tells subscribers in this process (at once, or when the surrounding transaction commits). */
  readonly tell: (change: StorageChange) => void;
}

function createOperations(statements: Statements, recording: ChangeRecording): SyncOperations {
  /** Runs a write that may change what a cache holds; logs and tells `change` when it wrote. */
  const changing = (change: StorageChange, write: () => boolean): boolean => {
    const written = recording.atomically(() => {
      if (!write()) return false;
      recording.log(change);
      return true;
    });
    if (written) recording.tell(change);
    return written;
  };
  return {
    getClient(id) {
      // SQLite would look up the changed text (U+FFFD for a lone surrogate) and could find another client.
      if (!isStorableText(id)) return undefined;
      const row = statements.getClient.get(id);
      return row === undefined ? undefined : fromRow(clientColumns, row);
    },
    createClient(client: Client) {
      // Written as UTF-8, a lone surrogate would become U+FFFD; U+0000 is refused as PostgreSQL must.
      checkStorableText(client, 'client');
      checkStorableTimes(client, 'client');
      const change: StorageChange = { kind: 'client', clientId: client.id };
      if (!changing(change, () => statements.insertClient.run(toRow(clientColumns, client)).changes > 0)) {
        throw new StorageConflictError(`client "${client.id}" already exists`);
      }
    },
    updateClient(client: Client) {
      const change: StorageChange = { kind: 'client', clientId: client.id };
      if (!isStorableText(client.id)) throw new StorageNotFoundError(`client "${client.id}" does not exist`);
      checkStorableText(client, 'client');
      checkStorableTimes(client, 'client');
      if (!changing(change, () => statements.updateClient.run(toRow(clientColumns, client)).changes > 0)) {
        throw new StorageNotFoundError(`client "${client.id}" does not exist`);
      }
    },
    deleteClient(id) {
      if (!isStorableText(id)) return false;
      return changing({ kind: 'client', clientId: id }, () => statements.deleteClient.run(id).changes > 0);
    },
    listClients({ after, limit = 100 }: ListClientsOptions = {}) {
      return statements.listClients
        .all({
          // As every store compares it: a lone surrogate as U+FFFD, not left to the driver.
          after: after === undefined ? null : withLoneSurrogatesReplaced(after),
          limit: rowLimit(limit, 'limit'),
        })
        .map((row) => fromRow(clientColumns, row));
    },

    createAccessTokenRecord(record: AccessTokenRecord) {
      checkStorableText(record, 'access token record');
      checkStorableTimes(record, 'access token record');
      if (statements.insertAccessToken.run(toRowValues(accessTokenColumns, record)).changes === 0) {
        throw new StorageConflictError('access token record already exists');
      }
    },
    getAccessTokenRecord(signature) {
      if (!isStorableText(signature)) return undefined;
      const row = statements.getAccessToken.get(signature);
      return row === undefined ? undefined : fromRow(accessTokenColumns, row);
    },
    deleteAccessTokenRecord(signature) {
      if (!isStorableText(signature)) return false;
      return changing(
        { kind: 'access-token', signature },
        () => statements.deleteAccessToken.run(signature).changes > 0,
      );
    },

    revokeTokenId(jti, expiresAt) {
      checkStorableText({ jti }, 'revoked token id');
      checkStorableTimes({ expiresAt }, 'revoked token id');
      changing({ kind: 'access-token', signature: jti }, () => {
        statements.revokeTokenId.run({ jti, expiresAt });
        return true;
      });
    },
    isTokenIdRevoked(jti) {
      if (!isStorableText(jti)) return false;
      return statements.isTokenIdRevoked.get(jti) !== undefined;
    },

    listSigningKeys() {
      return statements.listSigningKeys.all().map((row) => fromRow(signingKeyColumns, row));
    },
    createSigningKey(key: StoredSigningKey) {
      checkStorableText(key, 'signing key');
      checkStorableTimes(key, 'signing key');
      if (
        !changing(signingKeysChange, () => statements.insertSigningKey.run(toRow(signingKeyColumns, key)).changes > 0)
      ) {
        throw new StorageConflictError(`signing key "${key.kid}" already exists`);
      }
    },
    updateSigningKey(key: StoredSigningKey) {
      if (!isStorableText(key.kid)) throw new StorageNotFoundError(`signing key "${key.kid}" does not exist`);
      checkStorableText(key, 'signing key');
      checkStorableTimes(key, 'signing key');
      if (
        !changing(signingKeysChange, () => statements.updateSigningKey.run(toRow(signingKeyColumns, key)).changes > 0)
      ) {
        throw new StorageNotFoundError(`signing key "${key.kid}" does not exist`);
      }
    },
    deleteSigningKey(kid) {
      if (!isStorableText(kid)) return false;
      return changing(signingKeysChange, () => statements.deleteSigningKey.run(kid).changes > 0);
    },

    listHmacSecrets() {
      return statements.listHmacSecrets.all().map((row) => fromRow(hmacSecretColumns, row));
    },
    createHmacSecret(secret: StoredHmacSecret) {
      checkStorableText(secret, 'HMAC secret');
      checkStorableTimes(secret, 'HMAC secret');
      const change: StorageChange = { kind: 'hmac-secrets' };
      if (!changing(change, () => statements.insertHmacSecret.run(toRow(hmacSecretColumns, secret)).changes > 0)) {
        throw new StorageConflictError(`HMAC secret "${secret.id}" already exists`);
      }
    },

    markUsed(jti, expiresAt, now) {
      return (
        statements.markUsed.run({ jti, expiresAt: replayEntryExpiry(expiresAt), now: comparisonInstant(now) }).changes >
        0
      );
    },

    purgeExpired(now, batchSize) {
      const batch = { now: comparisonInstant(now), limit: rowLimit(batchSize, 'batchSize') };
      return (
        statements.purgeAccessTokens.run(batch).changes +
        statements.purgeRevokedTokenIds.run(batch).changes +
        statements.purgeReplayCache.run(batch).changes
      );
    },
  };
}

const signingKeysChange: StorageChange = { kind: 'signing-keys' };

interface ChangeLogRow {
  readonly seq: number;
  readonly writer: string;
  readonly kind: string;
  readonly key: string | null;
}

/** What the change log holds after a given row. */
interface ChangesSince {
  /** The newest row accounted for: the next read starts after it. */
  readonly newest: number;
  /** The changes in order, or undefined when some cannot be known (pruned, too many, log reset). */
  readonly changes: readonly { readonly writer: string; readonly change: StorageChange }[] | undefined;
}

type ChangeLog = ReturnType<typeof createChangeLog>;

/** At most this many rows are told one by one at a check; further behind, `{ kind: 'all' }` is cheaper. */
const changeReadLimit = 1000;

/**
 * The change log: one row per write that caches care about, appended in the write's own
 * transaction and tagged with the writing store, so other processes on the file learn what
 * changed (not only that something did) and each store can skip what it already told.
 */
function createChangeLog(statements: Statements, retention: number) {
  const writer = randomUUID();
  const keep = Math.max(1, Math.floor(retention));
  const bounds = (): { oldest: number; newest: number } => {
    const row = statements.changeLogBounds.get();
    return { oldest: row?.oldest ?? 0, newest: row?.newest ?? 0 };
  };
  return {
    writer,
    append(change: StorageChange): void {
      const key = change.kind === 'client' ? change.clientId : change.kind === 'access-token' ? change.signature : null;
      const { lastInsertRowid } = statements.appendChange.run({ writer, kind: change.kind, key });
      statements.pruneChanges.run({ newest: lastInsertRowid, keep });
    },
    bounds,
    readSince(after: number): ChangesSince {
      const { oldest, newest } = bounds();
      if (newest === after) return { newest, changes: [] };
      // Behind the pruned rows, too far behind, or the log went back (the file was replaced).
      if (newest < after || oldest > after + 1 || newest - after > changeReadLimit)
        return { newest, changes: undefined };
      const rows = statements.changesSince.all({ after, limit: changeReadLimit });
      // Numbers are handed out one after another; a hole means rows were pruned between the two reads.
      if (rows.some((row, i) => row.seq !== after + 1 + i)) return { newest, changes: undefined };
      return {
        newest: rows.at(-1)?.seq ?? after,
        changes: rows.map((row) => ({ writer: row.writer, change: toStorageChange(row) })),
      };
    },
  };
}

/** The change a log row names; a kind this version does not know is told as `{ kind: 'all' }`. */
function toStorageChange(row: ChangeLogRow): StorageChange {
  if (row.kind === 'client' && row.key !== null) return { kind: 'client', clientId: row.key };
  if (row.kind === 'access-token' && row.key !== null) return { kind: 'access-token', signature: row.key };
  if (row.kind === 'signing-keys' || row.kind === 'hmac-secrets') return { kind: row.kind };
  return { kind: 'all' };
}

/** Per record of a batch, in order: written, refused as already existing, or refused for its own fault. */
type BatchOutcome = readonly (boolean | { readonly error: unknown })[];

/**
 * Writes a batch of access-token records in one transaction, so one commit (and one WAL sync
 * after it under `synchronous = FULL`) serves them all. A record whose signature exists (or came earlier in the
 * same batch) is skipped by ON CONFLICT DO NOTHING and reported as refused; the others are kept.
 * A record that cannot be kept for a fault of its own (a claim JSON cannot carry, a value its
 * column refuses) is reported with its error and the others are still kept: a failed statement
 * takes back only itself. An error that means the database cannot serve fails the whole batch.
 */
function insertAccessTokenBatch(statements: Statements, batch: readonly AccessTokenRecord[]): BatchOutcome {
  if (batch.length === 1)
    return [statements.insertAccessToken.run(toRowValues(accessTokenColumns, batch[0]!)).changes > 0];
  statements.begin.run();
  try {
    const outcome = batch.map((record): BatchOutcome[number] => {
      try {
        return statements.insertAccessToken.run(toRowValues(accessTokenColumns, record)).changes > 0;
      } catch (error) {
        // Busy, I/O, full disk: not this record's fault, and SQLite may have ended the transaction.
        if (
          isBusy(error) ||
          toStorageError(error) instanceof StorageUnavailableError ||
          !statements.begin.database.inTransaction
        )
          throw error;
        return { error };
      }
    });
    statements.commit.run();
    return outcome;
  } catch (error) {
    // A failed COMMIT may already have ended the transaction.
    try {
      statements.rollback.run();
    } catch {
      // nothing left to take back
    }
    throw error;
  }
}

/** Gives each synchronous operation the promise-returning shape of the interface, run through `run`. */
function promisify(
  operations: SyncOperations,
  run: <R>(operation: () => R) => Promise<R>,
): Omit<Storage, 'transaction' | 'subscribeToChanges' | 'ping' | 'close'> {
  const wrapped: Record<string, unknown> = {};
  for (const [name, operation] of Object.entries(operations) as [string, (...args: unknown[]) => unknown][]) {
    wrapped[name] = (...args: unknown[]) => run(() => operation(...args));
  }
  return wrapped as unknown as Omit<Storage, 'transaction' | 'subscribeToChanges' | 'ping' | 'close'>;
}

/** The store handed to transaction work: runs on the open transaction, tells changes only at commit. */
function createTransactionStore(
  db: Database.Database,
  statements: Statements,
  changeLog: ChangeLog,
  state: TransactionState,
  changes: StorageChange[],
  outer: Storage,
): Storage {
  let savepoints = 0;
  const runInside = <R>(operation: () => R): Promise<R> => {
    if (!state.open) return Promise.reject(new Error('the transaction has ended; its store can no longer be used'));
    try {
      return Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(toStorageError(error));
    }
  };
  const tx: Storage = {
    ...promisify(
      // Already inside the transaction: the log row rolls back with the write; subscribers hear at commit.
      createOperations(statements, {
        atomically: (work) => work(),
        log: changeLog.append,
        tell: (change) => changes.push(change),
      }),
      runInside,
    ),
    subscribeToChanges: (listener) => outer.subscribeToChanges(listener),
    ping: () => outer.ping(),
    close: () => Promise.reject(new Error('close the store, not the transaction')),
    // A nested transaction is a savepoint: its failure takes back only its own writes.
    async transaction(work) {
      if (!state.open) throw new Error('the transaction has ended; its store can no longer be used');
      const name = `tessera_sp_${++savepoints}`;
      const changeMark = changes.length;
      runStatement(() => db.exec(`SAVEPOINT ${name}`));
      try {
        const result = await work(tx);
        runStatement(() => db.exec(`RELEASE ${name}`));
        return result;
      } catch (error) {
        if (db.inTransaction) runStatement(() => db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`));
        changes.splice(changeMark);
        throw toStorageError(error);
      }
    },
  };
  return tx;
}

/**
 * One connection, one writer: operations run at once unless a transaction holds the connection,
 * and then wait their turn in arrival order.
 */
function createGate() {
  let busy = false;
  const queue: (() => void)[] = [];
  const acquire = (): Promise<void> => {
    if (!busy) {
      busy = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => queue.push(resolve));
  };
  const release = (): void => {
    const next = queue.shift();
    if (next) next();
    else busy = false;
  };
  return {
    isBusy: () => busy,
    /** Runs a synchronous operation now when the connection is free, else in turn. */
    run<R>(operation: () => R): Promise<R> {
      if (!busy) {
        try {
          return Promise.resolve(operation());
        } catch (error) {
          return Promise.reject(error);
        }
      }
      return acquire().then(() => {
        try {
          return operation();
        } finally {
          release();
        }
      });
    },
    async exclusive<R>(work: () => Promise<R>): Promise<R> {
      await acquire();
      try {
        return await work();
      } finally {
        release();
      }
    },
  };
}
