// `tessera token`, `introspect` and `revoke` against a running server: authentication methods,
// stdin, and error paths with their exit codes.

import { createServer } from 'node:net';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, exportJWK, exportPKCS8, generateKeyPair, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createWorkspace,
  parseJson,
  runTessera,
  startTessera,
  type ServerProcess,
  type Workspace,
} from './support/tessera-process.js';

let workspace: Workspace;
let server: ServerProcess;
let issuer = '';
let basicSecret = '';
let postSecret = '';
let assertionKey: CryptoKey;
const run = (args: readonly string[], options?: Parameters<typeof runTessera>[2]) =>
  runTessera(workspace, args, options);

beforeAll(async () => {
  workspace = createWorkspace();
  basicSecret = String(
    parseJson(await run(['clients', 'create', '--client-id', 'cli-basic', '--scope', 'read', '--json'])).client_secret,
  );
  postSecret = String(
    parseJson(
      await run([
        'clients',
        'create',
        '--client-id',
        'cli-post',
        '--token-endpoint-auth-method',
        'client_secret_post',
        '--json',
      ]),
    ).client_secret,
  );
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  assertionKey = privateKey;
  // The same key as a PEM file, for `--private-key`; another one the client never registered.
  writeFileSync(join(workspace.dir, 'cli-jwt.pem'), await exportPKCS8(privateKey));
  writeFileSync(
    join(workspace.dir, 'stranger.pem'),
    await exportPKCS8((await generateKeyPair('ES256', { extractable: true })).privateKey),
  );
  writeFileSync(join(workspace.dir, 'not-a-key.pem'), 'top secret words, not a key\n');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'cli-jwt-1' }] };
  await run([
    'clients',
    'create',
    '--client-id',
    'cli-jwt',
    '--token-endpoint-auth-method',
    'private_key_jwt',
    '--jwks',
    JSON.stringify(jwks),
    '--json',
  ]);
  server = await startTessera(workspace);
  // The issuer the server names in its metadata (http://localhost:<port>), which is not its
  // listener's address: RFC 8414 §3.3 has the commands use metadata only for that issuer.
  issuer = String(server.logs().find((line) => line.listener === 'public')?.issuer);
});
afterAll(async () => {
  await server?.stop('SIGKILL');
  workspace.remove();
});

/** The flags naming the server and the client_secret_basic client with `secret`. */
const basicClientFlags = (secret: string) => [
  '--issuer',
  issuer,
  '--client-id',
  'cli-basic',
  '--client-secret',
  secret,
];

describe('tessera token', () => {
  it('authenticates with client_secret_post when asked, the secret read from stdin', async () => {
    const result = await run(
      [
        'token',
        '--issuer',
        issuer,
        '--client-id',
        'cli-post',
        '--client-secret-stdin',
        '--auth-method',
        'client_secret_post',
        '--json',
      ],
      { input: `${postSecret}\n` },
    );
    expect(result.code).toBe(0);
    expect(parseJson(result)).toMatchObject({ token_type: 'bearer', claims: { client_id: 'cli-post' } });
  });

  it('takes the secret from TESSERA_CLIENT_SECRET', async () => {
    const result = await run(['token', '--issuer', issuer, '--client-id', 'cli-basic', '--json'], {
      env: { TESSERA_CLIENT_SECRET: basicSecret },
    });
    expect(result.code).toBe(0);
  });

  it.each([
    ['a wrong secret', ['--client-id', 'cli-basic', '--client-secret', 'not-the-secret'], 'invalid_client'],
    ['an unknown client', ['--client-id', 'nobody', '--client-secret', 'whatever-secret'], 'invalid_client'],
    [
      'a scope the client may not have',
      ['--client-id', 'cli-basic', '--client-secret', '<basic>', '--scope', 'admin'],
      'invalid_scope',
    ],
    ['the wrong authentication method', ['--client-id', 'cli-post', '--client-secret', '<post>'], 'invalid_client'],
  ])('exits 5 with the server error on %s', async (_title, flags, error) => {
    const args = flags.map((flag) => (flag === '<basic>' ? basicSecret : flag === '<post>' ? postSecret : flag));
    const result = await run(['token', '--issuer', issuer, ...args, '--json']);
    expect(result.code).toBe(5);
    expect(parseJson(result)).toMatchObject({ error });
    expect(result.stderr).toContain(`the server answered`);
    expect(result.stderr).not.toContain(basicSecret);
  });

  it.each([
    ['no --client-id', ['--issuer', 'http://127.0.0.1:1', '--client-secret', 'x'], '--client-id is required'],
    ['no secret', ['--issuer', 'http://127.0.0.1:1', '--client-id', 'x'], '--client-secret'],
    ['no issuer', ['--client-id', 'x', '--client-secret', 'y'], '--issuer is required'],
    [
      'an issuer that is not a URL',
      ['--issuer', 'auth.example', '--client-id', 'x', '--client-secret', 'y'],
      '--issuer: not an http(s) URL',
    ],
  ])('exits 2 on %s', async (_title, flags, message) => {
    const result = await run(['token', ...flags]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  /** A loopback port nothing listens on: taken, then given back. */
  async function closedPort(): Promise<number> {
    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    closed.close();
    await once(closed, 'close');
    return port;
  }

  it('names an unreachable endpoint without its query, which may hold a key (RFC 3986 §3.4)', async () => {
    const port = await closedPort();
    const result = await run([
      'token',
      '--token-endpoint',
      `http://127.0.0.1:${port}/oauth2/token?api_key=query-secret-1#frag-secret-2`,
      '--client-id',
      'x',
      '--client-secret',
      'y',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot reach http://127.0.0.1:${port}/oauth2/token?…`);
    expect(result.stderr).not.toContain('query-secret-1');
    expect(result.stderr).not.toContain('frag-secret-2');
  });

  it('exits 1 when the server cannot be reached', async () => {
    const port = await closedPort();
    const result = await run([
      'token',
      '--issuer',
      `http://127.0.0.1:${port}`,
      '--client-id',
      'x',
      '--client-secret',
      'y',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach');
  });
});

describe('private_key_jwt', () => {
  const signAssertion = (audience: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'cli-jwt-1' })
      .setIssuer('cli-jwt')
      .setSubject('cli-jwt')
      .setAudience(audience)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(assertionKey);
  };
  const requestWithAssertion = (clientAssertion: string) =>
    fetch(`${server.publicUrl}/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion,
      }),
    });

  it('the request log names the client of an assertion sent without client_id, and never the assertion', async () => {
    const { issuer } = (await (await fetch(`${server.publicUrl}/.well-known/oauth-authorization-server`)).json()) as {
      issuer: string;
    };
    const clientAssertion = await signAssertion(issuer);
    const response = await requestWithAssertion(clientAssertion);
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id');
    let line: Record<string, unknown> | undefined;
    // The line is written once the answer has gone out; give the logger a moment to flush it.
    for (let attempt = 0; attempt < 50 && !line; attempt++) {
      line = server.logs().find((entry) => entry.msg === 'request' && entry.requestId === requestId);
      if (!line) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(line).toMatchObject({ endpoint: 'token', clientId: 'cli-jwt', outcome: 'success', status: 200 });
    expect(server.output()).not.toContain(clientAssertion);
  });

  it('RFC 7523 §2.2 a client created with private_key_jwt and its jwks gets a token with a signed assertion', async () => {
    const metadata = (await (await fetch(`${server.publicUrl}/.well-known/oauth-authorization-server`)).json()) as {
      issuer: string;
      token_endpoint: string;
      token_endpoint_auth_methods_supported: string[];
    };
    expect(metadata.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    const response = await requestWithAssertion(await signAssertion(metadata.issuer));
    expect(response.status).toBe(200);
    const token = String(((await response.json()) as { access_token: unknown }).access_token);
    const jwks = createRemoteJWKSet(new URL(`${server.publicUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, jwks, { issuer: metadata.issuer });
    expect(payload).toMatchObject({ client_id: 'cli-jwt', sub: 'cli-jwt' });
  });

  const jwtClientFlags = (keyFile: string) => [
    '--issuer',
    issuer,
    '--client-id',
    'cli-jwt',
    '--private-key',
    keyFile,
    '--key-id',
    'cli-jwt-1',
  ];

  it('tessera token --private-key signs an assertion per request; introspect authenticates the same way', async () => {
    const issued = await run(['token', ...jwtClientFlags('cli-jwt.pem'), '--json']);
    expect(issued.code).toBe(0);
    const response = parseJson(issued);
    expect(response.claims).toMatchObject({ client_id: 'cli-jwt' });
    // A second request needs a new assertion (a fresh jti): the first is never replayed.
    expect((await run(['token', ...jwtClientFlags('cli-jwt.pem'), '--json'])).code).toBe(0);
    const introspection = await run([
      'introspect',
      ...jwtClientFlags('cli-jwt.pem'),
      String(response.access_token),
      '--json',
    ]);
    expect(parseJson(introspection)).toMatchObject({ active: true, client_id: 'cli-jwt' });
  });

  it('a key the client did not register is refused by the server (exit 5, invalid_client)', async () => {
    const result = await run(['token', ...jwtClientFlags('stranger.pem')]);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('invalid_client');
  });

  it('a file that holds no private key exits 2 without repeating its content', async () => {
    const result = await run(['token', ...jwtClientFlags('not-a-key.pem')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('holds no PEM private key');
    expect(result.stderr + result.stdout).not.toContain('top secret words');
  });

  it('--private-key with a secret-based --auth-method exits 2', async () => {
    const result = await run([
      'token',
      ...jwtClientFlags('cli-jwt.pem'),
      '--auth-method',
      'client_secret_post',
      '--client-secret',
      'x',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--private-key is for private_key_jwt');
  });
});

describe('tessera introspect and revoke', () => {
  it('introspect prints the RFC 7662 answer; revoke makes it inactive; a client cannot revoke another client’s token', async () => {
    const credentials = basicClientFlags(basicSecret);
    const token = String(parseJson(await run(['token', ...credentials, '--json'])).access_token);

    const human = await run(['introspect', ...credentials, token]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^active\s+true$/m);

    const other = await run([
      'revoke',
      '--issuer',
      issuer,
      '--client-id',
      'cli-post',
      '--client-secret',
      postSecret,
      '--auth-method',
      'client_secret_post',
      token,
    ]);
    expect(other.code).toBe(5);
    expect(parseJson(await run(['introspect', ...credentials, token, '--json']))).toMatchObject({ active: true });

    expect((await run(['revoke', ...credentials, '-'], { input: token })).code).toBe(0);
    expect(parseJson(await run(['introspect', ...credentials, token, '--json']))).toEqual({ active: false });
  });

  it('introspect - refuses more than 1 MiB on stdin with exit 2, without reading it all or sending it', async () => {
    const result = await run(['introspect', ...basicClientFlags(basicSecret), '-'], {
      input: 'a'.repeat(4 * 1024 * 1024),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/stdin holds more than 1 MiB/);
  });

  it('introspect of garbage is simply inactive', async () => {
    const result = await run(['introspect', ...basicClientFlags(basicSecret), 'not-a-token', '--json']);
    expect(result.code).toBe(0);
    expect(parseJson(result)).toEqual({ active: false });
  });

  it('introspect with a wrong secret exits 5', async () => {
    const result = await run(['introspect', ...basicClientFlags('wrong-secret-1'), 'x']);
    expect(result.code).toBe(5);
  });
});
