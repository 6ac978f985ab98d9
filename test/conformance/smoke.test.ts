import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createRouter } from '../../src/index.js';
import { mounts, startServer, type RunningServer } from '../support/harness.js';
import { createTestProvider, testIssuer } from '../support/test-provider.js';

describe.each(mounts)('seed scenario through %s', (mount) => {
  let server: RunningServer;
  beforeAll(async () => {
    const { provider } = await createTestProvider();
    server = await startServer(createRouter(provider, { token: '/token' }), mount);
  });
  afterAll(() => server.close());

  it('§4.4 issues a JWT that verifies against the served JWK Set', async () => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'test-client', client_secret: 'foobar' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ expires_in: 1800, scope: '', token_type: 'bearer' });
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(String(body.access_token), jwks, { issuer: testIssuer });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload.sub).toBe('test-client');
  });
});
