// The seed scenario driven by a real third-party OAuth client: openid-client v6, client credentials grant.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createRouter, type Client } from '../../src/index.js';
import { startServer, type RunningServer } from '../support/harness.js';
import { createTestProvider, hashSecret, testIssuer } from '../support/test-provider.js';

const reservedId = 'svc:reports/daily';
const reservedSecret = 'p@ss w%rd+:/&=';

describe('openid-client performs the client credentials grant', () => {
  let server: RunningServer;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    const reports: Client = {
      id: reservedId,
      secretHash: await hashSecret(reservedSecret),
      grantTypes: ['client_credentials'],
      scopes: ['reports.read'],
      audience: [],
    };
    const { provider } = await createTestProvider({ clients: [reports] });
    server = await startServer(createRouter(provider, { token: '/token' }));
    jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
  });
  afterAll(() => server.close());

  function configuration(clientId: string, authentication: client.ClientAuth): client.Configuration {
    const config = new client.Configuration(
      { issuer: testIssuer, token_endpoint: `${server.url}/token` },
      clientId,
      {},
      authentication,
    );
    // The test server speaks plain HTTP on loopback.
    client.allowInsecureRequests(config);
    return config;
  }

  async function expectVerifiedToken(accessToken: string, clientId: string): Promise<void> {
    const { payload, protectedHeader } = await jwtVerify(accessToken, jwks, { issuer: testIssuer, typ: 'at+jwt' });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.sub).toBe(clientId);
    expect(payload.client_id).toBe(clientId);
  }

  it('§2.3.1 with client_secret_basic (ClientSecretBasic) gets a token that verifies', async () => {
    const config = configuration('test-client', client.ClientSecretBasic('foobar'));
    const tokens = await client.clientCredentialsGrant(config);
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.expires_in).toBe(1800);
    expect(tokens.refresh_token).toBeUndefined();
    await expectVerifiedToken(tokens.access_token, 'test-client');
  });

  it('§2.3.1 with client_secret_post (ClientSecretPost) gets a token that verifies', async () => {
    const config = configuration('test-client', client.ClientSecretPost('foobar'));
    const tokens = await client.clientCredentialsGrant(config);
    expect(tokens.token_type).toBe('bearer');
    await expectVerifiedToken(tokens.access_token, 'test-client');
  });

  it('§2.3.1 with ClientSecretBasic, reserved characters in id and secret survive the encoding', async () => {
    const config = configuration(reservedId, client.ClientSecretBasic(reservedSecret));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'reports.read' });
    expect(tokens.scope).toBe('reports.read');
    await expectVerifiedToken(tokens.access_token, reservedId);
  });

  it('§5.2 a wrong secret surfaces in openid-client as a 401 Basic challenge with invalid_client', async () => {
    const config = configuration('test-client', client.ClientSecretBasic('not-foobar'));
    const failure = await client.clientCredentialsGrant(config).then(
      () => undefined,
      (error: unknown) => error,
    );
    // openid-client reports the WWW-Authenticate challenge before the body.
    expect(failure).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const challenge = failure as client.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(401);
    expect(challenge.cause.map((entry) => entry.scheme)).toEqual(['basic']);
    const body = (await challenge.response.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_client');
  });
});
