import { describe, expect, it } from 'vitest';
import type { AccessTokenRecord } from '../index.js';
import { PackedRecordTable } from './packed-records.js';

function record(signature: string, overrides: Partial<AccessTokenRecord> = {}): AccessTokenRecord {
  return {
    signature,
    format: 'jwt',
    clientId: 'machine',
    subject: 'machine',
    scopes: ['read', 'write'],
    audience: ['https://api.example.com'],
    issuedAt: 1_764_000_000_123,
    expiresAt: 1_764_001_800_123,
    requestId: `request-${signature}`,
    ...overrides,
  };
}

describe('PackedRecordTable', () => {
  it('gives back a record equal to the one stored, not the same object', () => {
    const table = new PackedRecordTable();
    const stored = record('a', { extraClaims: { tenant: 'ünï', nested: { list: [1, 2.5, null, true] } } });
    table.set('a', stored);
    const read = table.get('a');
    expect(read).toEqual(stored);
    expect(read).not.toBe(stored);
    expect(table.has('a')).toBe(true);
    expect(table.size).toBe(1);
  });

  it('keeps strings exactly, lone surrogates and control characters included', () => {
    const table = new PackedRecordTable();
    const subject = 'x\ud800y\u0000z"\\\n😀';
    table.set('s', record('s', { subject }));
    expect(table.get('s')?.subject).toBe(subject);
  });

  it('keeps a record larger than a slab', () => {
    const table = new PackedRecordTable();
    const big = record('big', { extraClaims: { blob: 'b'.repeat(600_000) } });
    table.set('small', record('small'));
    table.set('big', big);
    table.set('after', record('after'));
    expect(table.get('big')).toEqual(big);
    expect(table.get('small')).toEqual(record('small'));
    expect(table.get('after')).toEqual(record('after'));
  });

  it('replaces a record stored under the same signature', () => {
    const table = new PackedRecordTable();
    table.set('a', record('a'));
    table.set('a', record('a', { subject: 'other' }));
    expect(table.get('a')?.subject).toBe('other');
    expect(table.size).toBe(1);
  });

  it('deletes, and reports whether there was a record', () => {
    const table = new PackedRecordTable();
    table.set('a', record('a'));
    expect(table.delete('a')).toBe(true);
    expect(table.delete('a')).toBe(false);
    expect(table.get('a')).toBeUndefined();
    expect(table.has('a')).toBe(false);
  });

  it('refuses what JSON cannot carry and keeps nothing of it', () => {
    const table = new PackedRecordTable();
    expect(() => table.set('a', record('a', { extraClaims: { n: 1n } }))).toThrow(TypeError);
    expect(table.has('a')).toBe(false);
    expect(table.size).toBe(0);
  });

  it('lets go of slabs whose records are all gone, and reuses their places', () => {
    const table = new PackedRecordTable();
    const signatures = Array.from({ length: 20_000 }, (_, i) => `sig-${i}`);
    for (const signature of signatures) table.set(signature, record(signature));
    const full = table.slabCount;
    expect(full).toBeGreaterThan(3);
    for (const signature of signatures.slice(0, 15_000)) table.delete(signature);
    expect(table.slabCount).toBeLessThan(full);
    for (const signature of signatures.slice(15_000)) expect(table.get(signature)).toEqual(record(signature));
    // New records fill new slabs in the places let go, and the survivors stay readable.
    for (let i = 0; i < 15_000; i++) table.set(`new-${i}`, record(`new-${i}`));
    expect(table.slabCount).toBeLessThanOrEqual(full + 1);
    for (const signature of signatures.slice(15_000)) expect(table.get(signature)).toEqual(record(signature));
    expect(table.get('new-0')).toEqual(record('new-0'));
    expect(table.get('new-14999')).toEqual(record('new-14999'));
  });

  it('lists expired signatures up to a limit', () => {
    const table = new PackedRecordTable();
    table.set('old-1', record('old-1', { expiresAt: 1000 }));
    table.set('live', record('live', { expiresAt: 5000 }));
    table.set('old-2', record('old-2', { expiresAt: 2000 }));
    expect(table.expiredSignatures(3000, 10)).toEqual(['old-1', 'old-2']);
    expect(table.expiredSignatures(3000, 1)).toEqual(['old-1']);
    expect(table.expiredSignatures(2000, 10)).toEqual(['old-1', 'old-2']);
    expect(table.expiredSignatures(999, 10)).toEqual([]);
  });
});
