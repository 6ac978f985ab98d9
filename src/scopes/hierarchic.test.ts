import { describe, expect, it } from 'vitest';
import { hierarchicScopeStrategy } from './hierarchic.js';

describe('hierarchicScopeStrategy', () => {
  it.each([
    [['orders'], 'orders', true],
    [['orders'], 'orders.read', true],
    [['orders'], 'orders.read.own', true],
    [['orders.read'], 'orders.read.own', true],
    [['orders.read'], 'orders', false],
    [['orders.read'], 'orders.write', false],
    [['order'], 'orders', false],
    [['orders'], 'ordersx.read', false],
    [['orders'], 'xorders.read', false],
    [['a', 'b.c'], 'b.c.d', true],
    [[], 'orders', false],
    [['orders'], 'orders.', false],
    [['orders'], 'orders..read', false],
    [['orders'], 'orders.read.', false],
    [['orders'], 'orders.read..own', false],
    [['orders.'], 'orders.', true],
  ])('allowed %j, requested %s: %s', (allowed, requested, expected) => {
    expect(hierarchicScopeStrategy(allowed, requested)).toBe(expected);
  });
});
