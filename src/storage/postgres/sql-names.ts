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
