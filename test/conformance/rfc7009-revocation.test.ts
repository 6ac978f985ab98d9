import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import {
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
  type ManualClock,
  type RevocationHandler,
  type Storage,
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

const owner: Credentials = { id: 'owner', secret: 'owner-secret' };
const other: Credentials = { id: 'other', secret: 'other-secret' };
const lifespan = 600;

async function lifecycleClients(): Promise<Client[]> {
  return [
    await registeredClient(owner),
    // Even a client allowed to introspect everything may revoke only its own tokens.
    await registeredClient(other, { metadata: { introspection: true } }),
    publicTestClient,
  ];
}

/** The record key of a token: the jti of a JWT, the part after the dot of an opaque token. */
function recordKey(token: string): string {
  return token.startsWith('tsr_at_') ? token.slice(token.indexOf('.') + 1) : String(decodeJwt(token).jti);
}

describe.each(mountsAndFormats)('RFC 7009 revocation through %s with %s access tokens', (mount, format) => {
  let server: RunningServer;
  let clock: ManualClock;
  let storage: Storage;
  let url: string;

  beforeAll(async () => {
    ({ server, clock, storage, url } = await startLifecycleServer({
      mount,
      format,
      clients: await lifecycleClients(),
      lifespan,
    }));
  });
  afterAll(() => server.close());

  it('§2.2 answers 200 with an empty body and the token is inactive at once', async () => {
    const token = await issueAccessToken(url, owner);
    expect((await introspectToken(url, owner, token)).body.active).toBe(true);
    const { status, text, headers } = await revokeToken(url, owner, token);
    expect(status).toBe(200);
    expect(text).toBe('');
    // Sent with its length (RFC 9112 §6.3), not as an empty chunked stream.
    expect(headers.get('content-length')).toBe('0');
    expect((await introspectToken(url, owner, token)).body).toEqual({ active: false });
    expect((await introspectToken(url, other, token)).body).toEqual({ active: false });
  });

  it('§2.1 removes the token record', async () => {
    const token = await issueAccessToken(url, owner);
    await expect(storage.getAccessTokenRecord(recordKey(token))).resolves.toBeDefined();
    await revokeToken(url, owner, token);
    await expect(storage.getAccessTokenRecord(recordKey(token))).resolves.toBeUndefined();
  });

  it('§2.1 accepts client_secret_post', async () => {
    const token = await issueAccessToken(url, owner);
    const response = await postForm(`${url}/oauth2/revoke`, {
      token,
      client_id: owner.id,
      client_secret: owner.secret,
    });
    expect(response.status).toBe(200);
    expect((await introspectToken(url, owner, token)).body).toEqual({ active: false });
  });

  it.each([
    ['an unknown token', `tsr_at_${'A'.repeat(43)}.${'B'.repeat(43)}`],
    ['a random string', 'not-a-token'],
    ['a JWT-shaped string', 'eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.'],
  ])('§2.2 answers 200 for %s', async (_title, token) => {
    const { status, text } = await revokeToken(url, owner, token);
    expect(status).toBe(200);
    expect(text).toBe('');
  });

  it('§2.2 answers 200 when the same token is revoked twice', async () => {
    const token = await issueAccessToken(url, owner);
    expect((await revokeToken(url, owner, token)).status).toBe(200);
    expect((await revokeToken(url, owner, token)).status).toBe(200);
  });

  it('§2.2 and RFC 7515 §2 answer 200 for a variant of a token that decodes to the same bytes, revoking nothing', async () => {
    const token = await issueAccessToken(url, owner);
    for (const [name, variant] of Object.entries(tokenVariants(token))) {
      expect((await revokeToken(url, owner, variant)).status, name).toBe(200);
    }
    expect((await introspectToken(url, owner, token)).body.active).toBe(true);
  });

  it('§2.2 answers 200 for a token that has already expired', async () => {
    const token = await issueAccessToken(url, owner);
    clock.advance(lifespan * 1000);
    expect((await revokeToken(url, owner, token)).status).toBe(200);
  });

  it('§2.1 refuses to revoke a token issued to another client, which stays active', async () => {
    const token = await issueAccessToken(url, owner);
    const response = await postForm(`${url}/oauth2/revoke`, { token }, other);
    expect(response.status).toBe(400);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.error).toBe('unauthorized_client');
    expect(JSON.stringify(body)).not.toContain(token);
    expect((await introspectToken(url, owner, token)).body.active).toBe(true);
  });

  it("§2.1 refuses a public client revoking another client's token", async () => {
    const token = await issueAccessToken(url, owner);
    const response = await postForm(`${url}/oauth2/revoke`, { token, client_id: 'public-client' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'unauthorized_client' });
    expect((await introspectToken(url, owner, token)).body.active).toBe(true);
  });

  it('§2.1 lets a public client, identified by client_id, revoke (here: an unknown token)', async () => {
    const response = await postForm(`${url}/oauth2/revoke`, { token: 'unknown', client_id: 'public-client' });
    expect(response.status).toBe(200);
  });

  it.each([['refresh_token'], ['access_token'], ['no_such_type']])(
    '§2.1 revokes an access token whatever token_type_hint=%s says',
    async (hint) => {
      const token = await issueAccessToken(url, owner);
      expect((await revokeToken(url, owner, token, { token_type_hint: hint })).status).toBe(200);
      expect((await introspectToken(url, owner, token)).body).toEqual({ active: false });
    },
  );

  it('§2.1 answers invalid_request when the token parameter is missing', async () => {
    const response = await postForm(`${url}/oauth2/revoke`, {}, owner);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it.each([
    ['no credentials', undefined],
    ['a wrong secret', { id: owner.id, secret: 'wrong' }],
  ] as const)('§2.2.1 answers 401 invalid_client for %s and revokes nothing', async (_title, credentials) => {
    const token = await issueAccessToken(url, owner);
    const response = await postForm(`${url}/oauth2/revoke`, { token }, credentials);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
    expect((await introspectToken(url, owner, token)).body.active).toBe(true);
  });

  it('§2.1 refuses GET with 405', async () => {
    const response = await fetch(`${url}/oauth2/revoke`);
    expect(response.status).toBe(405);
  });
});

describe('RFC 7009 revocation of stateless JWT access tokens', () => {
  let server: RunningServer;
  let clock: ManualClock;
  let storage: Storage;
  let url: string;

  beforeAll(async () => {
    clock = createManualClock();
    const built = await createTestProvider({
      clients: await lifecycleClients(),
      config: { clock, accessTokenLifespan: lifespan, statelessAccessTokens: true },
    });
    storage = built.storage;
    server = await startServer(createRouter(built.provider));
    url = server.url;
  });
  afterAll(() => server.close());

  it('§2.1 puts the jti on the deny-list until the token would expire', async () => {
    const token = await issueAccessToken(url, owner);
    const jti = recordKey(token);
    await expect(storage.isTokenIdRevoked(jti)).resolves.toBe(false);
    expect((await revokeToken(url, owner, token)).status).toBe(200);
    await expect(storage.isTokenIdRevoked(jti)).resolves.toBe(true);
    expect((await introspectToken(url, owner, token)).body).toEqual({ active: false });
    // The entry goes when the token would have expired anyway.
    expect(await storage.purgeExpired(clock.now() + lifespan * 1000, 100)).toBeGreaterThan(0);
    await expect(storage.isTokenIdRevoked(jti)).resolves.toBe(false);
  });

  it('§2.2 and RFC 7515 §2 keep the jti off the deny-list for a variant of the token', async () => {
    const token = await issueAccessToken(url, owner);
    for (const [name, variant] of Object.entries(tokenVariants(token))) {
      expect((await revokeToken(url, owner, variant)).status, name).toBe(200);
    }
    await expect(storage.isTokenIdRevoked(recordKey(token))).resolves.toBe(false);
    expect((await introspectToken(url, owner, token)).body.active).toBe(true);
  });

  it('§2.1 refuses another client and keeps its jti off the deny-list', async () => {
    const token = await issueAccessToken(url, owner);
    expect((await revokeToken(url, other, token)).status).toBe(400);
    await expect(storage.isTokenIdRevoked(recordKey(token))).resolves.toBe(false);
  });
});

describe('RFC 7009 revocation seen by instances on one store that read JWTs the other way', () => {
  let stateful: RunningServer;
  let stateless: RunningServer;

  beforeAll(async () => {
    // Two instances sharing store and keys, one with statelessAccessTokens and one without, as
    // during a rolling change of that setting.
    const storage = createMemoryStore({ clients: await lifecycleClients() });
    const keys = createStaticKeySet([await generateSigningKey('ES256')]);
    const instance = (statelessAccessTokens: boolean) =>
      compose(
        { issuer: testIssuer, accessTokenLifespan: lifespan, statelessAccessTokens },
        storage,
        jwtAccessTokenStrategy({ keys, issuer: testIssuer }),
        bcryptHasher({ cost: 4 }),
        clientCredentialsGrant,
        accessTokenIntrospection,
        accessTokenRevocation,
      );
    stateful = await startServer(createRouter(instance(false)));
    stateless = await startServer(createRouter(instance(true)));
  });
  afterAll(async () => {
    await stateful.close();
    await stateless.close();
  });

  it.each([
    ['the stateful instance', () => [stateful.url, stateless.url] as const],
    ['the stateless instance', () => [stateless.url, stateful.url] as const],
  ])('§2.1 a token revoked at %s is inactive at the other one too ("cannot be used again")', async (_title, urls) => {
    const [revoking, other] = urls();
    const token = await issueAccessToken(stateful.url, owner);
    expect((await introspectToken(other, owner, token)).body.active).toBe(true);
    expect((await revokeToken(revoking, owner, token)).status).toBe(200);
    expect((await introspectToken(revoking, owner, token)).body).toEqual({ active: false });
    expect((await introspectToken(other, owner, token)).body).toEqual({ active: false });
  });

  it('§2.1 a token the stateless instance issued, revoked at the stateful one (which has no record of it), is inactive where it was issued', async () => {
    const token = await issueAccessToken(stateless.url, owner);
    expect((await introspectToken(stateless.url, owner, token)).body.active).toBe(true);
    expect((await revokeToken(stateful.url, owner, token)).status).toBe(200);
    expect((await introspectToken(stateless.url, owner, token)).body).toEqual({ active: false });
  });

  it('§2.1 the stateful instance refuses another client the revocation of a token the stateless one issued, which stays active', async () => {
    const token = await issueAccessToken(stateless.url, owner);
    const refused = await revokeToken(stateful.url, other, token);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.text)).toMatchObject({ error: 'unauthorized_client' });
    expect((await introspectToken(stateless.url, owner, token)).body.active).toBe(true);
  });
});

describe('RFC 7009 unsupported token types', () => {
  let server: RunningServer;
  let storage: Storage;
  let url: string;

  // A handler that knows refresh tokens by their prefix but cannot revoke them.
  const refreshTokens = (): RevocationHandler => ({
    kind: 'revocation-handler',
    tokenType: 'refresh_token',
    revokeToken: (query) => Promise.resolve(query.token.startsWith('tsr_rt_') ? 'unsupported' : 'unknown'),
  });

  beforeAll(async () => {
    const hasher = bcryptHasher({ cost: 4 });
    storage = createMemoryStore({ clients: await lifecycleClients() });
    const provider = compose(
      { issuer: testIssuer },
      storage,
      opaqueHmacStrategy({ secrets: [testHmacSecret] }),
      hasher,
      clientCredentialsGrant,
      refreshTokens,
      accessTokenRevocation,
    );
    server = await startServer(createRouter(provider));
    url = server.url;
  });
  afterAll(() => server.close());

  it('§2.2.1 answers unsupported_token_type for a token whose type cannot be revoked', async () => {
    const response = await postForm(`${url}/oauth2/revoke`, { token: 'tsr_rt_something' }, owner);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'unsupported_token_type' });
  });

  it('§2.1 extends the search past the hinted type and revokes the access token', async () => {
    const token = await issueAccessToken(url, owner);
    await expect(storage.getAccessTokenRecord(recordKey(token))).resolves.toBeDefined();
    expect((await revokeToken(url, owner, token, { token_type_hint: 'refresh_token' })).status).toBe(200);
    await expect(storage.getAccessTokenRecord(recordKey(token))).resolves.toBeUndefined();
  });

  it('§2 serves no introspection endpoint when no introspector was composed', async () => {
    const token = await issueAccessToken(url, owner);
    const response = await postForm(`${url}/oauth2/introspect`, { token }, owner);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'not_found' });
  });
});
