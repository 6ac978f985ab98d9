import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, decodeJwt } from 'jose';
import {
  StorageUnavailableError,
  accessTokenIntrospection,
  accessTokenRevocation,
  bcryptHasher,
  clientCredentialsGrant,
  compose,
  createManualClock,
  createMemoryStore,
  createRouter,
  createStaticKeySet,
  generateSigningKey,
  jwtAccessTokenStrategy,
  opaqueHmacStrategy,
  type Client,
  type KeySet,
  type ManualClock,
} from '../../src/index.js';
import { startServer, type RunningServer } from '../support/harness.js';
import {
  createTestProvider,
  mountsAndFormats,
  publicTestClient,
  registeredClient,
  startLifecycleServer,
  testHmacSecret,
  testIssuer,
} from '../support/test-provider.js';
import {
  introspectToken,
  issueAccessToken,
  postForm,
  revokeToken,
  type Credentials,
} from '../support/token-requests.js';
import { tokenVariants } from '../support/token-variants.js';

const api = 'https://api.test.example';
const owner: Credentials = { id: 'owner', secret: 'owner-secret' };
const other: Credentials = { id: 'other', secret: 'other-secret' };
const resourceServer: Credentials = { id: 'resource-server', secret: 'rs-secret' };
const apiServer: Credentials = { id: 'api-server', secret: 'api-secret' };
const elsewhereServer: Credentials = { id: 'elsewhere-server', secret: 'elsewhere-secret' };
const lifespan = 1800;

async function lifecycleClients(): Promise<Client[]> {
  const client = (credentials: Credentials, extra: Partial<Client> = {}) =>
    registeredClient(credentials, { scopes: ['read', 'write'], audience: [api], ...extra });
  return [
    await client(owner),
    await client(other),
    await client(resourceServer, { metadata: { introspection: true } }),
    await client(apiServer, { metadata: { introspection: [api] } }),
    await client(elsewhereServer, { metadata: { introspection: ['https://elsewhere.test.example'] } }),
    publicTestClient,
  ];
}

describe.each(mountsAndFormats)('RFC 7662 introspection through %s with %s access tokens', (mount, format) => {
  let server: RunningServer;
  let clock: ManualClock;
  let keys: KeySet;
  let url: string;

  beforeAll(async () => {
    ({ server, clock, keys, url } = await startLifecycleServer({
      mount,
      format,
      clients: await lifecycleClients(),
      lifespan,
    }));
  });
  afterAll(() => server.close());

  it('§2.2 describes an active token with every member the server knows', async () => {
    const issuedAt = Math.floor(clock.now() / 1000);
    const token = await issueAccessToken(url, owner, { scope: 'read write', audience: api });
    const { status, body } = await introspectToken(url, owner, token);
    expect(status).toBe(200);
    expect(body).toEqual({
      active: true,
      scope: 'read write',
      client_id: 'owner',
      token_type: 'Bearer',
      exp: issuedAt + lifespan,
      iat: issuedAt,
      sub: 'owner',
      aud: api,
      iss: testIssuer,
      jti: expect.any(String),
    });
    if (format === 'jwt') expect(body.jti).toBe(decodeJwt(token).jti);
  });

  it('§2.2 reports the issuer as the audience when the request named none', async () => {
    const token = await issueAccessToken(url, owner);
    const { body } = await introspectToken(url, owner, token);
    expect(body).toMatchObject({ active: true, aud: testIssuer });
  });

  it('§2.2 and RFC 6749 §3.3: a token granted no scope has no scope member, not an empty string', async () => {
    const token = await issueAccessToken(url, owner);
    const { body } = await introspectToken(url, owner, token);
    expect(body.active).toBe(true);
    expect(body).not.toHaveProperty('scope');
    if (format === 'jwt') expect(decodeJwt(token)).not.toHaveProperty('scope');
  });

  it('§2.2 answers with application/json and Cache-Control: no-store', async () => {
    const token = await issueAccessToken(url, owner);
    const { headers } = await introspectToken(url, owner, token);
    expect(headers.get('content-type')).toMatch(/^application\/json/);
    expect(headers.get('cache-control')).toBe('no-store');
  });

  it('§2.1 accepts client_secret_post as the token endpoint does', async () => {
    const token = await issueAccessToken(url, owner);
    const response = await postForm(`${url}/oauth2/introspect`, {
      token,
      client_id: owner.id,
      client_secret: owner.secret,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ active: true, client_id: 'owner' });
  });

  it('§2.1 answers invalid_request when the token parameter is missing', async () => {
    const response = await postForm(`${url}/oauth2/introspect`, { token_type_hint: 'access_token' }, owner);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it.each([
    ['no credentials', {}, undefined],
    ['a wrong secret', {}, { id: owner.id, secret: 'wrong' }],
    ['an unknown client', {}, { id: 'nobody', secret: 'x' }],
    ['a public client identified by client_id alone', { client_id: 'public-client' }, undefined],
  ] as const)('§2.3 answers 401 invalid_client for %s', async (_title, extra, credentials) => {
    const token = await issueAccessToken(url, owner);
    const response = await postForm(`${url}/oauth2/introspect`, { token, ...extra }, credentials);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_client');
    expect(JSON.stringify(body)).not.toContain(token);
  });

  it('§2.1 refuses GET with 405', async () => {
    const response = await fetch(`${url}/oauth2/introspect?token=x`);
    expect(response.status).toBe(405);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('§2.1 answers invalid_request for a repeated token parameter', async () => {
    const response = await fetch(`${url}/oauth2/introspect`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(owner) },
      body: 'token=a&token=b',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it.each([
    ['an unknown opaque-looking token', `tsr_at_${'A'.repeat(43)}.${'B'.repeat(43)}`],
    ['a random string', 'not-a-token'],
    ['a JWT-shaped string', 'eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.'],
    ['a very long string', 'x'.repeat(20_000)],
    ['non-ASCII text', 'tökén ✓'],
    ['dots only', '...'],
  ])('§2.2 answers only {"active":false} for %s', async (_title, token) => {
    const { status, body } = await introspectToken(url, owner, token);
    expect(status).toBe(200);
    expect(body).toEqual({ active: false });
  });

  it('§2.2 answers only {"active":false} once the token has expired', async () => {
    const token = await issueAccessToken(url, owner);
    clock.advance((lifespan - 1) * 1000);
    expect((await introspectToken(url, owner, token)).body.active).toBe(true);
    clock.advance(1000);
    expect((await introspectToken(url, owner, token)).body).toEqual({ active: false });
  });

  it('§2.2 answers only {"active":false} for a revoked token', async () => {
    const token = await issueAccessToken(url, owner);
    expect((await revokeToken(url, owner, token)).status).toBe(200);
    expect((await introspectToken(url, owner, token)).body).toEqual({ active: false });
    expect((await introspectToken(url, resourceServer, token)).body).toEqual({ active: false });
  });

  it('§2.2 answers only {"active":false} for a token altered by one character', async () => {
    const token = await issueAccessToken(url, owner);
    const index = token.length - 3;
    const altered = token.slice(0, index) + (token[index] === 'A' ? 'B' : 'A') + token.slice(index + 1);
    expect((await introspectToken(url, owner, altered)).body).toEqual({ active: false });
  });

  it('§2.2 and RFC 7515 §2 answer {"active":false} for a variant of an issued token that decodes to the same bytes', async () => {
    const token = await issueAccessToken(url, owner);
    for (const [name, variant] of Object.entries(tokenVariants(token))) {
      expect((await introspectToken(url, owner, variant)).body, name).toEqual({ active: false });
    }
    expect((await introspectToken(url, owner, token)).body.active).toBe(true);
  });

  it('§2.1 hides a token issued to another client: it is inactive to that caller', async () => {
    const token = await issueAccessToken(url, owner);
    expect((await introspectToken(url, other, token)).body).toEqual({ active: false });
  });

  it('§2.1 lets a client registered for introspection see any active token', async () => {
    const token = await issueAccessToken(url, owner, { scope: 'read' });
    const { body } = await introspectToken(url, resourceServer, token);
    expect(body).toMatchObject({ active: true, client_id: 'owner', scope: 'read' });
  });

  it('§4 lets a resource server registered for some audiences see the tokens meant for them, and no others', async () => {
    const forApi = await issueAccessToken(url, owner, { audience: api });
    expect((await introspectToken(url, apiServer, forApi)).body).toMatchObject({ active: true, aud: api });
    expect((await introspectToken(url, elsewhereServer, forApi)).body).toEqual({ active: false });
    // A token with the default audience (the issuer) is not meant for the API.
    const forIssuer = await issueAccessToken(url, owner);
    expect((await introspectToken(url, apiServer, forIssuer)).body).toEqual({ active: false });
  });

  it.each([['refresh_token'], ['access_token'], ['unknown_type']])(
    '§2.1 treats token_type_hint=%s only as a hint',
    async (hint) => {
      const token = await issueAccessToken(url, owner);
      const { status, body } = await introspectToken(url, owner, token, { token_type_hint: hint });
      expect(status).toBe(200);
      expect(body).toMatchObject({ active: true, client_id: 'owner' });
    },
  );

  if (format === 'jwt') {
    it('§2.2 answers {"active":false} for a well-formed JWT this server never issued', async () => {
      const foreign = await generateSigningKey('ES256');
      const token = await signAccessToken(foreign.privateKey, foreign.alg, foreign.kid, clock.now());
      expect((await introspectToken(url, resourceServer, token)).body).toEqual({ active: false });
    });

    it('§2.2 answers {"active":false} for a JWT signed with our key whose jti has no record', async () => {
      const key = await keys.getSigningKey();
      const token = await signAccessToken(key.privateKey, key.alg, key.kid, clock.now());
      expect((await introspectToken(url, resourceServer, token)).body).toEqual({ active: false });
    });

    it('§2.2 answers {"active":false} for an unsigned JWT (alg none)', async () => {
      const token = await issueAccessToken(url, owner);
      const [, payload] = token.split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
      expect((await introspectToken(url, owner, `${header}.${payload}.`)).body).toEqual({ active: false });
    });
  }
});

describe('RFC 7662 introspection of stateless JWT access tokens', () => {
  let server: RunningServer;
  let clock: ManualClock;
  let url: string;
  let built: Awaited<ReturnType<typeof createTestProvider>>;

  beforeAll(async () => {
    clock = createManualClock();
    built = await createTestProvider({
      clients: await lifecycleClients(),
      config: { clock, accessTokenLifespan: lifespan, statelessAccessTokens: true },
    });
    server = await startServer(createRouter(built.provider));
    url = server.url;
  });
  afterAll(() => server.close());

  it('§2.2 describes an active JWT from its claims when no record is kept', async () => {
    const token = await issueAccessToken(url, owner, { scope: 'read' });
    const jti = String(decodeJwt(token).jti);
    await expect(built.storage.getAccessTokenRecord(jti)).resolves.toBeUndefined();
    const { body } = await introspectToken(url, owner, token);
    expect(body).toMatchObject({ active: true, jti, client_id: 'owner', scope: 'read', iss: testIssuer });
  });

  it('§2.2 answers {"active":false} for a stateless JWT whose jti is on the deny-list', async () => {
    const token = await issueAccessToken(url, owner);
    expect((await revokeToken(url, owner, token)).status).toBe(200);
    await expect(built.storage.isTokenIdRevoked(String(decodeJwt(token).jti))).resolves.toBe(true);
    expect((await introspectToken(url, owner, token)).body).toEqual({ active: false });
  });

  it('§2.2 answers {"active":false} for a stateless JWT once it has expired', async () => {
    const token = await issueAccessToken(url, owner);
    clock.advance(lifespan * 1000);
    expect((await introspectToken(url, owner, token)).body).toEqual({ active: false });
  });
});

describe('RFC 7662 introspection when the store fails', () => {
  let server: RunningServer;
  let url: string;
  let failure: Error | undefined;

  beforeAll(async () => {
    const memory = createMemoryStore({ clients: await lifecycleClients() });
    // A fault, not a behaviour under test: lookups fail while `failure` is set.
    const storage = {
      ...memory,
      getAccessTokenRecord: (signature: string) =>
        failure ? Promise.reject(failure) : memory.getAccessTokenRecord(signature),
    };
    const provider = compose(
      { issuer: testIssuer },
      storage,
      opaqueHmacStrategy({ secrets: [testHmacSecret] }),
      bcryptHasher({ cost: 4 }),
      clientCredentialsGrant,
      accessTokenIntrospection,
    );
    server = await startServer(createRouter(provider));
    url = server.url;
  });
  afterAll(() => server.close());

  it('§2.3 answers 503 temporarily_unavailable, not {"active":false}, while the store is unreachable', async () => {
    const token = await issueAccessToken(url, owner);
    failure = new StorageUnavailableError('connection refused');
    try {
      const { status, body, headers } = await introspectToken(url, owner, token);
      expect(status).toBe(503);
      expect(body).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
      expect(headers.get('retry-after')).toBe('1');
    } finally {
      failure = undefined;
    }
    expect((await introspectToken(url, owner, token)).body.active).toBe(true);
  });

  it('§2.3 answers 500 server_error without detail for an unexpected store failure', async () => {
    const token = await issueAccessToken(url, owner);
    failure = new Error('disk on fire: secret detail');
    try {
      const { status, body } = await introspectToken(url, owner, token);
      expect(status).toBe(500);
      expect(body.error).toBe('server_error');
      expect(JSON.stringify(body)).not.toContain('secret detail');
    } finally {
      failure = undefined;
    }
  });
});

describe.each([
  ['recorded', false],
  ['stateless', true],
] as const)('RFC 7662 introspection and RFC 7009 revocation of a %s JWT when the key set fails', (_mode, stateless) => {
  let server: RunningServer;
  let url: string;
  let failure: Error | undefined;

  beforeAll(async () => {
    const storage = createMemoryStore({ clients: await lifecycleClients() });
    const inner = createStaticKeySet([await generateSigningKey('ES256')]);
    // A fault, not a behaviour under test: the published keys cannot be read while `failure` is set.
    const keys: KeySet = {
      ...inner,
      getPublicJwks: () => (failure ? Promise.reject(failure) : inner.getPublicJwks()),
    };
    const provider = compose(
      { issuer: testIssuer, statelessAccessTokens: stateless },
      storage,
      jwtAccessTokenStrategy({ keys, issuer: testIssuer }),
      bcryptHasher({ cost: 4 }),
      clientCredentialsGrant,
      accessTokenIntrospection,
      accessTokenRevocation,
    );
    server = await startServer(createRouter(provider));
    url = server.url;
  });
  afterAll(() => server.close());

  it('§2.3 answers 503 temporarily_unavailable, not {"active":false}, and RFC 7009 §2.2.1 revocation answers 503, not 200 having revoked nothing', async () => {
    const token = await issueAccessToken(url, owner);
    failure = new StorageUnavailableError('connection refused');
    try {
      const introspection = await introspectToken(url, owner, token);
      expect(introspection.status).toBe(503);
      expect(introspection.body.error).toBe('temporarily_unavailable');
      const revocation = await revokeToken(url, owner, token);
      expect(revocation.status).toBe(503);
    } finally {
      failure = undefined;
    }
    // Nothing was revoked while the keys could not be read: the token is still active, and
    // revoking it now works.
    expect((await introspectToken(url, owner, token)).body.active).toBe(true);
    expect((await revokeToken(url, owner, token)).status).toBe(200);
    expect((await introspectToken(url, owner, token)).body).toEqual({ active: false });
  });
});

describe.each(['jwt', 'opaque'] as const)('RFC 7662 introspection of a recorded %s token near its expiry', (format) => {
  it('§2.2 answers {"active":false} from the exp second it reports, though the record keeps milliseconds (RFC 7519 §4.1.4)', async () => {
    // Issued 700 ms into a second: the record's expiry has milliseconds, exp is rounded down.
    const clock = createManualClock(Date.UTC(2026, 0, 1) + 700);
    const hasher = bcryptHasher({ cost: 4 });
    const storage = createMemoryStore({
      clients: [
        { ...(await registeredClient(owner, { scopes: ['read'] })), secretHash: await hasher.hash(owner.secret) },
      ],
    });
    const keys = createStaticKeySet([await generateSigningKey('ES256')]);
    const provider = compose(
      { issuer: testIssuer, clock, accessTokenLifespan: 60 },
      storage,
      format === 'jwt'
        ? jwtAccessTokenStrategy({ keys, issuer: testIssuer })
        : opaqueHmacStrategy({ secrets: [testHmacSecret] }),
      hasher,
      clientCredentialsGrant,
      accessTokenIntrospection,
    );
    const post = (path: string, form: Record<string, string>) =>
      new Request(`${testIssuer}${path}`, {
        method: 'POST',
        headers: { Authorization: basic(owner), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      });
    const { access_token: token } = (await (
      await provider.handleTokenRequest(post('/token', { grant_type: 'client_credentials' }))
    ).json()) as { access_token: string };
    const introspect = async () =>
      (await (await provider.handleIntrospectionRequest(post('/introspect', { token }))).json()) as {
        active: boolean;
        exp?: number;
      };

    const { exp } = await introspect();
    expect(exp).toBe(Math.floor(Date.UTC(2026, 0, 1) / 1000) + 60);
    clock.set(exp! * 1000 - 1);
    expect((await introspect()).active).toBe(true);
    clock.set(exp! * 1000 + 300);
    expect(await introspect()).toEqual({ active: false });
  });
});

function basic(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.id}:${credentials.secret}`).toString('base64')}`;
}

/** An RFC 9068 access token made outside the provider, for tokens it never issued. */
function signAccessToken(
  privateKey: Parameters<SignJWT['sign']>[0],
  alg: string,
  kid: string,
  now: number,
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({ client_id: 'owner', scope: 'read' })
    .setProtectedHeader({ alg, typ: 'at+jwt', kid })
    .setIssuer(testIssuer)
    .setSubject('owner')
    .setAudience(testIssuer)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 600)
    .setJti(randomUUID())
    .sign(privateKey);
}
