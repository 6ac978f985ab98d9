import { describe, expect, it } from 'vitest';
import { wildcardScopeStrategy } from './wildcard.js';

describe('wildcardScopeStrategy', () => {
  it.each([
    [['orders.*'], 'orders.read', true],
    [['orders.*'], 'orders.write', true],
    [['orders.*'], 'orders', false],
    [['orders.*'], 'orders.read.own', false],
    [['orders.*'], 'orders.', false],
    [['orders.*.own'], 'orders.read.own', true],
    [['orders.*.own'], 'orders.read.all', false],
    [['*'], 'anything', true],
    [['*'], 'two.parts', false],
    [['orders.read'], 'orders.*', false],
    [['orders.*'], 'orders.*', true],
    [['orders.*'], 'billing.read', false],
    [['profile'], 'profile', true],
    [[], 'orders.read', false],
  ])('allowed %j, requested %s: %s', (allowed, requested, expected) => {
    expect(wildcardScopeStrategy(allowed, requested)).toBe(expected);
  });
});
