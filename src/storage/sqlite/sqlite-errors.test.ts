import { describe, expect, it } from 'vitest';
import { StorageConflictError, StorageUnavailableError } from '../index.js';
import { toStorageError } from './sqlite-errors.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('SQLite error mapping', () => {
  it.each([
    ['SQLITE_NOTADB', 'file is not a database', 'the file is not a SQLite database'],
    ['SQLITE_BUSY_SNAPSHOT', 'database is locked', 'the database is locked by another connection'],
    ['SQLITE_IOERR_FSYNC', 'disk I/O error', 'reading or writing the file failed'],
    ['SQLITE_CORRUPT', 'database disk image is malformed', 'the file is damaged'],
    ['SQLITE_READONLY', 'attempt to write a readonly database', 'the file can only be read'],
  ])('turns %s into StorageUnavailableError that says what it means', (code, driverMessage, meaning) => {
    const error = withCode(driverMessage, code);
    const mapped = toStorageError(error);
    expect(mapped).toBeInstanceOf(StorageUnavailableError);
    expect((mapped as Error).message).toBe(`SQLite database unavailable: ${meaning} (${code})`);
    expect((mapped as Error).cause).toBe(error);
  });

  it('turns a primary-key collision into StorageConflictError', () => {
    expect(toStorageError(withCode('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_PRIMARYKEY'))).toBeInstanceOf(
      StorageConflictError,
    );
  });

  it.each([
    ['another constraint', withCode('NOT NULL constraint failed: clients.id', 'SQLITE_CONSTRAINT_NOTNULL')],
    ['a statement error', withCode('no such table: x', 'SQLITE_ERROR')],
    ['a code that only starts like one it knows', withCode('?', 'SQLITE_BUSYX')],
    ['a plain programming error', new TypeError('x is not a function')],
  ])('passes %s through unchanged', (_title, error) => {
    expect(toStorageError(error)).toBe(error);
  });

  it('keeps the driver message, which may quote values, out of its own', () => {
    const mapped = toStorageError(withCode("database is locked near 'secret-value'", 'SQLITE_BUSY'));
    expect((mapped as Error).message).not.toContain('secret-value');
  });
});
