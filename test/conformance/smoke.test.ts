import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
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
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'test-client',
        client_secret: 'foobar',
      }),
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

describe('the seed example as npm start runs it', () => {
  let child: ChildProcess;
  let base: string;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'examples/client-credentials/main.ts'], {
      cwd: new URL('../..', import.meta.url),
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    expect(line).toBe(`serving on 127.0.0.1:${port}`);
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill();
      await once(child, 'exit');
    }
  });

  it('§4.4 answers the how-to curl line with a JWT that verifies against /.well-known/jwks.json', async () => {
    // curl http://localhost:8080/token -d grant_type=client_credentials -d client_id=test-client -d client_secret=foobar
    const response = await fetch(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=test-client&client_secret=foobar',
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ expires_in: 1800, scope: '', token_type: 'bearer' });
    const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(String(body.access_token), jwks, {
      issuer: `http://localhost:${port}`,
      typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub: 'test-client', client_id: 'test-client' });
  });
});

/** A port that was free a moment ago, for a process that needs its port up front. */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}
