import { describe, expect, it } from 'vitest';
import { getWrittenBody } from './write-json.js';
import type { TokenEndpointHandler } from '../core/index.js';
import { bcryptHasher, cachedSecretHasher, type SecretHasher } from '../secrets/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { decodeJwt } from 'jose';
import { createStaticKeySet, generateSigningKey } from '../keys/index.js';
import { jwtAccessTokenStrategy, opaqueHmacStrategy } from '../tokens/index.js';
import { accessTokenIntrospection, accessTokenRevocation, clientCredentialsGrant } from '../grants/index.js';
import { compose } from './compose.js';
import { createRouter } from './router.js';

const secret = 'a-compose-test-secret-of-at-least-32-bytes';

/** A memory store that counts the change listeners currently subscribed. */
function countingStore() {
  const store = createMemoryStore();
  let listening = 0;
  const subscribeToChanges: typeof store.subscribeToChanges = (listener) => {
    const unsubscribe = store.subscribeToChanges(listener);
    listening += 1;
    let done = false;
    return () => {
      if (!done) listening -= 1;
      done = true;
      unsubscribe();
    };
  };
  return { store: { ...store, subscribeToChanges }, listening: () => listening };
}

/** The smallest provider over `store`, with compose()'s default hasher unless one is given. */
function composeOver(store: ReturnType<typeof countingStore>['store'], hasher?: SecretHasher) {
  return compose(
    { issuer: 'https://auth.test.example' },
    store,
    opaqueHmacStrategy({ secrets: [secret] }),
    hasher,
    clientCredentialsGrant,
  );
}

describe('compose', () => {
  it("without a hasher, listens to the store's changes until provider.close(), which may be called twice", () => {
    const { store, listening } = countingStore();
    const provider = composeOver(store);
    expect(listening()).toBe(1);
    provider.close();
    expect(listening()).toBe(0);
    provider.close();
    expect(listening()).toBe(0);
  });

  it('composing again and again against one store leaves no listener behind once each provider is closed', () => {
    const { store, listening } = countingStore();
    for (let i = 0; i < 5; i++) {
      composeOver(store).close();
    }
    expect(listening()).toBe(0);
  });

  it('a compose() that throws leaves no listener on the store', () => {
    const { store, listening } = countingStore();
    expect(() =>
      compose({ issuer: 'https://auth.test.example' }, store, opaqueHmacStrategy({ secrets: [secret] }), undefined),
    ).toThrow(TypeError);
    const failing = () => {
      throw new Error('factory failed');
    };
    expect(() =>
      compose(
        { issuer: 'https://auth.test.example' },
        store,
        opaqueHmacStrategy({ secrets: [secret] }),
        undefined,
        clientCredentialsGrant,
        failing,
      ),
    ).toThrow('factory failed');
    expect(listening()).toBe(0);
  });

  it("with the caller's own hasher, compose() subscribes nothing itself and close() leaves that hasher listening", () => {
    const { store, listening } = countingStore();
    const hasher = cachedSecretHasher(bcryptHasher({ cost: 4 }), { changes: store });
    expect(listening()).toBe(1);
    const provider = composeOver(store, hasher);
    expect(listening()).toBe(1);
    provider.close();
    expect(listening()).toBe(1);
    hasher.close();
    expect(listening()).toBe(0);
  });

  it('rejects stateless issuance with opaque tokens with a TypeError', () => {
    expect(() =>
      compose(
        { issuer: 'https://auth.test.example', statelessAccessTokens: true },
        createMemoryStore(),
        opaqueHmacStrategy({ secrets: [secret] }),
        bcryptHasher({ cost: 4 }),
        clientCredentialsGrant,
      ),
    ).toThrow(TypeError);
  });

  it.each([['token'], ['oauth2/token'], ['/token?x=1'], ['']])(
    'rejects a token route %j that is not a path',
    (token) => {
      expect(() =>
        compose(
          { issuer: 'https://auth.test.example', routes: { token } },
          createMemoryStore(),
          opaqueHmacStrategy({ secrets: [secret] }),
          bcryptHasher({ cost: 4 }),
          clientCredentialsGrant,
        ),
      ).toThrow(/routes\.token/);
    },
  );

  it('RFC 8414 §2 names the token route given to compose() in the metadata, and the router serves it', async () => {
    const provider = compose(
      { issuer: 'https://auth.test.example', routes: { token: '/token' } },
      createMemoryStore(),
      opaqueHmacStrategy({ secrets: [secret] }),
      bcryptHasher({ cost: 4 }),
      clientCredentialsGrant,
    );
    expect(provider.getAuthorizationServerMetadata().token_endpoint).toBe('https://auth.test.example/token');
    const answer = await createRouter(provider)(new Request('https://auth.test.example/token', { method: 'POST' }));
    expect((await answer.json()).error).toBe('invalid_request');
  });

  it('RFC 9068 §2.2 (aud is required) rejects a defaultAudience that names no audience', () => {
    for (const defaultAudience of [[], [''], [42]] as unknown as string[][]) {
      expect(() =>
        compose(
          { issuer: 'https://auth.test.example', defaultAudience },
          createMemoryStore(),
          opaqueHmacStrategy({ secrets: [secret] }),
          bcryptHasher({ cost: 4 }),
          clientCredentialsGrant,
        ),
      ).toThrow(/defaultAudience/);
    }
  });

  it.each([
    ['https://AS.example', 'https://as.example'],
    ['https://as.example:443', 'https://as.example'],
    ['https://as.example/tenant', 'https://as.example'],
  ])(
    'RFC 9068 §4 (iss must match) refuses a JWT strategy whose issuer %j is not the config issuer %j with a TypeError',
    async (strategyIssuer, configIssuer) => {
      const keys = createStaticKeySet([await generateSigningKey('ES256')]);
      expect(() =>
        compose(
          { issuer: configIssuer },
          createMemoryStore(),
          jwtAccessTokenStrategy({ keys, issuer: strategyIssuer }),
          bcryptHasher({ cost: 4 }),
          clientCredentialsGrant,
        ),
      ).toThrow(TypeError);
    },
  );

  it('accepts a JWT strategy whose issuer differs from the config issuer only by a trailing slash', async () => {
    const keys = createStaticKeySet([await generateSigningKey('ES256')]);
    const provider = compose(
      { issuer: 'https://as.example' },
      createMemoryStore(),
      jwtAccessTokenStrategy({ keys, issuer: 'https://as.example/' }),
      bcryptHasher({ cost: 4 }),
      clientCredentialsGrant,
    );
    expect(provider.strategy.issuer).toBe(provider.config.issuer);
  });

  it('RFC 7662 §2.2 / RFC 7009 §2.2: an issuer written with a trailing slash, given to compose() and the JWT strategy alike, issues tokens that introspect as active and can be revoked', async () => {
    const issuer = 'https://auth.test.example/';
    const hasher = bcryptHasher({ cost: 4 });
    const store = createMemoryStore({
      clients: [
        {
          id: 'c1',
          secretHash: await hasher.hash('s1'),
          grantTypes: ['client_credentials'],
          scopes: [],
          audience: [],
        },
      ],
    });
    const provider = compose(
      { issuer },
      store,
      jwtAccessTokenStrategy({ keys: createStaticKeySet([await generateSigningKey('ES256')]), issuer }),
      hasher,
      clientCredentialsGrant,
      accessTokenIntrospection,
      accessTokenRevocation,
    );
    const post = (path: string, form: Record<string, string>) =>
      new Request(`https://auth.test.example${path}`, {
        method: 'POST',
        headers: {
          Authorization: `Basic ${Buffer.from('c1:s1').toString('base64')}`,
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(form),
      });
    const issued = (await (
      await provider.handleTokenRequest(post('/token', { grant_type: 'client_credentials' }))
    ).json()) as { access_token: string };
    const token = issued.access_token;
    expect(decodeJwt(token).iss).toBe('https://auth.test.example');

    const introspect = async () =>
      (await (await provider.handleIntrospectionRequest(post('/introspect', { token }))).json()) as {
        active: boolean;
        iss?: string;
      };
    expect(await introspect()).toMatchObject({ active: true, iss: 'https://auth.test.example' });
    expect((await provider.handleRevocationRequest(post('/revoke', { token }))).status).toBe(200);
    expect(await store.getAccessTokenRecord(decodeJwt(token).jti!)).toBeUndefined();
    expect(await introspect()).toEqual({ active: false });
  });

  it('serves introspection and revocation only when their factories are given', () => {
    const parts = [createMemoryStore(), opaqueHmacStrategy({ secrets: [secret] }), bcryptHasher({ cost: 4 })] as const;
    const bare = compose({ issuer: 'https://auth.test.example' }, ...parts, clientCredentialsGrant);
    expect([bare.hasIntrospection, bare.hasRevocation]).toEqual([false, false]);
    const full = compose(
      { issuer: 'https://auth.test.example' },
      ...parts,
      clientCredentialsGrant,
      accessTokenIntrospection,
      accessTokenRevocation,
    );
    expect([full.hasIntrospection, full.hasRevocation]).toEqual([true, true]);
  });

  it('RFC 6749 §5.2 answers 401 invalid_client with a challenge when a grant that skips client authentication names no client', async () => {
    const clientless = (): TokenEndpointHandler => ({
      kind: 'token-endpoint',
      grantType: 'urn:example:clientless',
      canHandleTokenEndpointRequest: (request) => request.grantType === 'urn:example:clientless',
      canSkipClientAuth: () => true,
      handleTokenEndpointRequest: () => Promise.reject(new Error('not reached')),
      populateTokenEndpointResponse: () => Promise.reject(new Error('not reached')),
    });
    const provider = compose(
      { issuer: 'https://auth.test.example', realm: 'test-realm' },
      createMemoryStore(),
      opaqueHmacStrategy({ secrets: [secret] }),
      bcryptHasher({ cost: 4 }),
      clientless,
    );
    const response = await provider.handleTokenRequest(
      new Request('https://auth.test.example/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=urn%3Aexample%3Aclientless',
      }),
    );
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="test-realm"');
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });

  /** A provider reporting to `reportError`, and a token request whose body was already read. */
  async function providerAndReadRequest(reportError: (error: Error) => void) {
    const provider = compose(
      { issuer: 'https://auth.test.example', reportError },
      createMemoryStore(),
      opaqueHmacStrategy({ secrets: [secret] }),
      bcryptHasher({ cost: 4 }),
      clientCredentialsGrant,
    );
    const request = new Request('https://auth.test.example/oauth2/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=a&client_secret=b',
    });
    await request.text();
    return { provider, request };
  }

  it('RFC 6749 §5.2 answers 500 server_error, reported, when the Request given to the provider was already read', async () => {
    const reported: Error[] = [];
    const { provider, request } = await providerAndReadRequest((error) => reported.push(error));
    await expect(provider.newAccessRequest(request)).rejects.toMatchObject({ code: 'server_error' });
    const answer = await provider.handleTokenRequest(request);
    expect(answer.status).toBe(500);
    expect(reported).toHaveLength(1);
  });

  it('RFC 6749 §5.2 still answers 500 server_error when the error reporter itself throws', async () => {
    const { provider, request } = await providerAndReadRequest(() => {
      throw new Error('the log is full');
    });
    const answer = await provider.handleTokenRequest(request);
    expect(answer.status).toBe(500);
    expect(await answer.json()).toMatchObject({ error: 'server_error' });
  });

  it('RFC 6749 §5.1 writes the token response members in order, with a refresh token and extra members when given', () => {
    const provider = compose(
      { issuer: 'https://auth.test.example' },
      createMemoryStore(),
      opaqueHmacStrategy({ secrets: [secret] }),
      bcryptHasher({ cost: 4 }),
      clientCredentialsGrant,
    );
    const accessRequest = undefined as never;
    const plain = { accessToken: 'at', tokenType: 'bearer', expiresIn: 60, grantedScopes: ['a', 'b'] } as const;
    expect(getWrittenBody(provider.writeAccessResponse(accessRequest, plain))).toBe(
      '{"access_token":"at","expires_in":60,"scope":"a b","token_type":"bearer"}',
    );
    const extra = JSON.parse('{"issued_token_type":"x","__proto__":{"p":1}}') as Record<string, unknown>;
    const full = provider.writeAccessResponse(accessRequest, {
      ...plain,
      grantedScopes: [],
      refreshToken: 'rt',
      extra,
    });
    expect(getWrittenBody(full)).toBe(
      '{"access_token":"at","expires_in":60,"refresh_token":"rt","scope":"","token_type":"bearer","issued_token_type":"x","__proto__":{"p":1}}',
    );
  });
});
