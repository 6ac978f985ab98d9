// Token lifecycle driven by a real third-party client: openid-client v6 discovery (RFC 8414),
// introspection (RFC 7662) and revocation (RFC 7009).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createManualClock, createRouter, type Client, type HttpHandler, type ManualClock } from '../../src/index.js';
import { startServer, type RunningServer } from '../support/harness.js';
import { createTestProvider, hashSecret } from '../support/test-provider.js';

const lifespan = 900;
const worker = { id: 'worker', secret: 'worker-secret' };
const api = { id: 'api', secret: 'api-secret' };

describe.each(['jwt', 'opaque'] as const)('openid-client manages %s access tokens', (format) => {
  let server: RunningServer;
  let clock: ManualClock;

  beforeAll(async () => {
    clock = createManualClock();
    const clients: Client[] = [
      {
        id: worker.id,
        secretHash: await hashSecret(worker.secret),
        grantTypes: ['client_credentials'],
        scopes: ['jobs.read', 'jobs.write'],
        audience: [],
      },
      {
        id: api.id,
        secretHash: await hashSecret(api.secret),
        grantTypes: [],
        scopes: [],
        audience: [],
        metadata: { introspection: true },
      },
    ];
    let handler: HttpHandler | undefined;
    server = await startServer((request) => handler!(request));
    const { provider } = await createTestProvider({
      clients,
      config: { issuer: server.url, clock, accessTokenLifespan: lifespan },
      format,
    });
    handler = createRouter(provider);
  });
  afterAll(() => server.close());

  /** RFC 8414 discovery, as openid-client does it for a plain OAuth 2.0 server. */
  function discover(credentials: { id: string; secret: string }, authentication: client.ClientAuth) {
    return client.discovery(new URL(server.url), credentials.id, undefined, authentication, {
      algorithm: 'oauth2',
      // The test server speaks plain HTTP on loopback.
      execute: [client.allowInsecureRequests],
    });
  }

  it('RFC 8414 discovery finds the introspection and revocation endpoints', async () => {
    const config = await discover(worker, client.ClientSecretBasic(worker.secret));
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(server.url);
    expect(metadata.introspection_endpoint).toBe(`${server.url}/oauth2/introspect`);
    expect(metadata.revocation_endpoint).toBe(`${server.url}/oauth2/revoke`);
  });

  it('RFC 7662 tokenIntrospection reports an issued token as active, to its client and to a resource server', async () => {
    const workerConfig = await discover(worker, client.ClientSecretBasic(worker.secret));
    const tokens = await client.clientCredentialsGrant(workerConfig, { scope: 'jobs.read' });

    const own = await client.tokenIntrospection(workerConfig, tokens.access_token);
    expect(own).toMatchObject({
      active: true,
      client_id: 'worker',
      scope: 'jobs.read',
      sub: 'worker',
      iss: server.url,
    });

    const apiConfig = await discover(api, client.ClientSecretPost(api.secret));
    const seen = await client.tokenIntrospection(apiConfig, tokens.access_token, { token_type_hint: 'access_token' });
    expect(seen.active).toBe(true);
    expect(seen.exp! - seen.iat!).toBe(lifespan);
  });

  it('RFC 7009 tokenRevocation revokes the token, and tokenIntrospection then reports it inactive', async () => {
    const config = await discover(worker, client.ClientSecretPost(worker.secret));
    const tokens = await client.clientCredentialsGrant(config);
    await expect(client.tokenRevocation(config, tokens.access_token)).resolves.toBeUndefined();
    await expect(client.tokenIntrospection(config, tokens.access_token)).resolves.toEqual({ active: false });
  });

  it('RFC 7009 tokenRevocation resolves for a token the server does not know', async () => {
    const config = await discover(worker, client.ClientSecretBasic(worker.secret));
    await expect(client.tokenRevocation(config, 'no-such-token')).resolves.toBeUndefined();
  });

  it('RFC 7009 tokenRevocation by another client is refused with unauthorized_client', async () => {
    const workerConfig = await discover(worker, client.ClientSecretBasic(worker.secret));
    const tokens = await client.clientCredentialsGrant(workerConfig);
    const apiConfig = await discover(api, client.ClientSecretBasic(api.secret));
    await expect(client.tokenRevocation(apiConfig, tokens.access_token)).rejects.toMatchObject({
      error: 'unauthorized_client',
    });
    await expect(client.tokenIntrospection(workerConfig, tokens.access_token)).resolves.toMatchObject({
      active: true,
    });
  });

  it('RFC 7662 tokenIntrospection reports an expired token as inactive', async () => {
    const config = await discover(worker, client.ClientSecretBasic(worker.secret));
    const tokens = await client.clientCredentialsGrant(config);
    clock.advance(lifespan * 1000);
    await expect(client.tokenIntrospection(config, tokens.access_token)).resolves.toEqual({ active: false });
  });

  it('RFC 7662 tokenIntrospection with a wrong secret fails with the 401 Basic challenge', async () => {
    const config = await discover(worker, client.ClientSecretBasic('wrong'));
    // openid-client reports a 401 with WWW-Authenticate as the challenge, not the JSON body.
    await expect(client.tokenIntrospection(config, 'anything')).rejects.toMatchObject({
      status: 401,
      code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE',
    });
  });
});

describe('openid-client against the seed server (npm start)', () => {
  let child: ChildProcess;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const main = fileURLToPath(new URL('../../examples/client-credentials/main.ts', import.meta.url));
    child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ISSUER: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes(`serving on 127.0.0.1:${port}`)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the seed server exited with ${String(code)}`)));
    });
  });
  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill();
      await once(child, 'exit');
    }
  });

  it('serves discovery, introspection and revocation for the seed client', async () => {
    const config = await client.discovery(new URL(url), 'test-client', undefined, client.ClientSecretBasic('foobar'), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    expect(config.serverMetadata().token_endpoint).toBe(`${url}/token`);
    const tokens = await client.clientCredentialsGrant(config);
    await expect(client.tokenIntrospection(config, tokens.access_token)).resolves.toMatchObject({
      active: true,
      client_id: 'test-client',
    });
    await client.tokenRevocation(config, tokens.access_token);
    await expect(client.tokenIntrospection(config, tokens.access_token)).resolves.toEqual({ active: false });
  });
});

/** A loopback port that was free a moment ago. */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  await once(probe, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
