import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from './constant-time-equal.js';

describe('constantTimeEqual', () => {
  it.each([
    ['abc', 'abc', true],
    ['', '', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['abcd', 'abc', false],
    ['', 'a', false],
    ['é', 'e\u0301', false],
  ])('compares %j with %j: %s', (actual, expected, equal) => {
    expect(constantTimeEqual(actual, expected)).toBe(equal);
  });
});
