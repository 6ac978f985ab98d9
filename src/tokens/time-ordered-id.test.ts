import { describe, expect, it } from 'vitest';
import { timeOrderedUuid } from './time-ordered-id.js';

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedUuid', () => {
  it('RFC 9562 §5.7: is a version 7 UUID with the RFC variant', () => {
    for (let i = 0; i < 1000; i++) expect(timeOrderedUuid()).toMatch(uuidV7);
  });

  it('RFC 9562 §5.7: carries the Unix time in milliseconds in its first 48 bits', () => {
    const now = Date.UTC(2026, 11, 2, 7, 40, 12, 345);
    const id = timeOrderedUuid(now);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now);
    expect(timeOrderedUuid(0).slice(0, 13)).toBe('00000000-0000');
  });

  it('sorts as text in the order of the times it was made at', () => {
    const times = [1, 255, 256, 65_535, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000];
    const ids = times.map((time) => timeOrderedUuid(time));
    expect([...ids].sort()).toEqual(ids);
  });

  it('RFC 7519 §4.1.7: ids made in the same millisecond still differ (74 random bits)', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => timeOrderedUuid(1_700_000_000_000)));
    expect(ids.size).toBe(10_000);
  });

  it('RFC 9562 §5.7: gives each millisecond its own time field when times come and go', () => {
    const times = [1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_000, 5, 5];
    const fields = times.map((time) => {
      const id = timeOrderedUuid(time);
      return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    });
    expect(fields).toEqual(times);
  });

  it('keeps the time field within 48 bits for times outside its range', () => {
    expect(timeOrderedUuid(-5)).toMatch(uuidV7);
    expect(timeOrderedUuid(2 ** 50)).toMatch(uuidV7);
    expect(timeOrderedUuid(2 ** 50).slice(0, 13)).toBe('ffffffff-ffff');
  });
});
