import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  accessTokenIntrospection,
  bcryptHasher,
  clientCredentialsGrant,
  compose,
  createMemoryStore,
  createRouter,
  opaqueHmacStrategy,
  type HttpHandler,
  type ProviderRoutes,
} from '../../src/index.js';
import { mounts, startServer, type RunningServer } from '../support/harness.js';
import { createTestProvider, seedClient, testHmacSecret, testIssuer } from '../support/test-provider.js';
import { introspectToken, issueAccessToken, postForm, type Credentials } from '../support/token-requests.js';

const wellKnown = '/.well-known/oauth-authorization-server';
const seed: Credentials = { id: 'test-client', secret: 'foobar' };

async function getMetadata(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${wellKnown}`);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

/** Starts a server whose handler is set once its URL, and so the issuer, is known. */
async function startAtOwnIssuer(
  build: (issuer: string) => Promise<HttpHandler>,
  mount: (typeof mounts)[number] = 'node',
): Promise<RunningServer> {
  let handler: HttpHandler | undefined;
  const server = await startServer((request) => handler!(request), mount);
  handler = await build(server.url);
  return server;
}

describe.each(mounts)('RFC 8414 metadata through %s', (mount) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startAtOwnIssuer(async (issuer) => {
      const { provider } = await createTestProvider({
        config: { issuer, scopesSupported: ['read', 'write'] },
        alg: 'ES256',
      });
      return createRouter(provider);
    }, mount);
  });
  afterAll(() => server.close());

  it('§3.2 answers 200 with application/json and a cacheable body', async () => {
    const response = await fetch(`${server.url}${wellKnown}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toMatch(/max-age=\d+/);
  });

  it('§3.1 answers HEAD with the header fields of GET, Content-Length included (RFC 9110 §9.3.2)', async () => {
    const get = await fetch(`${server.url}${wellKnown}`);
    const head = await fetch(`${server.url}${wellKnown}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(await get.text())));
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
  });

  it('§3.3 names the issuer the document was fetched for', async () => {
    expect((await getMetadata(server.url)).issuer).toBe(server.url);
  });

  it('§2 lists the composed endpoints under the issuer at the default paths', async () => {
    const metadata = await getMetadata(server.url);
    expect(metadata).toMatchObject({
      token_endpoint: `${server.url}/oauth2/token`,
      introspection_endpoint: `${server.url}/oauth2/introspect`,
      revocation_endpoint: `${server.url}/oauth2/revoke`,
      jwks_uri: `${server.url}/.well-known/jwks.json`,
    });
  });

  it('§2 lists the grant types, authentication methods and signing algorithms that were composed', async () => {
    const metadata = await getMetadata(server.url);
    expect(metadata.grant_types_supported).toEqual(['client_credentials']);
    const methods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(methods);
    expect(metadata.introspection_endpoint_auth_methods_supported).toEqual(methods);
    expect(metadata.revocation_endpoint_auth_methods_supported).toEqual([...methods, 'none']);
    expect(metadata.access_token_signing_alg_values_supported).toEqual(['ES256']);
    // §2: MUST be present when private_key_jwt is listed; public-key algorithms only, never "none".
    for (const member of [
      'token_endpoint_auth_signing_alg_values_supported',
      'introspection_endpoint_auth_signing_alg_values_supported',
      'revocation_endpoint_auth_signing_alg_values_supported',
    ]) {
      expect(metadata[member]).toEqual(expect.arrayContaining(['RS256', 'ES256', 'EdDSA']));
      expect(metadata[member]).not.toContain('none');
      expect(metadata[member]).not.toContain('HS256');
    }
  });

  it('§2 leaves private_key_jwt and its algorithms out for a store that keeps no used assertion ids', async () => {
    const store = createMemoryStore({ clients: [seedClient] });
    // The store without its replay cache: assertions could not be kept from being replayed.
    const withoutReplayCache = Object.fromEntries(
      Object.entries(store).filter(([name]) => name !== 'markUsed'),
    ) as Omit<typeof store, 'markUsed'>;
    expect(withoutReplayCache).not.toHaveProperty('markUsed');
    const provider = compose(
      { issuer: testIssuer },
      withoutReplayCache,
      opaqueHmacStrategy({ secrets: [testHmacSecret] }),
      bcryptHasher({ cost: 4 }),
      clientCredentialsGrant,
    );
    const metadata = provider.getAuthorizationServerMetadata();
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post']);
    expect(metadata).not.toHaveProperty('token_endpoint_auth_signing_alg_values_supported');
  });

  it('§2 publishes response_types_supported, REQUIRED, as empty: there is no authorization endpoint', async () => {
    const metadata = await getMetadata(server.url);
    expect(metadata.response_types_supported).toEqual([]);
    expect(metadata).not.toHaveProperty('authorization_endpoint');
  });

  it('§2 publishes the configured scopes_supported', async () => {
    expect((await getMetadata(server.url)).scopes_supported).toEqual(['read', 'write']);
  });

  it('§2 every listed endpoint answers where the document says', async () => {
    const metadata = await getMetadata(server.url);
    const token = await issueAccessToken(server.url, seed);
    const jwks = createRemoteJWKSet(new URL(String(metadata.jwks_uri)));
    await expect(jwtVerify(token, jwks, { issuer: server.url })).resolves.toBeDefined();
    const introspection = await postForm(String(metadata.introspection_endpoint), { token }, seed);
    expect(await introspection.json()).toMatchObject({ active: true });
    const revocation = await postForm(String(metadata.revocation_endpoint), { token }, seed);
    expect(revocation.status).toBe(200);
    expect((await introspectToken(server.url, seed, token)).body).toEqual({ active: false });
  });

  it('§3 refuses POST with 405', async () => {
    const response = await fetch(`${server.url}${wellKnown}`, { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('RFC 8414 metadata reflects what was composed', () => {
  it("§2 follows the router's paths", async () => {
    const routes: Partial<ProviderRoutes> = { token: '/token', introspection: '/introspect', revocation: '/revoke' };
    const server = await startAtOwnIssuer(async (issuer) => {
      const { provider } = await createTestProvider({ config: { issuer } });
      return createRouter(provider, routes);
    });
    try {
      const metadata = await getMetadata(server.url);
      expect(metadata).toMatchObject({
        token_endpoint: `${server.url}/token`,
        introspection_endpoint: `${server.url}/introspect`,
        revocation_endpoint: `${server.url}/revoke`,
      });
      await expect(issueAccessToken(server.url, seed)).rejects.toThrow(/404/);
      const response = await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, seed);
      expect(response.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('§3.1 §3.3 serves the metadata of an issuer with a path at the well-known path followed by it, naming endpoints that are served', async () => {
    const server = await startAtOwnIssuer(async (origin) => {
      const { provider } = await createTestProvider({ config: { issuer: `${origin}/tenant/a` } });
      return createRouter(provider);
    });
    try {
      const response = await fetch(`${server.url}${wellKnown}/tenant/a`);
      expect(response.status).toBe(200);
      const metadata = (await response.json()) as Record<string, string>;
      // §3.3: the issuer is the one the well-known string was inserted into.
      expect(metadata.issuer).toBe(`${server.url}/tenant/a`);
      expect(metadata.token_endpoint).toBe(`${server.url}/tenant/a/oauth2/token`);
      const token = await postForm(metadata.token_endpoint!, { grant_type: 'client_credentials' }, seed);
      expect(token.status).toBe(200);
      const { access_token: accessToken } = (await token.json()) as { access_token: string };
      const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri!));
      await expect(jwtVerify(accessToken, jwks, { issuer: metadata.issuer })).resolves.toBeDefined();
      const introspection = await postForm(metadata.introspection_endpoint!, { token: accessToken }, seed);
      expect(await introspection.json()).toMatchObject({ active: true });
      // Another path is not this issuer's.
      expect((await fetch(`${server.url}${wellKnown}/tenant`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('§2 omits jwks_uri, signing algorithms, scopes_supported and revocation for an opaque-token provider without them', async () => {
    const storage = createMemoryStore({ clients: [seedClient] });
    const provider = compose(
      { issuer: testIssuer },
      storage,
      opaqueHmacStrategy({ secrets: [testHmacSecret] }),
      bcryptHasher({ cost: 4 }),
      clientCredentialsGrant,
      accessTokenIntrospection,
    );
    const server = await startServer(createRouter(provider));
    try {
      const metadata = await getMetadata(server.url);
      expect(metadata.issuer).toBe(testIssuer);
      expect(metadata.introspection_endpoint).toBe(`${testIssuer}/oauth2/introspect`);
      for (const member of [
        'jwks_uri',
        'access_token_signing_alg_values_supported',
        'scopes_supported',
        'revocation_endpoint',
        'revocation_endpoint_auth_methods_supported',
      ]) {
        expect(metadata).not.toHaveProperty(member);
      }
      const revocation = await postForm(`${server.url}/oauth2/revoke`, { token: 'x' }, seed);
      expect(revocation.status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
