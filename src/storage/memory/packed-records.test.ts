import fc from 'fast-check';
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

  it('lists expired records in the order they were written, never a deleted one', () => {
    const table = new PackedRecordTable();
    const signatures = Array.from({ length: 6_000 }, (_, i) => `sig-${i}`);
    // Every third record expires late; the rest have expired by 10_000.
    signatures.forEach((signature, i) =>
      table.set(signature, record(signature, { expiresAt: i % 3 === 0 ? 50_000 : 1_000 + i })),
    );
    for (const signature of signatures.slice(0, 300)) table.delete(signature);
    const expired = signatures.filter((_, i) => i >= 300 && i % 3 !== 0);
    expect(table.expiredSignatures(10_000, 10_000)).toEqual(expired);
    expect(table.expiredSignatures(10_000, 5)).toEqual(expired.slice(0, 5));
    // Past the late ones too.
    expect(table.expiredSignatures(50_000, 10_000)).toEqual(signatures.slice(300));
  });

  it('keeps its index in proportion to the records it holds', () => {
    const table = new PackedRecordTable();
    const small = table.indexSlots;
    const signatures = Array.from({ length: 50_000 }, (_, i) => `sig-${i}`);
    for (const signature of signatures) table.set(signature, record(signature));
    expect(table.indexSlots).toBeGreaterThanOrEqual(2 * signatures.length);
    for (const signature of signatures) table.delete(signature);
    expect(table.size).toBe(0);
    expect(table.indexSlots).toBe(small);
    expect(table.slabCount).toBeLessThanOrEqual(1);
  });

  it('tells a lone surrogate from the U+FFFD that UTF-8 would put in its place', () => {
    const table = new PackedRecordTable();
    table.set('a\ufffdb', record('a\ufffdb'));
    expect(table.get('a\ud800b')).toBeUndefined();
    expect(table.has('a\ud800b')).toBe(false);
    expect(table.delete('a\ud800b')).toBe(false);
    expect(table.get('a\ufffdb')?.signature).toBe('a\ufffdb');
  });

  it('finds every signature sharing a hash slot, whichever of them is deleted first', () => {
    // Far more signatures than the smallest index has slots, with long shared prefixes: many
    // land in runs of occupied slots, and deleting from the middle of a run must not hide the rest.
    const table = new PackedRecordTable();
    const signatures = Array.from({ length: 5_000 }, (_, i) => `${'p'.repeat(200)}${i}`);
    for (const signature of signatures) table.set(signature, record(signature));
    for (let i = 0; i < signatures.length; i += 2) expect(table.delete(signatures[i]!)).toBe(true);
    signatures.forEach((signature, i) => expect(table.has(signature)).toBe(i % 2 === 1));
  });

  it('behaves as a map of records under any sequence of writes, reads and deletes', () => {
    const signature = fc.oneof(
      fc.constantFrom('a', 'b', 'c', 'd', 'é', '😀'),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
    );
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), signature, expiresAt: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ kind: fc.constant('set' as const), signature, expiresAt: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ kind: fc.constant('delete' as const), signature }),
      fc.record({ kind: fc.constant('expired' as const), now: fc.integer({ min: 0, max: 100 }) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 3_000 }), (operations) => {
        const table = new PackedRecordTable();
        const model = new Map<string, AccessTokenRecord>();
        for (const step of operations) {
          if (step.kind === 'add') {
            const added = record(step.signature, { expiresAt: step.expiresAt });
            expect(table.add(step.signature, added)).toBe(!model.has(step.signature));
            if (!model.has(step.signature)) model.set(step.signature, added);
          } else if (step.kind === 'set') {
            const replaced = record(step.signature, { expiresAt: step.expiresAt, subject: `s${step.expiresAt}` });
            table.set(step.signature, replaced);
            // A replaced record counts as written last, as a Map entry deleted and set again.
            model.delete(step.signature);
            model.set(step.signature, replaced);
          } else if (step.kind === 'delete') {
            expect(table.delete(step.signature)).toBe(model.delete(step.signature));
          } else {
            const expected = [...model.values()]
              .filter((kept) => kept.expiresAt <= step.now)
              .map((kept) => kept.signature);
            expect(table.expiredSignatures(step.now, Infinity)).toEqual(expected);
          }
          expect(table.size).toBe(model.size);
        }
        for (const [key, kept] of model) expect(table.get(key)).toEqual(kept);
      }),
      { numRuns: 200 },
    );
  });
});
