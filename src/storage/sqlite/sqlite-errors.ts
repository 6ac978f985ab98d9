// Turns better-sqlite3 errors into the storage errors endpoints understand.

import { StorageConflictError, StorageUnavailableError } from '../index.js';

// Result codes that mean the file cannot be used right now, not that the request was wrong, each
// with what it means to an operator. Fixed words rather than the driver's message, which may quote
// a statement's values.
const unavailableCodes: Readonly<Record<string, string>> = {
  SQLITE_BUSY: 'the database is locked by another connection',
  SQLITE_LOCKED: 'the database is locked by another connection',
  SQLITE_IOERR: 'reading or writing the file failed',
  SQLITE_FULL: 'the disk is full',
  SQLITE_CANTOPEN: 'the file cannot be opened',
  SQLITE_NOMEM: 'SQLite ran out of memory',
  SQLITE_PROTOCOL: 'the file locking protocol failed',
  SQLITE_READONLY: 'the file can only be read',
  SQLITE_CORRUPT: 'the file is damaged',
  SQLITE_NOTADB: 'the file is not a SQLite database',
};

/** The SQLite result code of a driver error, e.g. `SQLITE_BUSY_SNAPSHOT`. */
function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether the error is a primary-key or unique collision. */
export function isSqliteConflict(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Maps a driver error to {@link StorageUnavailableError} or {@link StorageConflictError}; other errors pass unchanged. */
export function toStorageError(error: unknown): unknown {
  if (error instanceof StorageUnavailableError || error instanceof StorageConflictError) return error;
  const code = codeOf(error);
  // Extended codes (SQLITE_BUSY_SNAPSHOT) mean what their primary code does.
  const primary = code?.match(/^SQLITE_[A-Z]+/)?.[0];
  if (code !== undefined && primary !== undefined && Object.hasOwn(unavailableCodes, primary)) {
    return new StorageUnavailableError(`SQLite database unavailable: ${unavailableCodes[primary]} (${code})`, {
      cause: error,
    });
  }
  if (isSqliteConflict(error)) return new StorageConflictError('record already exists', { cause: error });
  return error;
}
