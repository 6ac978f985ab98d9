// What times every store can keep exactly: whole milliseconds, checked on write as text is.

import { StorageInvalidTimeError } from './index.js';
import { accessTokenColumns, clientColumns, hmacSecretColumns, signingKeyColumns } from './sql-columns.js';

/** Every field any record keeps as a time, from the column lists the SQL stores use. */
const timeFields: readonly string[] = [
  ...new Set(
    [clientColumns, accessTokenColumns, signingKeyColumns, hmacSecretColumns].flatMap((table) =>
      table.columns.filter((column) => column.kind === 'time').map((column) => column.field),
    ),
  ),
];

/**
 * Refuses a record whose time fields are not whole numbers of milliseconds (safe integers);
 * absent ones are fine. Checked before any store writes, so a fraction is neither rounded by one
 * store nor kept by another, nor refused by a database with an error of its own.
 *
 * @param kind what the record is, for the message ("client", "access token record")
 * @throws {StorageInvalidTimeError} naming the first such field
 */
export function checkStorableTimes(record: object, kind: string): void {
  const fields = record as Readonly<Record<string, unknown>>;
  for (const field of timeFields) {
    const value = fields[field];
    if (value !== undefined && value !== null && !Number.isSafeInteger(value)) {
      throw new StorageInvalidTimeError(`${kind} field ${field}`);
    }
  }
}

/**
 * The expiry a replay-cache entry is kept with: rounded up to a whole millisecond, so a fraction
 * never shortens the hold.
 *
 * @throws {StorageInvalidTimeError} for NaN, an infinity, or a time no store keeps exactly
 */
export function replayEntryExpiry(expiresAt: number): number {
  const expiry = Math.ceil(expiresAt);
  if (!Number.isSafeInteger(expiry)) throw new StorageInvalidTimeError('replay cache entry field expiresAt');
  return expiry;
}

/**
 * The current time a store compares stored expiries with: rounded down to a whole millisecond,
 * which changes no answer since every kept expiry is whole (`expiry <= 12.5` is `expiry <= 12`),
 * and lets a database take it as an integer. A custom clock may read fractions.
 *
 * @throws {StorageInvalidTimeError} for NaN, an infinity, or a time no store keeps exactly
 */
export function comparisonInstant(now: number): number {
  const instant = Math.floor(now);
  if (!Number.isSafeInteger(instant)) throw new StorageInvalidTimeError('current time');
  return instant;
}

/**
 * How many rows a page or batch may hold, as every store reads a `limit` or `batchSize`: rounded
 * down, never below 0, and an infinity as "all" (a number a SQL LIMIT takes).
 *
 * @throws {TypeError} for NaN, which no store could read as any number of rows
 */
export function rowLimit(limit: number, name: string): number {
  if (Number.isNaN(limit)) throw new TypeError(`${name} must be a number`);
  return Math.min(Math.max(0, Math.floor(limit)), Number.MAX_SAFE_INTEGER);
}
