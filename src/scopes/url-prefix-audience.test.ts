import { describe, expect, it } from 'vitest';
import { urlPrefixAudienceStrategy } from './url-prefix-audience.js';

const orders = ['https://api.example.com/orders'];

describe('urlPrefixAudienceStrategy', () => {
  it.each([
    [orders, 'https://api.example.com/orders', true],
    [orders, 'https://api.example.com/orders/', true],
    [orders, 'https://api.example.com/orders/42', true],
    [orders, 'https://api.example.com/orders/42/items', true],
    [orders, 'https://api.example.com/orders-archive', false],
    [orders, 'https://api.example.com/order', false],
    [orders, 'https://api.example.com/', false],
    [orders, 'http://api.example.com/orders/42', false],
    [orders, 'https://api.example.com:8443/orders/42', false],
    [orders, 'https://evil.example.com/orders/42', false],
    [orders, 'https://api.example.com/orders/42?admin=1', false],
    [orders, 'https://api.example.com/orders/42#x', false],
    [orders, 'https://api.example.com/orders/../admin', false],
    [orders, 'https://api.example.com/orders/%2e%2e/admin', false],
    [orders, 'https://user:pass@api.example.com/orders/42', false],
    [orders, 'not a url', false],
    [['https://api.example.com/orders/'], 'https://api.example.com/orders/42', true],
    [['https://api.example.com'], 'https://api.example.com/anything', true],
    [['urn:example:billing'], 'urn:example:billing', true],
    [['urn:example:billing'], 'urn:example:billing:2', false],
    [['urn:example:billing'], 'foo:example:billing/admin', false],
    [['api://orders-service/v1'], 'api://orders-service/v1', true],
    [['api://orders-service/v1'], 'api://orders-service/v1/refunds', false],
    [['api://orders-service/v1'], 'api://payments-service/v1/refunds', false],
    [['api://orders-service'], 'other://payments-service/', false],
    [['spiffe://prod.example/ns/billing'], 'spiffe://evil.example/ns/billing/x', false],
    [orders, '\u0000https://api.example.com/orders/1', false],
    [orders, 'https://api.example.com/orders/\n1', false],
    [orders, 'https://api.example.com/orders/\t1', false],
    [orders, ' https://api.example.com/orders/1', false],
    [orders, 'https://API.example.com/orders/1', false],
    [orders, 'https://api.example.com:443/orders/1', false],
    [orders, 'https:\\\\api.example.com\\orders\\1', false],
  ])('allowed %j, requested %j: %s', (allowed, requested, expected) => {
    expect(urlPrefixAudienceStrategy(allowed, requested)).toBe(expected);
  });
});
