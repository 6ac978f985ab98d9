// How records map to SQL table columns; shared by the SQLite and PostgreSQL stores, free of any driver.

import type { Client } from '../core/index.js';
import type { AccessTokenRecord, StoredHmacSecret, StoredSigningKey } from './index.js';

/** How a field is kept: as text, as JSON text, or as a number of milliseconds since the epoch. */
export type ColumnKind = 'text' | 'json' | 'time';

/** One field of a record and the column that keeps it. */
export interface Column {
  readonly field: string;
  readonly column: string;
  readonly kind: ColumnKind;
}

/** A table's columns. Fields without a column are kept together as JSON in the `extra` column. */
export interface TableColumns<T> {
  readonly table: string;
  readonly columns: readonly Column[];
  /** Only for typing: the record kept in this table. */
  readonly record?: T;
}

/** The column that keeps fields no other column names, so that a record never loses one. */
export const extraColumn = 'extra';

const column = (field: string, name: string, kind: ColumnKind): Column => ({ field, column: name, kind });

/** Where each {@link Client} field is kept. */
export const clientColumns: TableColumns<Client> = {
  table: 'clients',
  columns: [
    column('id', 'id', 'text'),
    column('secretHash', 'secret_hash', 'text'),
    column('grantTypes', 'grant_types', 'json'),
    column('scopes', 'scopes', 'json'),
    column('defaultScopes', 'default_scopes', 'json'),
    column('audience', 'audience', 'json'),
    column('tokenEndpointAuthMethod', 'token_endpoint_auth_method', 'text'),
    column('jwks', 'jwks', 'json'),
    column('metadata', 'metadata', 'json'),
    column('createdAt', 'created_at', 'time'),
    column('secretUpdatedAt', 'secret_updated_at', 'time'),
  ],
};

/** Where each {@link AccessTokenRecord} field is kept. */
export const accessTokenColumns: TableColumns<AccessTokenRecord> = {
  table: 'access_tokens',
  columns: [
    column('signature', 'signature', 'text'),
    column('format', 'format', 'text'),
    column('clientId', 'client_id', 'text'),
    column('subject', 'subject', 'text'),
    column('scopes', 'scopes', 'json'),
    column('audience', 'audience', 'json'),
    column('issuedAt', 'issued_at', 'time'),
    column('expiresAt', 'expires_at', 'time'),
    column('requestId', 'request_id', 'text'),
    column('extraClaims', 'extra_claims', 'json'),
  ],
};

/** Where each {@link StoredSigningKey} field is kept. */
export const signingKeyColumns: TableColumns<StoredSigningKey> = {
  table: 'signing_keys',
  columns: [
    column('kid', 'kid', 'text'),
    column('alg', 'alg', 'text'),
    column('state', 'state', 'text'),
    column('publicJwk', 'public_jwk', 'json'),
    column('sealedPrivateKey', 'sealed_private_key', 'text'),
    column('createdAt', 'created_at', 'time'),
    column('activatedAt', 'activated_at', 'time'),
    column('retiredAt', 'retired_at', 'time'),
    column('removeAfter', 'remove_after', 'time'),
  ],
};

/** Where each {@link StoredHmacSecret} field is kept. */
export const hmacSecretColumns: TableColumns<StoredHmacSecret> = {
  table: 'hmac_secrets',
  columns: [
    column('id', 'id', 'text'),
    column('sealedSecret', 'sealed_secret', 'text'),
    column('createdAt', 'created_at', 'time'),
  ],
};

/** The names of a table's columns, `extra` last, in the order {@link toRow} fills them. */
export function columnNames(table: TableColumns<unknown>): string[] {
  return [...table.columns.map((c) => c.column), extraColumn];
}

/** Each table's fields that have a column of their own, made once per table. */
const columnFields = new WeakMap<TableColumns<unknown>, ReadonlySet<string>>();

/**
 * Turns a record into column values in {@link columnNames} order: text and numbers as they are,
 * JSON as text, absent fields as null, and every field without a column into the `extra` JSON.
 * Positional, for statements with numbered parameters: this runs for every token record written.
 */
export function toRowValues<T>(table: TableColumns<T>, record: T): (string | number | null)[] {
  const source = record as Record<string, unknown>;
  const values: (string | number | null)[] = [];
  for (const { field, kind } of table.columns) {
    const value = source[field];
    if (value === undefined || value === null) values.push(null);
    else if (kind === 'json') values.push(JSON.stringify(value));
    else if (kind === 'time') values.push(Number(value));
    else values.push(String(value));
  }
  let own = columnFields.get(table);
  if (own === undefined) columnFields.set(table, (own = new Set(table.columns.map((c) => c.field))));
  let extra: Record<string, unknown> | undefined;
  for (const field of Object.keys(source)) {
    const value = source[field];
    if (own.has(field) || value === undefined) continue;
    // No prototype: a field named __proto__ stays a field.
    (extra ??= Object.create(null) as Record<string, unknown>)[field] = value;
  }
  values.push(extra === undefined ? null : JSON.stringify(extra));
  return values;
}

/** {@link toRowValues} keyed by column name, for statements with named parameters. */
export function toRow<T>(table: TableColumns<T>, record: T): Record<string, string | number | null> {
  const values = toRowValues(table, record);
  const row: Record<string, string | number | null> = {};
  columnNames(table).forEach((name, i) => (row[name] = values[i]!));
  return row;
}

/** Reads JSON that a driver may hand over as text or already parsed. */
function readJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

/** Turns a row back into the record {@link toRow} made it from; null columns become absent fields. */
export function fromRow<T>(table: TableColumns<T>, row: Readonly<Record<string, unknown>>): T {
  const extra = row[extraColumn];
  const record: Record<string, unknown> =
    extra === null || extra === undefined ? {} : { ...(readJson(extra) as object) };
  for (const { field, column: name, kind } of table.columns) {
    const value = row[name];
    if (value === null || value === undefined) continue;
    // PostgreSQL hands bigint columns over as strings.
    record[field] = kind === 'json' ? readJson(value) : kind === 'time' ? Number(value) : value;
  }
  return record as T;
}
