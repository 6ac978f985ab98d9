// RFC 6749 §4.4 client credentials grant, with the §5.1 response and §5.2 errors, through real HTTP.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import {
  createManualClock,
  createRouter,
  hierarchicScopeStrategy,
  urlPrefixAudienceStrategy,
  wildcardScopeStrategy,
  type Client,
  type ComposeConfig,
} from '../../src/index.js';
import { mounts, postForm, startServer, type RunningServer } from '../support/harness.js';
import { createTestProvider, hashSecret, testIssuer } from '../support/test-provider.js';

const secret = 'client-secret';

async function client(id: string, extra: Partial<Client>): Promise<Client> {
  return {
    id,
    secretHash: await hashSecret(secret),
    grantTypes: ['client_credentials'],
    scopes: [],
    audience: [],
    ...extra,
  };
}

/** Every §5.2 error_description must stay within %x20-21 / %x23-5B / %x5D-7E. */
const descriptionCharacters = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

describe.each(mounts)('client credentials grant through %s', (mount) => {
  const servers: RunningServer[] = [];
  async function serve(clients: Client[], config: Partial<ComposeConfig> = {}): Promise<string> {
    const { provider } = await createTestProvider({ clients, config });
    const server = await startServer(createRouter(provider, { token: '/token' }), mount);
    servers.push(server);
    return `${server.url}/token`;
  }
  let exactUrl: string;
  let hierarchicUrl: string;
  let wildcardUrl: string;
  let debugUrl: string;

  beforeAll(async () => {
    const orders = await client('orders', { scopes: ['orders.read', 'orders.write', 'profile'] });
    const defaults = await client('defaults', {
      scopes: ['orders.read', 'orders.write'],
      defaultScopes: ['orders.read'],
    });
    const noGrant = await client('no-grant', { grantTypes: ['authorization_code'] });
    const audience = await client('audience', { audience: ['https://api.example.com/orders', 'urn:example:billing'] });
    exactUrl = await serve([orders, defaults, noGrant, audience]);
    hierarchicUrl = await serve([await client('orders', { scopes: ['orders', 'profile.read'] })], {
      scopeStrategy: hierarchicScopeStrategy,
    });
    wildcardUrl = await serve([await client('orders', { scopes: ['orders.*', 'profile'] })], {
      scopeStrategy: wildcardScopeStrategy,
    });
    debugUrl = await serve([audience, noGrant], { exposeDebug: true, audienceStrategy: urlPrefixAudienceStrategy });
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  const request = (url: string, clientId: string, extra: Record<string, string> = {}) =>
    postForm(url, { grant_type: 'client_credentials', client_id: clientId, client_secret: secret, ...extra });

  /** Asks as client "orders" for `scope`: granted as asked, or refused with invalid_scope (§5.2). */
  async function expectScopeDecision(url: string, scope: string, granted: boolean): Promise<void> {
    const answer = await request(url, 'orders', { scope });
    if (granted) {
      expect(answer.status).toBe(200);
      expect(answer.body.scope).toBe(scope);
    } else {
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_scope');
    }
  }

  it('§4.4.3 answers with access_token, token_type bearer, expires_in and scope', async () => {
    const answer = await postForm(exactUrl, {
      grant_type: 'client_credentials',
      client_id: 'test-client',
      client_secret: 'foobar',
    });
    expect(answer.status).toBe(200);
    expect(typeof answer.body.access_token).toBe('string');
    expect(answer.body.token_type).toBe('bearer');
    expect(answer.body.expires_in).toBe(1800);
    expect(answer.body.scope).toBe('');
  });

  it('§4.4.3 issues no refresh token', async () => {
    const answer = await request(exactUrl, 'orders');
    expect(answer.status).toBe(200);
    expect(answer.body).not.toHaveProperty('refresh_token');
  });

  it('§5.1 answers in JSON with Cache-Control: no-store and Pragma: no-cache', async () => {
    const answer = await request(exactUrl, 'orders');
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('pragma')).toBe('no-cache');
  });

  it('§5.2 answers errors in JSON with Cache-Control: no-store', async () => {
    const answer = await request(exactUrl, 'orders', { scope: 'admin' });
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  it('§4.4 answers a client not allowed the grant with 400 unauthorized_client', async () => {
    const answer = await request(exactUrl, 'no-grant');
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('unauthorized_client');
  });

  it.each([
    ['orders.read', 'orders.read'],
    ['orders.read profile', 'orders.read profile'],
    ['profile  orders.write', 'profile orders.write'],
    ['orders.read orders.read', 'orders.read'],
  ])('§3.3 with the exact strategy grants the requested scope "%s"', async (scope, granted) => {
    const answer = await request(exactUrl, 'orders', { scope });
    expect(answer.status).toBe(200);
    expect(answer.body.scope).toBe(granted);
    expect(decodeJwt(String(answer.body.access_token)).scope).toBe(granted);
  });

  it.each(['orders', 'orders.read.own', 'admin', 'orders.read admin', 'Orders.read', 'orders.*', 'not-utf-8'])(
    '§3.3 with the exact strategy refuses the scope "%s" with invalid_scope',
    async (scope) => {
      const answer = await request(exactUrl, 'orders', { scope });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_scope');
    },
  );

  it.each(['orders.read"', 'orders\\read', 'caf\u00e9'])(
    '§3.3 refuses the scope %j, which has a character outside scope-token, with invalid_scope',
    async (scope) => {
      const answer = await request(exactUrl, 'orders', { scope });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_scope');
    },
  );

  it.each([
    ['orders', true],
    ['orders.read', true],
    ['orders.read.own', true],
    ['profile.read.email', true],
    ['ordersx', false],
    ['profile', false],
    ['order', false],
  ])(
    '§3.3 with the hierarchic strategy, a client allowed "orders profile.read" asking for "%s" is granted: %s',
    (scope, granted) => expectScopeDecision(hierarchicUrl, scope, granted),
  );

  it.each([
    ['orders.read', true],
    ['orders.write', true],
    ['profile', true],
    ['orders', false],
    ['orders.read.own', false],
    ['profile.read', false],
  ])(
    '§3.3 with the wildcard strategy, a client allowed "orders.* profile" asking for "%s" is granted: %s',
    (scope, granted) => expectScopeDecision(wildcardUrl, scope, granted),
  );

  it.each([' ', '   '])(
    '§3.3 refuses the scope %j, which holds no scope-token, with invalid_scope instead of granting the defaults',
    async (scope) => {
      const answer = await request(exactUrl, 'defaults', { scope });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_scope');
    },
  );

  it('§3.3 grants the client default scopes when no scope is requested', async () => {
    const answer = await request(exactUrl, 'defaults');
    expect(answer.status).toBe(200);
    expect(answer.body.scope).toBe('orders.read');
  });

  it('§3.3 grants only the requested scope, not the default ones, when a scope is requested', async () => {
    const answer = await request(exactUrl, 'defaults', { scope: 'orders.write' });
    expect(answer.body.scope).toBe('orders.write');
  });

  it('§3.3 grants no scope and answers "scope": "" when none is requested and none is default', async () => {
    const answer = await request(exactUrl, 'orders');
    expect(answer.body.scope).toBe('');
    expect(decodeJwt(String(answer.body.access_token))).not.toHaveProperty('scope');
  });

  it.each([
    ['https://api.example.com/orders', 'https://api.example.com/orders'],
    ['urn:example:billing', 'urn:example:billing'],
  ])('§4.4.2 grants the allowed audience %s and puts it in aud', async (audience, aud) => {
    const answer = await request(exactUrl, 'audience', { audience });
    expect(answer.status).toBe(200);
    expect(decodeJwt(String(answer.body.access_token)).aud).toBe(aud);
  });

  it('§4.4.2 grants several space-separated audiences', async () => {
    const answer = await request(exactUrl, 'audience', {
      audience: 'https://api.example.com/orders urn:example:billing',
    });
    expect(decodeJwt(String(answer.body.access_token)).aud).toEqual([
      'https://api.example.com/orders',
      'urn:example:billing',
    ]);
  });

  it.each(['https://api.example.com/other', 'https://api.example.com/orders/42', 'urn:example'])(
    '§4.4.2 refuses the audience %s, which the client may not address, with invalid_request',
    async (audience) => {
      const answer = await request(exactUrl, 'audience', { audience });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_request');
    },
  );

  it.each([' ', '   '])(
    '§4.4.2 refuses the audience %j, which names no audience, with invalid_request instead of using the default aud',
    async (audience) => {
      const answer = await request(exactUrl, 'audience', { audience });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_request');
    },
  );

  it('§4.4.2 with the URL-prefix audience strategy grants a path below an allowed audience', async () => {
    const answer = await request(debugUrl, 'audience', { audience: 'https://api.example.com/orders/42' });
    expect(answer.status).toBe(200);
    expect(decodeJwt(String(answer.body.access_token)).aud).toBe('https://api.example.com/orders/42');
  });

  it('§4.4.2 uses the issuer as aud when no audience is requested', async () => {
    const answer = await request(exactUrl, 'orders');
    expect(decodeJwt(String(answer.body.access_token)).aud).toBe(testIssuer);
  });

  it('§5.2 sends only error and error_description unless debug exposure is on', async () => {
    const answer = await request(exactUrl, 'orders', { scope: 'admin' });
    expect(Object.keys(answer.body).sort()).toEqual(['error', 'error_description']);
    expect(answer.body.error_description).toMatch(descriptionCharacters);
  });

  it('§5.2 adds error_hint when debug exposure is on', async () => {
    const answer = await request(debugUrl, 'no-grant');
    expect(answer.body.error).toBe('unauthorized_client');
    expect(answer.body.error_description).toMatch(descriptionCharacters);
    expect(answer.body.error_hint).toMatch(/client_credentials/);
  });

  it.each([
    ['invalid_request', { grant_type: 'client_credentials' }, { 'content-type': 'text/plain' }],
    ['invalid_client', { grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'x' }, {}],
    ['unauthorized_client', { grant_type: 'client_credentials', client_id: 'no-grant', client_secret: secret }, {}],
    ['invalid_scope', { grant_type: 'client_credentials', client_id: 'orders', client_secret: secret, scope: 'x' }, {}],
    ['unsupported_grant_type', { grant_type: 'password', client_id: 'orders', client_secret: secret }, {}],
  ])('§5.2 the %s error_description uses only the allowed characters', async (code, body, headers) => {
    const answer = await postForm(exactUrl, body as Record<string, string>, headers);
    expect(answer.body.error).toBe(code);
    expect(typeof answer.body.error_description).toBe('string');
    expect(answer.body.error_description).toMatch(descriptionCharacters);
  });
});

describe('a clock that reads a fraction of a millisecond', () => {
  it('RFC 6749 §4.4.3: the token is issued, and its record keeps whole milliseconds as every store can', async () => {
    const start = Date.UTC(2026, 0, 1, 12);
    const { provider, storage } = await createTestProvider({
      clients: [await client('orders', {})],
      config: { clock: createManualClock(start + 0.75) },
    });
    const server = await startServer(createRouter(provider, { token: '/token' }), 'node');
    try {
      const answer = await postForm(`${server.url}/token`, {
        grant_type: 'client_credentials',
        client_id: 'orders',
        client_secret: secret,
      });
      expect(answer.status).toBe(200);
      const claims = decodeJwt((answer.body as { access_token: string }).access_token);
      expect(claims.iat).toBe(start / 1000);
      const record = await storage.getAccessTokenRecord(claims.jti!);
      expect(record).toMatchObject({ issuedAt: start, expiresAt: start + 1800_000 });
    } finally {
      await server.close();
    }
  });
});
