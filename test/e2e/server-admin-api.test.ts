// The admin listener of `tessera serve`: bearer-token guard, RFC 7591/7592-shaped client management,
// keys, Prometheus metrics and health; and none of it on the public listener.

import { decodeJwt } from 'jose';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKeySealer,
  generateKeyEncryptionKey,
  generateSigningKey,
  type SigningAlgorithm,
} from '../../src/keys/index.js';
import { bcryptHasher } from '../../src/secrets/index.js';
import { createSqliteStore } from '../../src/storage/sqlite/index.js';
import { startMemoryServer } from './support/in-process-server.js';
import {
  basic,
  createWorkspace,
  requestToken,
  startTessera,
  type ServerProcess,
  type Workspace,
} from './support/tessera-process.js';

let workspace: Workspace;
let server: ServerProcess;

beforeAll(async () => {
  workspace = createWorkspace();
  server = await startTessera(workspace);
});
afterAll(async () => {
  await server?.stop('SIGKILL');
  workspace.remove();
});

function admin(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const { token = workspace.adminToken, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  if (rest.body) headers.set('content-type', 'application/json');
  return fetch(`${server.adminUrl}${path}`, { ...rest, headers });
}

const guarded: [string, string][] = [
  ['GET', '/clients'],
  ['POST', '/clients'],
  ['GET', '/clients/any'],
  ['PUT', '/clients/any'],
  ['DELETE', '/clients/any'],
  ['POST', '/clients/any/secret'],
  ['GET', '/keys'],
  ['POST', '/keys/rotate'],
  ['GET', '/metrics'],
];

describe('admin API authorisation', () => {
  it.each(guarded)('%s %s answers 401 with a Bearer challenge without a token', async (method, path) => {
    const response = await admin(path, { method, token: null });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="tessera-admin"');
  });

  it.each(guarded)('%s %s answers 401 invalid_token with a wrong token', async (method, path) => {
    const response = await admin(path, { method, token: `${workspace.adminToken}x` });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(await response.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses a Basic header carrying the admin token', async () => {
    const response = await admin('/clients', {
      token: null,
      headers: { authorization: basic('admin', workspace.adminToken) },
    });
    expect(response.status).toBe(401);
  });
});

describe('admin API with no admin.token configured', () => {
  let bare: Workspace;
  let bareServer: ServerProcess;

  beforeAll(async () => {
    const full = createWorkspace();
    const { TESSERA_ADMIN_TOKEN: _unset, ...env } = full.env;
    bare = { ...full, env };
    bareServer = await startTessera(bare);
  });
  afterAll(async () => {
    await bareServer?.stop('SIGKILL');
    bare?.remove();
  });

  function call(method: string, path: string, authorization: string | null): Promise<Response> {
    const headers = new Headers();
    if (authorization !== null) headers.set('authorization', authorization);
    const body = method === 'POST' || method === 'PUT' ? JSON.stringify({ client_id: 'any' }) : undefined;
    if (body) headers.set('content-type', 'application/json');
    return fetch(`${bareServer.adminUrl}${path}`, { method, headers, ...(body ? { body } : {}) });
  }

  it.each(guarded)('%s %s answers 401 with a Bearer challenge to a request without a token', async (method, path) => {
    const response = await call(method, path, null);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="tessera-admin"');
  });

  it.each(guarded)('%s %s answers 401 invalid_token to any presented bearer token', async (method, path) => {
    // The token the workspace would have configured, and one made of a single character.
    for (const token of [bare.adminToken, 'x']) {
      const response = await call(method, path, `Bearer ${token}`);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="tessera-admin", error="invalid_token"$/);
      expect(await response.json()).toMatchObject({ error: 'invalid_token' });
    }
  });

  it('still answers the health checks, which need no token', async () => {
    expect((await call('GET', '/health/alive', null)).status).toBe(200);
    expect((await call('GET', '/health/ready', null)).status).toBe(200);
  });
});

describe('admin.enabled: false', () => {
  let off: Workspace;
  let offServer: ServerProcess;
  let adminPort = 0;

  beforeAll(async () => {
    adminPort = await freePort();
    off = createWorkspace({ TESSERA_ADMIN_ENABLED: 'false' });
    offServer = await startTessera(off, ['--admin-port', String(adminPort)], { expectAdmin: false });
  });
  afterAll(async () => {
    await offServer?.stop('SIGKILL');
    off?.remove();
  });

  it('starts no admin listener: nothing listens on admin.port and none is logged, while the public one serves', async () => {
    const jwks = await fetch(`${offServer.publicUrl}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(((await jwks.json()) as { keys: unknown[] }).keys.length).toBeGreaterThanOrEqual(1);
    // An admin listener would have been started right after the public one; give it time to show.
    await delay(300);
    expect(offServer.adminUrl).toBeUndefined();
    expect(offServer.logs().filter((line) => line.listener === 'admin')).toEqual([]);
    expect(await connectError(adminPort)).toBe('ECONNREFUSED');
  });
});

describe('admin API is never on the public listener, nor OAuth endpoints on the admin one', () => {
  it.each(['/clients', '/keys', '/metrics', '/health/alive', '/health/ready'])('public %s is 404', async (path) => {
    const response = await fetch(`${server.publicUrl}${path}`, {
      headers: { authorization: `Bearer ${workspace.adminToken}` },
    });
    expect(response.status).toBe(404);
  });

  it('the admin listener does not serve the token endpoint', async () => {
    const response = await admin('/oauth2/token', { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
  });
});

describe('health', () => {
  it('answers /health/alive and /health/ready without a token', async () => {
    const alive = await admin('/health/alive', { token: null });
    expect([alive.status, await alive.json()]).toEqual([200, { status: 'alive' }]);
    const ready = await admin('/health/ready', { token: null });
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
  });

  it('RFC 9110 §9.3.2: answers HEAD as GET without a body, on the health and client routes', async () => {
    for (const [path, token] of [
      ['/health/alive', null],
      ['/health/ready', null],
      ['/clients', undefined],
    ] as const) {
      const head = await admin(path, { method: 'HEAD', token });
      expect(head.status, path).toBe(200);
      expect(head.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect(await head.text(), path).toBe('');
    }
    const refused = await admin('/health/alive', { method: 'DELETE', token: null });
    expect([refused.status, refused.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
  });
});

describe('client management (RFC 7591 / 7592 shapes)', () => {
  let secret = '';

  it('POST /clients registers a client: 201 with the secret, which then gets a token at once', async () => {
    const response = await admin('/clients', {
      method: 'POST',
      body: JSON.stringify({
        client_id: 'reports',
        scope: 'read',
        grant_types: ['client_credentials'],
        client_name: 'Reports',
      }),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      client_id: 'reports',
      scope: 'read',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      client_name: 'Reports',
      client_secret_expires_at: 0,
    });
    expect(typeof body.client_id_issued_at).toBe('number');
    secret = String(body.client_secret);
    expect((await requestToken(server.publicUrl, 'reports', secret, { scope: 'read' })).status).toBe(200);
  });

  it('GET /clients/{id} shows metadata without the secret; GET /clients lists it', async () => {
    const shown = (await (await admin('/clients/reports')).json()) as Record<string, unknown>;
    expect(shown).toMatchObject({ client_id: 'reports', scope: 'read' });
    expect(shown).not.toHaveProperty('client_secret');
    const listed = (await (await admin('/clients')).json()) as { clients: { client_id: string }[] };
    expect(listed.clients.map((client) => client.client_id)).toContain('reports');
  });

  it('PUT /clients/{id} replaces the metadata and keeps the secret', async () => {
    const response = await admin('/clients/reports', {
      method: 'PUT',
      body: JSON.stringify({ client_id: 'reports', scope: 'read write' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ scope: 'read write' });
    expect(body).not.toHaveProperty('client_name');
    expect((await requestToken(server.publicUrl, 'reports', secret, { scope: 'write' })).status).toBe(200);
  });

  it('PUT of what GET gave changes nothing (RFC 7592 §2.2): a client stored without a method still uses client_secret_post', async () => {
    const store = createSqliteStore({ filename: join(workspace.dir, 'data', 'tessera.db') });
    try {
      await store.createClient({
        id: 'no-method',
        secretHash: await bcryptHasher({ cost: 4 }).hash('no-method-secret'),
        grantTypes: ['client_credentials'],
        scopes: ['read'],
        audience: [],
      });
    } finally {
      await store.close();
    }
    const shown = (await (await admin('/clients/no-method')).json()) as Record<string, unknown>;
    expect(shown).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic' });
    const put = await admin('/clients/no-method', { method: 'PUT', body: JSON.stringify(shown) });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual(shown);
    const postToken = await fetch(`${server.publicUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'no-method',
        client_secret: 'no-method-secret',
      }),
    });
    expect(postToken.status).toBe(200);
    expect((await requestToken(server.publicUrl, 'no-method', 'no-method-secret')).status).toBe(200);
  });

  it('PUT refuses a client_secret and a changed client_id with 400 invalid_client_metadata', async () => {
    for (const body of [{ client_secret: 'x'.repeat(20) }, { client_id: 'other' }]) {
      const response = await admin('/clients/reports', { method: 'PUT', body: JSON.stringify(body) });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_client_metadata' });
    }
  });

  it('POST /clients/{id}/secret issues a new secret; the old one stops working at once', async () => {
    const response = await admin('/clients/reports/secret', { method: 'POST' });
    expect(response.status).toBe(200);
    const rotated = String(((await response.json()) as Record<string, unknown>).client_secret);
    expect(rotated).not.toBe(secret);
    expect((await requestToken(server.publicUrl, 'reports', secret)).status).toBe(401);
    expect((await requestToken(server.publicUrl, 'reports', rotated)).status).toBe(200);
  });

  it('PUT moving a private_key_jwt client to client_secret_basic answers a generated secret once, which gets a token', async () => {
    const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] };
    const created = await admin('/clients', {
      method: 'POST',
      body: JSON.stringify({ client_id: 'back-to-secret', token_endpoint_auth_method: 'private_key_jwt', jwks }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).not.toHaveProperty('client_secret');
    const refused = await admin('/clients/back-to-secret/secret', { method: 'POST' });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error_description: string }).error_description).toContain(
      'switching it to client_secret_basic or client_secret_post gives it a generated secret',
    );
    const moved = await admin('/clients/back-to-secret', {
      method: 'PUT',
      body: JSON.stringify({ token_endpoint_auth_method: 'client_secret_basic' }),
    });
    expect(moved.status).toBe(200);
    const body = (await moved.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic', client_secret_expires_at: 0 });
    expect(body).not.toHaveProperty('jwks');
    expect((await requestToken(server.publicUrl, 'back-to-secret', String(body.client_secret))).status).toBe(200);
    expect(await (await admin('/clients/back-to-secret')).json()).not.toHaveProperty('client_secret');
    const again = await admin('/clients/back-to-secret', {
      method: 'PUT',
      body: JSON.stringify({ token_endpoint_auth_method: 'client_secret_basic', client_name: 'Back' }),
    });
    expect(await again.json()).not.toHaveProperty('client_secret');
    expect((await requestToken(server.publicUrl, 'back-to-secret', String(body.client_secret))).status).toBe(200);
  });

  it('POST /clients/{id}/secret with no body at all, as curl -X POST sends it (no Content-Length), issues a generated secret', async () => {
    const { port, hostname } = new URL(server.adminUrl!);
    const socket = connect(Number(port), hostname);
    socket.write(
      `POST /clients/reports/secret HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${workspace.adminToken}\r\nConnection: close\r\n\r\n`,
    );
    let answer = '';
    for await (const chunk of socket) answer += String(chunk);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const rotated = String(
      (JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>).client_secret,
    );
    expect(rotated.length).toBeGreaterThanOrEqual(32);
    expect((await requestToken(server.publicUrl, 'reports', rotated)).status).toBe(200);
  });

  it.each([
    ['an unsupported grant type', { grant_types: ['password'] }, 400, 'invalid_client_metadata'],
    ['a scope that is not a string', { scope: ['read'] }, 400, 'invalid_client_metadata'],
    ['a taken client_id', { client_id: 'reports' }, 409, 'conflict'],
    ['the client_id "..", which no path reaches', { client_id: '..' }, 400, 'invalid_client_metadata'],
    ['the client_id ".", which no path reaches', { client_id: '.' }, 400, 'invalid_client_metadata'],
  ])('POST /clients refuses %s', async (_title, body, status, error) => {
    const response = await admin('/clients', { method: 'POST', body: JSON.stringify(body) });
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ error });
  });

  it.each([
    ['client_name nested 4,500 levels deep', `{"client_name":${'['.repeat(4500)}${']'.repeat(4500)}}`, 'client_name'],
    ['client_name null', '{"client_name":null}', 'client_name'],
    ['contacts as a string', '{"contacts":"ops@example.com"}', 'contacts'],
    ['client_uri as a number', '{"client_uri":42}', 'client_uri'],
    [
      'token_endpoint_auth_signing_alg none',
      '{"token_endpoint_auth_signing_alg":"none"}',
      'token_endpoint_auth_signing_alg',
    ],
  ])(
    'POST /clients refuses %s (RFC 7591 §2 types) with 400 invalid_client_metadata naming the field',
    async (_title, body, field) => {
      const response = await admin('/clients', { method: 'POST', body });
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { error: string; error_description: string };
      expect(answer.error).toBe('invalid_client_metadata');
      expect(answer.error_description).toContain(`${field} must be`);
    },
  );

  it('RFC 7591 §2 keeps token_endpoint_auth_signing_alg, shows it, and refuses one no registered key can sign with', async () => {
    const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] };
    const method = { token_endpoint_auth_method: 'private_key_jwt', jwks };
    const refused = await admin('/clients', {
      method: 'POST',
      body: JSON.stringify({ client_id: 'signing-alg', ...method, token_endpoint_auth_signing_alg: 'RS256' }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: 'invalid_client_metadata',
      error_description: 'token_endpoint_auth_signing_alg is RS256, which no key in jwks can sign with',
    });
    const created = await admin('/clients', {
      method: 'POST',
      body: JSON.stringify({ client_id: 'signing-alg', ...method, token_endpoint_auth_signing_alg: 'EdDSA' }),
    });
    expect(created.status).toBe(201);
    expect(await (await admin('/clients/signing-alg')).json()).toMatchObject({
      token_endpoint_auth_signing_alg: 'EdDSA',
    });
    expect((await admin('/clients/signing-alg', { method: 'DELETE' })).status).toBe(204);
  });

  it.each([
    ['an empty JWK Set', { keys: [] }, 'jwks must hold at least one key'],
    ['a key that is not a JWK', { keys: [{ kty: 'RSA', foo: 1 }] }, 'jwks key 1 is not a valid public JWK'],
    ['keys that are not an array', { keys: 'none' }, 'jwks must be a JWK Set'],
  ])('POST /clients refuses a private_key_jwt client with %s, naming jwks', async (_title, jwks, message) => {
    const response = await admin('/clients', {
      method: 'POST',
      body: JSON.stringify({ token_endpoint_auth_method: 'private_key_jwt', jwks }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: 'invalid_client_metadata',
      error_description: expect.stringContaining(message) as string,
    });
  });

  it.each([
    ['a number', '12345678'],
    ['null', 'null'],
    ['an array', '["a-chosen-secret"]'],
  ])(
    'refuses a client_secret that is %s with 400 naming the field, and generates none in its place',
    async (_title, value) => {
      const created = await admin('/clients', {
        method: 'POST',
        body: `{"client_id":"typed-secret","client_secret":${value}}`,
      });
      expect(created.status).toBe(400);
      expect(await created.json()).toMatchObject({
        error: 'invalid_client_metadata',
        error_description: 'client_secret must be a string',
      });
      expect((await admin('/clients/typed-secret')).status).toBe(404);

      const registered = await admin('/clients', { method: 'POST', body: '{"client_id":"typed-secret"}' });
      const secret = String(((await registered.json()) as Record<string, unknown>).client_secret);
      const rotated = await admin('/clients/typed-secret/secret', {
        method: 'POST',
        body: `{"client_secret":${value}}`,
      });
      expect(rotated.status).toBe(400);
      expect(await rotated.json()).toMatchObject({
        error: 'invalid_client_metadata',
        error_description: 'client_secret must be a string',
      });
      expect((await requestToken(server.publicUrl, 'typed-secret', secret)).status).toBe(200);
      expect((await admin('/clients/typed-secret', { method: 'DELETE' })).status).toBe(204);
    },
  );

  it("registers a client with introspection: true, which may then introspect other clients' tokens (RFC 7662 §2.1)", async () => {
    const register = async (body: Record<string, unknown>) => {
      const response = await admin('/clients', { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(201);
      return (await response.json()) as Record<string, unknown>;
    };
    const api = await register({ client_id: 'introspecting-api', introspection: true });
    expect(api).toMatchObject({ introspection: true });
    const caller = await register({ client_id: 'introspected-caller' });
    const token = await requestToken(server.publicUrl, 'introspected-caller', String(caller.client_secret));
    const introspect = async () => {
      const response = await fetch(`${server.publicUrl}/oauth2/introspect`, {
        method: 'POST',
        headers: {
          authorization: basic('introspecting-api', String(api.client_secret)),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: String(token.body.access_token) }),
      });
      return ((await response.json()) as { active: boolean }).active;
    };
    expect(await introspect()).toBe(true);
    const shown = (await (await admin('/clients/introspecting-api')).json()) as Record<string, unknown>;
    expect(shown).toMatchObject({ introspection: true });
    const turnedOff = await admin('/clients/introspecting-api', {
      method: 'PUT',
      body: JSON.stringify({ ...shown, introspection: false }),
    });
    expect(await turnedOff.json()).toMatchObject({ introspection: false });
    expect(await introspect()).toBe(false);
    // RFC 7662 §4: limited to audiences, it sees the tokens meant for them only.
    const [tokenAudience] = ([] as unknown[]).concat(decodeJwt(String(token.body.access_token)).aud);
    for (const [audiences, active] of [
      [[String(tokenAudience)], true],
      [['https://elsewhere.example'], false],
    ] as const) {
      const limited = await admin('/clients/introspecting-api', {
        method: 'PUT',
        body: JSON.stringify({ ...shown, introspection: audiences }),
      });
      expect(await limited.json()).toMatchObject({ introspection: audiences });
      expect(await introspect()).toBe(active);
    }
    const refused = await admin('/clients', { method: 'POST', body: '{"introspection":"yes"}' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: 'invalid_client_metadata',
      error_description:
        'introspection must be true, false or a non-empty array of audience strings, none empty or holding a space',
    });
  });

  it('refuses metadata holding a lone UTF-16 surrogate or U+0000 anywhere with 400 invalid_client_metadata (RFC 7591 §3.2.2), storing nothing and changing nothing', async () => {
    // Raw JSON text: JSON.parse turns each \uD800-style escape into a lone surrogate.
    const ec =
      '"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"';
    const bodies = (id: string) => [
      `{"client_id":"${id}","client_name":"Reports \\ud800"}`,
      `{"client_id":"${id}","client_name":"tail \\udfff"}`,
      `{"client_id":"${id}","client_name":"nul \\u0000"}`,
      `{"client_id":"${id}","contacts":["ops@example.com","\\udbff"]}`,
      `{"client_id":"${id}","token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{${ec},"kid":"k\\ud800"}]}}`,
      `{"client_id":"${id}","software_statement_extra":{"deep":["\\udc00"]}}`,
      `{"client_id":"${id}","\\ud800":"a member name"}`,
      `{"client_id":"${id}","scope":"read \\ud800"}`,
    ];
    for (const body of [...bodies('surrogate'), '{"client_id":"bad\\ud800id"}', '{"client_id":"bad\\u0000id"}']) {
      const response = await admin('/clients', { method: 'POST', body });
      expect(response.status, body).toBe(400);
      const answer = (await response.json()) as Record<string, unknown>;
      expect(answer).toMatchObject({ error: 'invalid_client_metadata' });
      expect(String(answer.error_description)).toContain('lone UTF-16 surrogate or U+0000');
    }
    expect((await admin('/clients/surrogate')).status).toBe(404);
    expect((await admin('/clients/bad%EF%BF%BDid')).status).toBe(404);

    const created = await admin('/clients', {
      method: 'POST',
      body: JSON.stringify({ client_id: 'kept-text', client_name: 'Kept \u{1F510}', contacts: ['a@example.com'] }),
    });
    expect(created.status).toBe(201);
    const before = (await (await admin('/clients/kept-text')).json()) as Record<string, unknown>;
    expect(before).toMatchObject({ client_name: 'Kept \u{1F510}' });
    for (const body of bodies('kept-text')) {
      const response = await admin('/clients/kept-text', { method: 'PUT', body });
      expect(response.status, body).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_client_metadata' });
    }
    expect(await (await admin('/clients/kept-text')).json()).toEqual(before);
  });

  it('refuses a body that is not a JSON object with 400 invalid_request', async () => {
    for (const body of ['not json', '[1]']) {
      const response = await admin('/clients', { method: 'POST', body });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_request' });
    }
  });

  it('RFC 8259 §4 refuses a body naming a member twice in one object with 400 invalid_request, storing nothing', async () => {
    for (const body of [
      '{"client_id":"twice","scope":"read","scope":"admin"}',
      '{"client_id":"twice","\\u0073cope":"read","scope":"admin"}',
      '{"client_id":"twice","jwks":{"keys":[{"kty":"EC","kty":"RSA"}]}}',
    ]) {
      const response = await admin('/clients', { method: 'POST', body });
      expect(response.status, body).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: /names .* twice/ });
    }
    expect((await admin('/clients/twice')).status).toBe(404);
    const created = await admin('/clients', { method: 'POST', body: '{"client_id":"twice","scope":"read"}' });
    expect(created.status).toBe(201);
    const update = await admin('/clients/twice', { method: 'PUT', body: '{"scope":"read","scope":"read admin"}' });
    expect(update.status).toBe(400);
    expect(await update.json()).toMatchObject({ error: 'invalid_request', error_description: /names "scope" twice/ });
    expect(await (await admin('/clients/twice')).json()).toMatchObject({ scope: 'read' });
  });

  it('RFC 8259 §8.1 refuses a body that is not UTF-8 with 400 invalid_request, storing nothing changed', async () => {
    // "café" written in Latin-1, then a byte that is never UTF-8: decoding would store U+FFFD instead.
    const bytes = Buffer.concat([
      Buffer.from('{"client_id":"latin-1","client_name":"caf'),
      Buffer.from([0xe9, 0x20, 0xff]),
      Buffer.from('"}'),
    ]);
    const response = await admin('/clients', { method: 'POST', body: bytes });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
    expect((await admin('/clients/latin-1')).status).toBe(404);
  });

  it('DELETE /clients/{id} answers 204, then the client is 404 and cannot get tokens', async () => {
    expect((await admin('/clients/reports', { method: 'DELETE' })).status).toBe(204);
    expect((await admin('/clients/reports')).status).toBe(404);
    expect((await admin('/clients/reports', { method: 'DELETE' })).status).toBe(404);
    expect((await requestToken(server.publicUrl, 'reports', 'whatever-it-was')).status).toBe(401);
  });

  it('does not count a taken client_id or an unknown one as a storage error: the store answered', async () => {
    const storageErrors = async () => {
      const text = await (await admin('/metrics')).text();
      return [...text.matchAll(/^tessera_storage_errors_total\{operation="(\w+)"\} (\d+)$/gm)]
        .filter((match) => Number(match[2]) > 0)
        .map((match) => match[1]);
    };
    const before = await storageErrors();
    expect((await admin('/clients', { method: 'POST', body: JSON.stringify({ client_id: 'taken' }) })).status).toBe(
      201,
    );
    expect((await admin('/clients', { method: 'POST', body: JSON.stringify({ client_id: 'taken' }) })).status).toBe(
      409,
    );
    expect((await admin('/clients/never-there', { method: 'DELETE' })).status).toBe(404);
    expect(await storageErrors()).toEqual(before);
  });
});

describe('GET /clients pagination', () => {
  const ids = Array.from({ length: 7 }, (_, index) => `page-${String(index).padStart(2, '0')}`);

  beforeAll(async () => {
    for (const id of ids) {
      const response = await admin('/clients', { method: 'POST', body: JSON.stringify({ client_id: id }) });
      expect(response.status).toBe(201);
    }
  });

  async function listIds(query: string): Promise<string[]> {
    const response = await admin(`/clients${query}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { clients: { client_id: string }[] }).clients.map((client) => client.client_id);
  }

  it('pages of `limit` clients in client_id order, each `after` continuing where the last ended, none repeated or skipped', async () => {
    const everything = await listIds('?limit=1000');
    expect(everything.filter((id) => id.startsWith('page-'))).toEqual(ids);
    expect(everything).toEqual([...everything].sort());

    const pages: string[][] = [];
    let after: string | undefined;
    for (let round = 0; round <= everything.length; round++) {
      const page = await listIds(`?limit=3${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`);
      pages.push(page);
      if (page.length < 3) break;
      after = page.at(-1);
    }
    expect(pages.every((page) => page.length <= 3)).toBe(true);
    expect(pages.slice(0, -1).every((page) => page.length === 3)).toBe(true);
    expect(pages.at(-1)!.length).toBeLessThan(3);
    expect(pages.flat()).toEqual(everything);
    expect(new Set(pages.flat()).size).toBe(pages.flat().length);
  });

  it('`after` starts strictly after the client it names, and after the last client the page is empty', async () => {
    expect(await listIds('?after=page-02&limit=2')).toEqual(['page-03', 'page-04']);
    const everything = await listIds('?limit=1000');
    expect(await listIds(`?after=${encodeURIComponent(everything.at(-1)!)}`)).toEqual([]);
  });

  it.each([
    ['2.9', 2],
    ['-5', 1],
    ['0', 1],
    ['-0', 1],
    ['abc', 7],
    ['', 7],
    ['%20', 7],
    ['%09', 7],
    ['%C2%A0', 7],
  ])(
    'brings limit=%j into 1..1000 (0 is 1, as -5 is; empty, blank or not a number: the default 100) instead of refusing it',
    async (limit, expected) => {
      // Clients made by later tests sort after these; only this block's are compared.
      const page = await listIds(`?after=page-&limit=${limit}`);
      expect(page.filter((id) => id.startsWith('page-'))).toEqual(ids.slice(0, expected));
      expect(page.length).toBeLessThanOrEqual(expected === 7 ? 100 : expected);
    },
  );
});

describe('keys', () => {
  it('GET /keys lists one active and one next key, public facts only', async () => {
    const body = (await (await admin('/keys')).json()) as { keys: Record<string, unknown>[] };
    expect(body.keys.map((key) => key.state).sort()).toEqual(['active', 'next']);
    for (const key of body.keys) {
      expect(Object.keys(key).sort()).toEqual(expect.arrayContaining(['alg', 'created_at', 'kid', 'state']));
      expect(JSON.stringify(key)).not.toMatch(/sealed|private|"d"/);
    }
  });

  it('POST /keys/rotate?immediate=true rotates: exactly one active key, the old one retired', async () => {
    const before = (await (await admin('/keys')).json()) as { keys: { kid: string; state: string }[] };
    const oldActive = before.keys.find((key) => key.state === 'active')!.kid;
    const response = await admin('/keys/rotate?immediate=true', { method: 'POST' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      rotated: boolean;
      active_kid: string;
      keys: { kid: string; state: string }[];
    };
    expect(body.rotated).toBe(true);
    expect(body.keys.filter((key) => key.state === 'active').map((key) => key.kid)).toEqual([body.active_kid]);
    expect(body.keys.find((key) => key.kid === oldActive)?.state).toBe('retired');
  });

  it('POST /keys/rotate without immediate waits for pre-publication and says so', async () => {
    const body = (await (await admin('/keys/rotate', { method: 'POST' })).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ rotated: false, reason: 'not-pre-published' });
  });

  it('GET /keys shows a retired key with remove_after, an ISO date later than its retired_at', async () => {
    expect((await admin('/keys/rotate?immediate=true', { method: 'POST' })).status).toBe(200);
    const body = (await (await admin('/keys')).json()) as { keys: Record<string, unknown>[] };
    const retired = body.keys.filter((key) => key.state === 'retired');
    expect(retired.length).toBeGreaterThanOrEqual(1);
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
    for (const key of retired) {
      expect(key.retired_at).toMatch(iso);
      expect(key.remove_after).toMatch(iso);
      const removeAfter = String(key.remove_after);
      expect(new Date(removeAfter).toISOString()).toBe(removeAfter);
      expect(Date.parse(removeAfter)).toBeGreaterThan(Date.parse(String(key.retired_at)));
    }
  });
});

describe('metrics', () => {
  it('counts requests by endpoint and outcome, latency, secret checks, storage errors and key ages', async () => {
    await admin('/clients', { method: 'POST', body: JSON.stringify({ client_id: 'metered' }) }).then(
      async (response) => {
        const secret = String(((await response.json()) as Record<string, unknown>).client_secret);
        expect((await requestToken(server.publicUrl, 'metered', secret)).status).toBe(200);
        expect((await requestToken(server.publicUrl, 'metered', 'wrong-secret')).status).toBe(401);
      },
    );
    const response = await admin('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    expect(
      value(/^tessera_http_requests_total\{listener="public",endpoint="token",outcome="success"\} (\d+)$/m),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(/^tessera_http_requests_total\{listener="public",endpoint="token",outcome="invalid_client"\} (\d+)$/m),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(
      /^tessera_http_request_duration_seconds_bucket\{le="\+Inf",listener="public",endpoint="token",outcome="success"\} \d+$/m,
    );
    expect(value(/^tessera_secret_verifications_total\{result="match"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^tessera_secret_verifications_total\{result="mismatch"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^# TYPE tessera_storage_errors_total counter$/m);
    expect(text).toMatch(/^tessera_signing_key_age_seconds\{kid="[\w-]{43}",alg="RS256",state="active"\} [\d.]+$/m);
    expect(text).toMatch(/^tessera_signing_key_age_seconds\{kid="[\w-]{43}",alg="RS256",state="retired"\} [\d.]+$/m);
  });
});

/** A TCP port that was free a moment ago on 127.0.0.1. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** The error code of a TCP connection attempt to 127.0.0.1:port, or 'connected'. */
function connectError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('POST /keys/rotate when the next key cannot be opened', () => {
  it('answers 409 conflict naming the key, and changes nothing', async () => {
    const running = await startMemoryServer({ TESSERA_ADMIN_TOKEN: 'a'.repeat(32) });
    try {
      // Another instance, given another key-encryption key, put the next key.
      const [next] = (await running.storage.listSigningKeys()).filter((key) => key.state === 'next');
      const foreign = await generateSigningKey(next!.alg as SigningAlgorithm);
      const pem = foreign.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      await running.storage.deleteSigningKey(next!.kid);
      await running.storage.createSigningKey({
        ...next!,
        kid: foreign.kid,
        publicJwk: foreign.publicJwk,
        sealedPrivateKey: createKeySealer(generateKeyEncryptionKey()).seal(pem, foreign.kid),
      });
      const before = await running.storage.listSigningKeys();
      const response = await fetch(`${running.admin!.url}/keys/rotate?immediate=true`, {
        method: 'POST',
        headers: { authorization: `Bearer ${'a'.repeat(32)}` },
      });
      expect(response.status).toBe(409);
      const body = (await response.json()) as { error: string; error_description: string };
      expect(body.error).toBe('conflict');
      expect(body.error_description).toContain(foreign.kid);
      expect(await running.storage.listSigningKeys()).toStrictEqual(before);
    } finally {
      await running.close();
    }
  });
});
