import { describe, expect, it } from 'vitest';
import { exactAudienceStrategy, exactScopeStrategy } from './exact.js';

describe('exactScopeStrategy', () => {
  it.each([
    [['orders.read'], 'orders.read', true],
    [['orders.read', 'profile'], 'profile', true],
    [['orders'], 'orders.read', false],
    [['orders.read'], 'orders', false],
    [['orders.read'], 'Orders.read', false],
    [['orders.*'], 'orders.read', false],
    [[], 'orders', false],
  ])('allowed %j, requested %s: %s', (allowed, requested, expected) => {
    expect(exactScopeStrategy(allowed, requested)).toBe(expected);
  });
});

describe('exactAudienceStrategy', () => {
  it.each([
    [['https://api.example.com'], 'https://api.example.com', true],
    [['https://api.example.com'], 'https://api.example.com/', false],
    [['https://api.example.com'], 'https://api.example.com/orders', false],
    [['urn:example:billing'], 'urn:example:billing', true],
    [[], 'urn:example:billing', false],
  ])('allowed %j, requested %s: %s', (allowed, requested, expected) => {
    expect(exactAudienceStrategy(allowed, requested)).toBe(expected);
  });
});
