import { describe, expect, it } from 'vitest';
import type { AccessTokenRecord } from './index.js';
import { accessTokenColumns, columnNames, fromRow, toRow, toRowValues } from './sql-columns.js';

const record: AccessTokenRecord = {
  signature: '01938f3a-7c2e-7d41-9a3b-5e6f70819a2b',
  format: 'jwt',
  clientId: 'test-client',
  subject: 'test-client',
  scopes: ['read', 'write'],
  audience: [],
  issuedAt: 1_760_000_000_000,
  expiresAt: 1_760_001_800_000,
  requestId: '5b0c1d2e-3f40-4152-8637-48596a7b8c9d',
};

describe('record to SQL columns', () => {
  it('gives one value per column, in columnNames order, with JSON as text and absent fields as null', () => {
    const values = toRowValues(accessTokenColumns, record);
    expect(values).toHaveLength(columnNames(accessTokenColumns).length);
    expect(values).toEqual([
      record.signature,
      'jwt',
      'test-client',
      'test-client',
      '["read","write"]',
      '[]',
      1_760_000_000_000,
      1_760_001_800_000,
      record.requestId,
      null,
      null,
    ]);
  });

  it('names the same values by column for named parameters', () => {
    const row = toRow(accessTokenColumns, record);
    expect(Object.keys(row)).toEqual(columnNames(accessTokenColumns));
    expect(Object.values(row)).toEqual(toRowValues(accessTokenColumns, record));
  });

  it('keeps fields without a column in extra, a field named __proto__ included, and leaves the record as it was', () => {
    const withExtras = { ...record, tenant: 'blue', nothing: undefined } as AccessTokenRecord & Record<string, unknown>;
    Object.defineProperty(withExtras, '__proto__', {
      value: { x: 1 },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const before = JSON.stringify(withExtras);
    const values = toRowValues(accessTokenColumns, withExtras);
    expect(JSON.parse(values.at(-1) as string)).toEqual(JSON.parse('{"tenant":"blue","__proto__":{"x":1}}'));
    expect(JSON.stringify(withExtras)).toBe(before);

    const back = fromRow(accessTokenColumns, toRow(accessTokenColumns, withExtras)) as unknown as Record<
      string,
      unknown
    >;
    expect(back.tenant).toBe('blue');
    expect(Object.hasOwn(back, 'nothing')).toBe(false);
    expect(back.scopes).toEqual(['read', 'write']);
  });
});
