import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientCredentialsGrant } from '../grants/index.js';
import { bcryptHasher } from '../secrets/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { opaqueHmacStrategy } from '../tokens/index.js';
import { compose } from './compose.js';
import { createRouter, pathnameOf } from './router.js';

describe('pathnameOf', () => {
  it.each([
    ['http://127.0.0.1:8080/token', '/token'],
    ['https://auth.example/oauth2/token?x=1#f', '/oauth2/token'],
    ['http://auth.example/', '/'],
    ['http://user:pw@auth.example/a/b', '/a/b'],
    ['http://auth.example/a/../token', '/token'],
    ['http://auth.example/%7Etoken', '/%7Etoken'],
    ['http://auth.example/a\\b', '/a/b'],
    ['http://auth.example?q', '/'],
  ])('RFC 3986 §3.3 reads the path of %s as URL does', (url, path) => {
    expect(pathnameOf(url)).toBe(path);
    expect(pathnameOf(url)).toBe(new URL(url).pathname);
  });

  it('RFC 3986 §3.3 gives what URL gives for any http(s) URL, serialized or not', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (url) => {
        expect(pathnameOf(url)).toBe(new URL(url).pathname);
        const serialized = new URL(url).href;
        expect(pathnameOf(serialized)).toBe(new URL(serialized).pathname);
      }),
    );
  });

  it('RFC 3986 §3.3 gives what URL gives for hostile text after a scheme and host', () => {
    const pieces = fc.constantFrom(
      '/',
      '.',
      '..',
      '%2e',
      '%',
      '?',
      '#',
      '\\',
      '@',
      ':',
      ' ',
      '\t',
      '\n',
      'é',
      'a',
      'Z',
      '~',
    );
    fc.assert(
      fc.property(
        fc.constantFrom('http://h', 'https://h.example:8443', 'http://u:p@h'),
        fc.array(pieces),
        fc.string(),
        (base, parts, tail) => {
          const url = base + parts.join('') + tail;
          if (!URL.canParse(url)) return;
          expect(pathnameOf(url)).toBe(new URL(url).pathname);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('createRouter', () => {
  const provider = compose(
    { issuer: 'https://auth.test.example' },
    createMemoryStore(),
    opaqueHmacStrategy({ secrets: ['a-router-test-secret-of-at-least-32-bytes'] }),
    bcryptHasher({ cost: 4 }),
    clientCredentialsGrant,
  );

  it('RFC 8414 §2 names the token route it serves in the metadata it serves, leaving the provider as it was', async () => {
    const route = createRouter(provider, { token: '/token' });
    const answer = await route(new Request('https://auth.test.example/.well-known/oauth-authorization-server'));
    expect(((await answer.json()) as { token_endpoint: string }).token_endpoint).toBe(
      'https://auth.test.example/token',
    );
    expect(provider.routes.token).toBe('/oauth2/token');
  });

  it('keeps the default for a route given as undefined', () => {
    expect(provider.withRoutes({ token: undefined }).routes.token).toBe('/oauth2/token');
  });

  it.each(['token', '/token?x', 'https://other.example/token'])('refuses the route %j with a TypeError', (token) => {
    expect(() => createRouter(provider, { token })).toThrow(TypeError);
  });
});
