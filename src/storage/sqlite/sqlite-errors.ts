// Turns better-sqlite3 errors into the storage errors endpoints understand.

import { StorageConflictError, StorageUnavailableError } from '../index.js';

// Result codes that mean the file cannot be used right now, not that the request was wrong.
const unavailableCodes = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_CANTOPEN',
  'SQLITE_NOMEM',
  'SQLITE_PROTOCOL',
  'SQLITE_READONLY',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
];

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
  if (code !== undefined && unavailableCodes.some((prefix) => code === prefix || code.startsWith(`${prefix}_`))) {
    return new StorageUnavailableError(`SQLite database unavailable (${code})`, { cause: error });
  }
  if (isSqliteConflict(error)) return new StorageConflictError('record already exists', { cause: error });
  return error;
}
