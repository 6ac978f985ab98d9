// Quoting of SQL identifiers and the 64-bit keys of advisory locks.

import { createHash } from 'node:crypto';

/** Quotes an identifier (schema, channel) so any name is taken literally. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A stable signed 64-bit advisory-lock key for a name, as the decimal text PostgreSQL reads as bigint. */
export function advisoryLockKey(name: string): string {
  const digest = createHash('sha256').update(name).digest();
  return digest.readBigInt64BE(0).toString();
}

/** The LISTEN/NOTIFY channel of a schema: short enough for any schema name, distinct per schema. */
export function changeChannel(schema: string): string {
  return `tessera_changes_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
}

/**
 * Returns the schema name when PostgreSQL will keep it as given.
 *
 * @throws {TypeError} when it is empty or longer than 63 bytes (PostgreSQL would silently cut it,
 * which could make two schemas one)
 */
export function checkSchemaName(schema: string): string {
  if (schema.length === 0 || Buffer.byteLength(schema) > 63) {
    throw new TypeError(`schema must be a name of 1 to 63 bytes, got "${schema}"`);
  }
  return schema;
}
