// RFC 6749 §2.3 client authentication at the token endpoint: Basic, body credentials, and their failures.

import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter, type Client } from '../../src/index.js';
import { basicAuthorization, mounts, postForm, startServer, type RunningServer } from '../support/harness.js';
import { createTestProvider, hashSecret } from '../support/test-provider.js';

const reservedId = 'svc:a/b?c&d=e+f%g h';
const reservedSecret = 'p@ss:w%rd+&/= ?#é';

async function confidential(id: string, secret: string, extra: Partial<Client> = {}): Promise<Client> {
  return {
    id,
    secretHash: await hashSecret(secret),
    grantTypes: ['client_credentials'],
    scopes: [],
    audience: [],
    ...extra,
  };
}

/** A hash from the hasher, with its `$2b$` prefix swapped for another bcrypt variant. */
async function hashWithPrefix(secret: string, prefix: '$2a$' | '$2b$' | '$2y$'): Promise<string> {
  const hash = await hashSecret(secret);
  return prefix + hash.slice(4);
}

const grant = { grant_type: 'client_credentials' };

/** Posts the grant with each of `authorizations` as an Authorization field of its own. */
function postWithAuthorizationFields(url: string, authorizations: string[]): Promise<{ status: number; body: any }> {
  const body = new URLSearchParams(grant).toString();
  // Given as a list, headers are sent as they are: node adds no Host of its own.
  const headers = ['host', new URL(url).host, 'content-type', 'application/x-www-form-urlencoded'];
  headers.push('content-length', String(body.length));
  for (const value of authorizations) headers.push('authorization', value);
  return new Promise((resolve, reject) => {
    const sent = httpRequest(url, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode!, body: JSON.parse(text) });
        } catch {
          reject(new Error(`answer ${res.statusCode} is not JSON: ${text}`));
        }
      });
    });
    sent.on('error', reject);
    sent.end(body);
  });
}

describe.each(mounts)('client authentication through %s', (mount) => {
  let server: RunningServer;
  let tokenUrl: string;
  beforeAll(async () => {
    const clients: Client[] = [
      await confidential(reservedId, reservedSecret),
      await confidential('spaced', 'a b'),
      // Ids and secrets that read like the form decoder's own problem names.
      await confidential('bad-percent-encoding', 'not-utf-8'),
      await confidential('basic-only', 'basic-secret', { tokenEndpointAuthMethod: 'client_secret_basic' }),
      await confidential('post-only', 'post-secret', { tokenEndpointAuthMethod: 'client_secret_post' }),
      {
        id: 'public-none',
        grantTypes: ['client_credentials'],
        scopes: [],
        audience: [],
        tokenEndpointAuthMethod: 'none',
      },
      { id: 'public-implicit', grantTypes: ['client_credentials'], scopes: [], audience: [] },
      { ...(await confidential('hash-2a', 'variant')), secretHash: await hashWithPrefix('variant', '$2a$') },
      { ...(await confidential('hash-2b', 'variant')), secretHash: await hashWithPrefix('variant', '$2b$') },
      { ...(await confidential('hash-2y', 'variant')), secretHash: await hashWithPrefix('variant', '$2y$') },
      { ...(await confidential('hash-broken', 'variant')), secretHash: 'not-a-bcrypt-hash' },
    ];
    const { provider } = await createTestProvider({ clients });
    server = await startServer(createRouter(provider, { token: '/token' }), mount);
    tokenUrl = `${server.url}/token`;
  });
  afterAll(() => server.close());

  function expectInvalidClient(answer: Awaited<ReturnType<typeof postForm>>): void {
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
    expect(answer.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"$/);
  }

  it('§2.3.1 authenticates the seed client with HTTP Basic: its $2a$ hash verifies "foobar"', async () => {
    const answer = await postForm(tokenUrl, grant, { authorization: basicAuthorization('test-client', 'foobar') });
    expect(answer.status).toBe(200);
    expect(answer.body.token_type).toBe('bearer');
  });

  it('§2.3.1 authenticates the seed client with client_secret in the body', async () => {
    const answer = await postForm(tokenUrl, { ...grant, client_id: 'test-client', client_secret: 'foobar' });
    expect(answer.status).toBe(200);
  });

  it('§2.3.1 form-decodes reserved characters in Basic credentials', async () => {
    const answer = await postForm(tokenUrl, grant, { authorization: basicAuthorization(reservedId, reservedSecret) });
    expect(answer.status).toBe(200);
  });

  it('§2.3.1 reads "+" in Basic credentials as an encoded space', async () => {
    const raw = `Basic ${Buffer.from('spaced:a+b').toString('base64')}`;
    const answer = await postForm(tokenUrl, grant, { authorization: raw });
    expect(answer.status).toBe(200);
  });

  it('§2.3.1 refuses Basic credentials with a bare "%" with invalid_request', async () => {
    const raw = `Basic ${Buffer.from('test-client:100%').toString('base64')}`;
    const answer = await postForm(tokenUrl, grant, { authorization: raw });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('§2.3.1 authenticates a client whose id and secret read "bad-percent-encoding" and "not-utf-8", by Basic and in the body', async () => {
    const byBasic = await postForm(tokenUrl, grant, {
      authorization: basicAuthorization('bad-percent-encoding', 'not-utf-8'),
    });
    expect(byBasic.status).toBe(200);
    const inBody = await postForm(tokenUrl, {
      ...grant,
      client_id: 'bad-percent-encoding',
      client_secret: 'not-utf-8',
    });
    expect(inBody.status).toBe(200);
  });

  it('§2.3.1 decodes reserved characters of body credentials', async () => {
    const answer = await postForm(tokenUrl, { ...grant, client_id: reservedId, client_secret: reservedSecret });
    expect(answer.status).toBe(200);
  });

  it('§2.3.1 reads the Basic scheme name case-insensitively', async () => {
    const header = basicAuthorization('test-client', 'foobar').replace('Basic', 'bASIC');
    const answer = await postForm(tokenUrl, grant, { authorization: header });
    expect(answer.status).toBe(200);
  });

  it.each([
    ['not base64', 'Basic %%%%'],
    ['base64 without a colon', `Basic ${Buffer.from('test-client').toString('base64')}`],
    ['an empty client id', `Basic ${Buffer.from(':foobar').toString('base64')}`],
    ['non-UTF-8 bytes', `Basic ${Buffer.from([0x61, 0x3a, 0xff]).toString('base64')}`],
    ['an escape that is not UTF-8', `Basic ${Buffer.from('test-client:%ff').toString('base64')}`],
  ])('§2.3.1 refuses Basic credentials that are %s with invalid_request', async (_title, header) => {
    const answer = await postForm(tokenUrl, grant, { authorization: header });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('§5.2 refuses two Authorization fields with Basic credentials (multiple credentials) with invalid_request', async () => {
    const valid = basicAuthorization('test-client', 'foobar');
    const answer = await postWithAuthorizationFields(tokenUrl, [valid, valid]);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
    // One field alone is fine: the refusal is about the second set.
    expect((await postWithAuthorizationFields(tokenUrl, [valid])).status).toBe(200);
  });

  it.each([
    ['after a plain token', 'Bearer abc'],
    // RFC 9110 §11.2: only an auth-param value is a quoted string; this quote opens nothing.
    ['after a token holding a stray quote', 'Bearer a"bc'],
  ])(
    '§2.3 refuses body credentials next to Basic credentials in a later Authorization field, %s, with invalid_request',
    async (_title, first) => {
      const header = `${first}, ${basicAuthorization('other', 'pw2')}`;
      const answer = await postForm(
        tokenUrl,
        { ...grant, client_id: 'test-client', client_secret: 'foobar' },
        { authorization: header },
      );
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_request');
    },
  );

  it('§2.3 counts Basic credentials in a second Authorization field as presented, refusing them with invalid_request', async () => {
    const answer = await postWithAuthorizationFields(tokenUrl, [
      'Bearer abc',
      basicAuthorization('test-client', 'foobar'),
    ]);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it.each([
    ['a tab and a word after them', (basic: string) => `${basic}\tx`],
    ['a tab between the scheme and them', (basic: string) => basic.replace('Basic ', 'Basic\t')],
  ])(
    '§2.3 refuses body credentials next to Basic credentials with %s (RFC 7235 §2.1) with invalid_request',
    async (_title, layout) => {
      const answer = await postForm(
        tokenUrl,
        { ...grant, client_id: 'test-client', client_secret: 'foobar' },
        { authorization: layout(basicAuthorization('other', 'pw2')) },
      );
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_request');
    },
  );

  it('§2.3.1 ignores client credentials sent in the request URI', async () => {
    const answer = await postForm(`${tokenUrl}?client_id=test-client&client_secret=foobar`, grant);
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
  });

  it('§2.3 refuses Basic and body credentials in one request with invalid_request', async () => {
    const answer = await postForm(
      tokenUrl,
      { ...grant, client_id: 'test-client', client_secret: 'foobar' },
      { authorization: basicAuthorization('test-client', 'foobar') },
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('§2.3 refuses a body client_id that differs from the Basic client id with invalid_request', async () => {
    const answer = await postForm(
      tokenUrl,
      { ...grant, client_id: 'someone-else' },
      { authorization: basicAuthorization('test-client', 'foobar') },
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('§2.3 accepts a body client_id equal to the Basic client id', async () => {
    const answer = await postForm(
      tokenUrl,
      { ...grant, client_id: 'test-client' },
      { authorization: basicAuthorization('test-client', 'foobar') },
    );
    expect(answer.status).toBe(200);
  });

  it('§2.3 (RFC 7521 §4.2.1) refuses a client assertion next to a client secret with 401 invalid_client', async () => {
    const answer = await postForm(tokenUrl, {
      ...grant,
      client_id: 'test-client',
      client_secret: 'foobar',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'e30.e30.',
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
  });

  it.each([
    ['an unknown client over Basic', {}, basicAuthorization('nobody', 'foobar')],
    ['an unknown client in the body', { client_id: 'nobody', client_secret: 'foobar' }, undefined],
    ['a wrong secret over Basic', {}, basicAuthorization('test-client', 'wrong')],
    ['a wrong secret in the body', { client_id: 'test-client', client_secret: 'wrong' }, undefined],
    ['no client authentication at all', {}, undefined],
    ['a bare client_id of a confidential client', { client_id: 'test-client' }, undefined],
    ['a bare client_id of an unknown client', { client_id: 'nobody' }, undefined],
    ['a Bearer authorization instead of client credentials', {}, 'Bearer abc.def.ghi'],
    ['a hash the hasher cannot read', { client_id: 'hash-broken', client_secret: 'variant' }, undefined],
    ['a secret sent to a public client', { client_id: 'public-none', client_secret: 'anything' }, undefined],
  ] as const)('§5.2 answers %s with 401 invalid_client and WWW-Authenticate', async (_title, extra, authorization) => {
    const headers: Record<string, string> = authorization ? { authorization } : {};
    expectInvalidClient(await postForm(tokenUrl, { ...grant, ...extra }, headers));
  });

  it('§2.3 refuses body credentials from a client registered for client_secret_basic', async () => {
    expectInvalidClient(await postForm(tokenUrl, { ...grant, client_id: 'basic-only', client_secret: 'basic-secret' }));
  });

  it('§2.3 accepts Basic credentials from a client registered for client_secret_basic', async () => {
    const answer = await postForm(tokenUrl, grant, { authorization: basicAuthorization('basic-only', 'basic-secret') });
    expect(answer.status).toBe(200);
  });

  it('§2.3 refuses Basic credentials from a client registered for client_secret_post', async () => {
    expectInvalidClient(
      await postForm(tokenUrl, grant, { authorization: basicAuthorization('post-only', 'post-secret') }),
    );
  });

  it('§2.3 accepts body credentials from a client registered for client_secret_post', async () => {
    const answer = await postForm(tokenUrl, { ...grant, client_id: 'post-only', client_secret: 'post-secret' });
    expect(answer.status).toBe(200);
  });

  it.each(['public-none', 'public-implicit'])(
    '§4.4 answers the public client %s asking for client credentials with unauthorized_client',
    async (clientId) => {
      const answer = await postForm(tokenUrl, { ...grant, client_id: clientId });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('unauthorized_client');
    },
  );

  it.each(['hash-2a', 'hash-2b', 'hash-2y'])(
    '§2.3.1 verifies a secret against the bcrypt hash of %s',
    async (clientId) => {
      const answer = await postForm(tokenUrl, grant, { authorization: basicAuthorization(clientId, 'variant') });
      expect(answer.status).toBe(200);
    },
  );

  it('§5.2 never echoes the presented secret or Authorization header in an error', async () => {
    const secret = 'very-secret-value-123';
    const authorization = basicAuthorization('test-client', secret);
    const answer = await postForm(tokenUrl, { ...grant, client_secret: secret }, { authorization });
    let text = JSON.stringify(answer.body);
    answer.headers.forEach((value, name) => {
      text += `${name}: ${value}\n`;
    });
    expect(answer.status).toBe(400);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(authorization.slice(6));
  });
});
