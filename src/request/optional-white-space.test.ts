import { describe, expect, it } from 'vitest';
import { isSpaceOrTab, trimOptionalWhiteSpace } from './optional-white-space.js';

describe('trimOptionalWhiteSpace (RFC 9110 §5.5 trims a field value of OWS, which §5.6.3 makes spaces and tabs)', () => {
  it.each([
    ['spaces and tabs on both sides', ' \t abc \t', 'abc'],
    ['inner spaces kept', '  a b  ', 'a b'],
    ['only spaces and tabs', ' \t ', ''],
    ['the empty string', '', ''],
  ])('removes %s', (_, value, trimmed) => {
    expect(trimOptionalWhiteSpace(value)).toBe(trimmed);
  });

  it.each([
    ['a no-break space', 'abc\u00a0'],
    ['a line separator', '\u2028abc'],
    ['a line feed', 'abc\n'],
    ['a vertical tab', '\u000babc'],
  ])('keeps %s, which String#trim would drop', (_, value) => {
    expect(value.trim()).not.toBe(value);
    expect(trimOptionalWhiteSpace(value)).toBe(value);
  });

  it('returns the same string when there is nothing to trim', () => {
    const value = 'application/x-www-form-urlencoded';
    expect(trimOptionalWhiteSpace(value)).toBe(value);
  });
});

describe('isSpaceOrTab', () => {
  it('is true for a space and a tab only', () => {
    const matching = [...Array(0x3000).keys()].filter(isSpaceOrTab);
    expect(matching).toEqual([0x09, 0x20]);
  });
});
