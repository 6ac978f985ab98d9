// `tessera migrate` and `tessera clients …` against a SQLite file, through the real binary.

import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/core/index.js';
import { bcryptHasher } from '../../src/secrets/index.js';
import { createSqliteStore } from '../../src/storage/sqlite/index.js';
import { createWorkspace, parseJson, runTessera, type Workspace } from './support/tessera-process.js';

let workspace: Workspace;
const run = (args: readonly string[], options?: Parameters<typeof runTessera>[2]) =>
  runTessera(workspace, args, options);

beforeAll(() => {
  workspace = createWorkspace();
});
afterAll(() => workspace.remove());

describe('tessera migrate', () => {
  it('applies each migration with a line per step, then reports the database up to date', async () => {
    const first = await run(['migrate']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^applied migration 1: /m);
    expect(first.stdout).toMatch(/^applied migration 2: /m);
    const second = await run(['migrate', '--json']);
    expect(second.code).toBe(0);
    expect(parseJson(second)).toMatchObject({ database: 'sqlite', applied: [], from_version: 2, to_version: 2 });
    expect(readdirSync(join(workspace.dir, 'data'))).toContain('tessera.db');
  });
});

describe('tessera clients', () => {
  let secret: string;

  it('creates a client with RFC 7591 metadata and prints its generated secret once', async () => {
    const result = await run([
      'clients',
      'create',
      '--client-id',
      'svc',
      '--grant-types',
      'client_credentials',
      '--scope',
      'read write',
      '--audience',
      'https://api.example',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const body = parseJson(result);
    expect(body).toMatchObject({
      client_id: 'svc',
      grant_types: ['client_credentials'],
      scope: 'read write',
      token_endpoint_auth_method: 'client_secret_basic',
      audience: ['https://api.example'],
      client_secret_expires_at: 0,
    });
    secret = String(body.client_secret);
    expect(secret.length).toBeGreaterThanOrEqual(43);
  });

  it('stores the secret only as a hash: the database files never contain it', () => {
    const dir = join(workspace.dir, 'data');
    for (const file of readdirSync(dir)) {
      expect(readFileSync(join(dir, file)).includes(Buffer.from(secret)), file).toBe(false);
    }
  });

  it('never shows the secret again: show prints metadata only', async () => {
    const result = await run(['clients', 'show', 'svc', '--json']);
    expect(result.code).toBe(0);
    const body = parseJson(result);
    expect(body.client_id).toBe('svc');
    expect(body).not.toHaveProperty('client_secret');
    expect(result.stdout).not.toContain(secret);
    const human = await run(['clients', 'show', 'svc']);
    expect(human.stdout).toMatch(/^client_id\s+svc$/m);
  });

  it('exits 4 when the client id is taken', async () => {
    const result = await run(['clients', 'create', '--client-id', 'svc', '--json']);
    expect(result.code).toBe(4);
    expect(parseJson(result)).toMatchObject({ error: 'conflict' });
  });

  it('takes a secret from stdin and does not echo it', async () => {
    const result = await run(
      [
        'clients',
        'create',
        '--client-id',
        'piped',
        '--secret-stdin',
        '--token-endpoint-auth-method',
        'client_secret_post',
        '--json',
      ],
      {
        input: 'a-secret-from-stdin-0123\n',
      },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('a-secret-from-stdin-0123');
    expect(parseJson(result)).toMatchObject({ client_id: 'piped', token_endpoint_auth_method: 'client_secret_post' });
  });

  it('RFC 7591 §2 sets token_endpoint_auth_signing_alg by flag, checks it against jwks, and update --metadata null removes it', async () => {
    const jwks = JSON.stringify({
      keys: [
        {
          kty: 'EC',
          crv: 'P-256',
          x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
          y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
        },
      ],
    });
    const create = (alg: string) =>
      run([
        'clients',
        'create',
        '--client-id',
        'jwt-alg',
        '--token-endpoint-auth-method',
        'private_key_jwt',
        '--jwks',
        jwks,
        '--token-endpoint-auth-signing-alg',
        alg,
        '--json',
      ]);
    const mismatch = await create('PS256');
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain('token_endpoint_auth_signing_alg is PS256, which no key in jwks can sign with');
    const unknown = await create('HS256');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--token-endpoint-auth-signing-alg.*HS256/);
    const created = await create('ES256');
    expect(created.code).toBe(0);
    expect(parseJson(created)).toMatchObject({ token_endpoint_auth_signing_alg: 'ES256' });
    // A change of jwks is checked against the stored algorithm.
    const rsaOnly = JSON.stringify({ keys: [{ kty: 'RSA', e: 'AQAB', n: 'x'.repeat(342) }] });
    const rsaUpdate = await run(['clients', 'update', 'jwt-alg', '--jwks', rsaOnly]);
    expect(rsaUpdate.code).toBe(2);
    expect(rsaUpdate.stderr).toContain('token_endpoint_auth_signing_alg is ES256, which no key in jwks can sign with');
    const removed = await run([
      'clients',
      'update',
      'jwt-alg',
      '--metadata',
      '{"token_endpoint_auth_signing_alg":null}',
      '--json',
    ]);
    expect(removed.code).toBe(0);
    expect(parseJson(removed)).not.toHaveProperty('token_endpoint_auth_signing_alg');
    expect((await run(['clients', 'delete', 'jwt-alg'])).code).toBe(0);
  });

  it('accepts jwks inline or from a file, and refuses private_key_jwt without one (exit 2)', async () => {
    const jwks = {
      keys: [
        {
          kty: 'EC',
          crv: 'P-256',
          x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
          y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
        },
      ],
    };
    const inline = await run([
      'clients',
      'create',
      '--client-id',
      'jwt-inline',
      '--token-endpoint-auth-method',
      'private_key_jwt',
      '--jwks',
      JSON.stringify(jwks),
      '--json',
    ]);
    expect(inline.code).toBe(0);
    expect(parseJson(inline)).toMatchObject({ jwks, token_endpoint_auth_method: 'private_key_jwt' });
    expect(parseJson(inline)).not.toHaveProperty('client_secret');
    writeFileSync(join(workspace.dir, 'jwks.json'), JSON.stringify(jwks));
    const fromFile = await run([
      'clients',
      'create',
      '--client-id',
      'jwt-file',
      '--token-endpoint-auth-method',
      'private_key_jwt',
      '--jwks',
      'jwks.json',
      '--json',
    ]);
    expect(parseJson(fromFile)).toMatchObject({ jwks });
    const missing = await run([
      'clients',
      'create',
      '--client-id',
      'jwt-none',
      '--token-endpoint-auth-method',
      'private_key_jwt',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('private_key_jwt needs jwks');
  });

  it.each([
    ['an unsupported grant type', ['--grant-types', 'password'], 'grant_types'],
    ['a public client with client_credentials', ['--token-endpoint-auth-method', 'none'], 'public client'],
    [
      'a secret jwks member',
      ['--token-endpoint-auth-method', 'private_key_jwt', '--jwks', '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}'],
      'public keys only',
    ],
    ['jwks that is not JSON', ['--jwks', '{nope'], 'not valid JSON'],
    [
      'a JWK Set without keys',
      ['--token-endpoint-auth-method', 'private_key_jwt', '--jwks', '{"keys":[]}'],
      'jwks must hold at least one key',
    ],
    ['contacts that is a string (RFC 7591 §2)', ['--metadata', '{"contacts":"ops@example.com"}'], 'contacts must be'],
    ['a client_uri that is a number (RFC 7591 §2)', ['--metadata', '{"client_uri":42}'], 'client_uri must be'],
    ['the client id ".."', ['--client-id', '..'], 'client_id cannot be "." or ".."'],
    [
      '--metadata naming a member twice (RFC 8259 §4)',
      ['--metadata', '{"scope":"a","scope":"b"}'],
      'names "scope" twice',
    ],
    ['--jwks naming a member twice (RFC 8259 §4)', ['--jwks', '{"keys":[],"keys":[]}'], 'names "keys" twice'],
    [
      'a client_secret in --metadata, which would otherwise be dropped for a generated one',
      ['--metadata', '{"client_secret":"my-chosen-secret"}'],
      'client_secret cannot be given here; pass it on stdin with --secret-stdin',
    ],
    [
      'a scope holding a no-break space (RFC 6749 §3.3), as the admin API refuses it',
      ['--scope', 'read\u00a0write'],
      'scope must be space-separated scope tokens',
    ],
  ])('refuses %s with exit 2 and a message', async (_title, flags, message) => {
    const result = await run(['clients', 'create', '--client-id', 'bad', ...flags]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it.each([
    ['an inline array', '[1]'],
    ['inline null', 'null'],
    ['an inline number', '42'],
    ['an inline string', '"client"'],
    ['a file holding an array', 'array.json'],
    ['a file holding null', 'null.json'],
  ])('refuses --metadata that is %s with exit 2: it must be a JSON object', async (_title, value) => {
    writeFileSync(join(workspace.dir, 'array.json'), '[1]');
    writeFileSync(join(workspace.dir, 'null.json'), 'null');
    for (const command of [
      ['clients', 'create', '--client-id', 'not-an-object'],
      ['clients', 'update', 'svc'],
    ]) {
      const result = await run([...command, '--metadata', value]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--metadata: must be a JSON object');
    }
    expect((await run(['clients', 'show', 'not-an-object'])).code).toBe(3);
  });

  it('RFC 8259 §8.1 refuses a --metadata file that is not UTF-8 with exit 2, storing nothing', async () => {
    writeFileSync(join(workspace.dir, 'latin1.json'), Buffer.from('{"client_name":"caf\xe9"}', 'latin1'));
    const result = await run(['clients', 'create', '--client-id', 'latin-1', '--metadata', 'latin1.json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--metadata: latin1.json is not valid UTF-8');
    expect((await run(['clients', 'show', 'latin-1'])).code).toBe(3);
  });

  it('RFC 7591 §2 ignores a --metadata member named __proto__ as unknown metadata, as the admin API does, not as fields to inherit', async () => {
    const metadata = '{"__proto__":{"client_name":"inherited","scope":"admin"},"software_id":"kept"}';
    const created = await run(['clients', 'create', '--client-id', 'proto-member', '--metadata', metadata, '--json']);
    expect(created.code).toBe(0);
    const shown = parseJson(await run(['clients', 'show', 'proto-member', '--json']));
    expect(shown).toMatchObject({ client_id: 'proto-member', scope: '', software_id: 'kept' });
    expect(shown).not.toHaveProperty('client_name');
    const updated = await run(['clients', 'update', 'proto-member', '--metadata', metadata, '--json']);
    expect(updated.code).toBe(0);
    expect(parseJson(updated)).toMatchObject({ scope: '', software_id: 'kept' });
    expect(parseJson(updated)).not.toHaveProperty('client_name');
    // The listing below counts this workspace's clients.
    expect((await run(['clients', 'delete', 'proto-member'])).code).toBe(0);
  });

  it('registers a client that may introspect any token with --introspection (or in --metadata), and update turns it off', async () => {
    const created = await run(['clients', 'create', '--client-id', 'resource-api', '--introspection', '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(parseJson(created)).toMatchObject({ introspection: true });
    const fromMetadata = await run([
      'clients',
      'create',
      '--client-id',
      'resource-api-2',
      '--metadata',
      '{"introspection":true}',
      '--json',
    ]);
    expect(parseJson(fromMetadata)).toMatchObject({ introspection: true });
    const off = await run(['clients', 'update', 'resource-api', '--no-introspection', '--json']);
    expect(parseJson(off)).toMatchObject({ introspection: false });
    const narrowed = await run([
      'clients',
      'update',
      'resource-api',
      '--introspection-audience',
      'https://api.example,https://api2.example',
      '--json',
    ]);
    expect(parseJson(narrowed)).toMatchObject({ introspection: ['https://api.example', 'https://api2.example'] });
    for (const id of ['resource-api', 'resource-api-2']) expect((await run(['clients', 'delete', id])).code).toBe(0);
  });

  it.each([['0'], ['-1'], ['1.5'], ['99999999999999999999'], ['1000001']])(
    'refuses clients list --limit %s as a usage error (exit 2), before asking the store',
    async (limit) => {
      const result = await run(['clients', 'list', '--limit', limit]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--limit: must be a whole number from 1 to 1000000');
    },
  );

  it.each([['list'], ['show', 'svc']])(
    'clients %s on a mistyped SQLite path says there is no database (exit 2) and creates nothing',
    async (...command) => {
      const result = await run(['clients', ...command, '--database-url', 'sqlite:./typo/tessera.db']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('there is no SQLite database at ./typo/tessera.db');
      expect(existsSync(join(workspace.dir, 'typo'))).toBe(false);
    },
  );

  it('lists clients as a table and as JSON', async () => {
    const human = await run(['clients', 'list']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^CLIENT_ID\s+AUTH METHOD\s+GRANT TYPES\s+SCOPE\s+AUDIENCE$/m);
    expect(human.stdout).toMatch(
      /^svc\s+client_secret_basic\s+client_credentials\s+read write\s+https:\/\/api\.example$/m,
    );
    const json = parseJson<{ clients: { client_id: string }[] }>(await run(['clients', 'list', '--json']));
    expect(json.clients.map((client) => client.client_id)).toEqual(['jwt-file', 'jwt-inline', 'piped', 'svc']);
  });

  it('updates only the metadata named by flags', async () => {
    const result = await run(['clients', 'update', 'svc', '--scope', 'read', '--client-name', 'Billing', '--json']);
    expect(result.code).toBe(0);
    expect(parseJson(result)).toMatchObject({
      client_id: 'svc',
      scope: 'read',
      audience: ['https://api.example'],
      client_name: 'Billing',
    });
  });

  it('rotates a secret: a new one is printed once', async () => {
    const result = await run(['clients', 'rotate-secret', 'svc', '--json']);
    expect(result.code).toBe(0);
    const rotated = String(parseJson(result).client_secret);
    expect(rotated).not.toBe(secret);
    expect(rotated.length).toBeGreaterThanOrEqual(43);
  });

  it.each([
    ['show', ['clients', 'show', 'ghost']],
    ['update', ['clients', 'update', 'ghost', '--scope', 'x']],
    ['rotate-secret', ['clients', 'rotate-secret', 'ghost']],
    ['delete', ['clients', 'delete', 'ghost']],
  ])('%s of an unknown client exits 3', async (_command, args) => {
    const result = await run([...args, '--json']);
    expect(result.code).toBe(3);
    expect(parseJson(result)).toMatchObject({ error: 'not_found' });
  });

  it('deletes a client, after which it is unknown', async () => {
    expect((await run(['clients', 'delete', 'piped'])).code).toBe(0);
    expect((await run(['clients', 'show', 'piped'])).code).toBe(3);
  });
});

describe('tessera clients update on a client stored through the library', () => {
  // Fields the CLI has no flag for, metadata entries it does not understand and a field unknown to
  // this version: an update must hand all of them back untouched.
  const seed = async (id: string): Promise<Client> => {
    const client = {
      id,
      secretHash: await bcryptHasher({ cost: 4 }).hash('library-made-secret'),
      grantTypes: ['client_credentials'],
      scopes: ['a'],
      defaultScopes: ['a'],
      audience: ['https://api.example'],
      tokenEndpointAuthMethod: 'client_secret_post',
      metadata: { tenant: 't1', client_name: 'Library made' },
      createdAt: 1_600_000_000_123,
      secretUpdatedAt: 1_600_000_000_456,
      owner: { team: 'payments' },
    } as Client;
    const store = createSqliteStore({ filename: join(workspace.dir, 'data', 'tessera.db') });
    try {
      await store.createClient(client);
      expect(await store.getClient(id)).toStrictEqual(client);
      return client;
    } finally {
      await store.close();
    }
  };
  const stored = async (id: string): Promise<Client | undefined> => {
    const store = createSqliteStore({ filename: join(workspace.dir, 'data', 'tessera.db') });
    try {
      return await store.getClient(id);
    } finally {
      await store.close();
    }
  };

  it('changes only the scope when only --scope is given', async () => {
    const before = await seed('library-scope');
    const result = await run(['clients', 'update', 'library-scope', '--scope', 'a b c', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(await stored('library-scope')).toStrictEqual({ ...before, scopes: ['a', 'b', 'c'] });
    expect(parseJson(result)).toMatchObject({ scope: 'a b c', token_endpoint_auth_method: 'client_secret_post' });
  });

  it('splits --audience and --introspection-audience at ASCII spaces, tabs and commas only: a no-break space stays inside its value, as the admin API keeps it', async () => {
    const before = await seed('library-audience');
    const result = await run([
      'clients',
      'update',
      'library-audience',
      '--audience',
      'api\u00a0one,https://b.example\tc  d',
      '--introspection-audience',
      'api\u3000two',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(await stored('library-audience')).toStrictEqual({
      ...before,
      audience: ['api\u00a0one', 'https://b.example', 'c', 'd'],
      metadata: { ...before.metadata, introspection: ['api\u3000two'] },
    });
  });

  it('refuses a client_secret in update --metadata with exit 2 and changes nothing', async () => {
    const before = await seed('library-secret');
    const result = await run([
      'clients',
      'update',
      'library-secret',
      '--metadata',
      '{"client_secret":"brand-new-secret"}',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--secret-stdin');
    expect(result.stderr).not.toContain('brand-new-secret');
    expect(await stored('library-secret')).toStrictEqual(before);
  });

  it('changes one metadata entry and keeps the others when only --client-name is given', async () => {
    const before = await seed('library-name');
    const result = await run(['clients', 'update', 'library-name', '--client-name', 'Renamed', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(await stored('library-name')).toStrictEqual({
      ...before,
      metadata: { tenant: 't1', client_name: 'Renamed' },
    });
  });

  it('changes nothing when no flag is given', async () => {
    const before = await seed('library-none');
    expect((await run(['clients', 'update', 'library-none', '--json'])).code).toBe(0);
    expect(await stored('library-none')).toStrictEqual(before);
  });

  it('drops the secret, and only the secret, when the client moves to private_key_jwt', async () => {
    const before = await seed('library-jwt');
    const jwks = {
      keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }],
    };
    const result = await run([
      'clients',
      'update',
      'library-jwt',
      '--token-endpoint-auth-method',
      'private_key_jwt',
      '--jwks',
      JSON.stringify(jwks),
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const { secretHash: _hash, secretUpdatedAt: _updated, ...kept } = before;
    expect(await stored('library-jwt')).toStrictEqual({ ...kept, tokenEndpointAuthMethod: 'private_key_jwt', jwks });

    const back = await run([
      'clients',
      'update',
      'library-jwt',
      '--token-endpoint-auth-method',
      'client_secret_post',
      '--bcrypt-cost',
      '4',
    ]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toContain('The client secret is shown only this once');
    const secret = /^client_secret\s+(\S+)$/m.exec(back.stdout)?.[1];
    const after = await stored('library-jwt');
    expect(after).toMatchObject({ ...kept, tokenEndpointAuthMethod: 'client_secret_post', jwks });
    expect(await bcryptHasher({ cost: 4 }).verify(secret!, after!.secretHash!)).toBe(true);
  });

  const newSecret = 'a-new-secret-from-stdin-42';
  const shows = (result: { stdout: string; stderr: string }, text: string) =>
    result.stdout.includes(text) || result.stderr.includes(text);

  it.each([[[]], [['--json']]])(
    'update --secret-stdin sets the secret read from stdin with the metadata change, stored only as a bcrypt hash and never echoed (%j)',
    async (flags) => {
      const id = `library-stdin${flags.join('')}`;
      const before = await seed(id);
      const result = await run(['clients', 'update', id, '--scope', 'a b', '--secret-stdin', ...flags], {
        input: `${newSecret}\n`,
      });
      expect(result.code, result.stderr).toBe(0);
      expect(shows(result, newSecret)).toBe(false);
      expect(result.stdout).not.toMatch(/^\s*"?client_secret"?[\s:]/m);
      expect(result.stderr).not.toContain('shown only this once');
      const after = await stored(id);
      const { secretHash: _hash, secretUpdatedAt: _updated, ...kept } = before;
      expect(after).toMatchObject({ ...kept, scopes: ['a', 'b'] });
      expect(after!.secretHash).toMatch(/^\$2[aby]\$04\$/);
      expect(after!.secretUpdatedAt).toBeGreaterThan(before.secretUpdatedAt!);
      const hasher = bcryptHasher({ cost: 4 });
      expect(await hasher.verify(newSecret, after!.secretHash!)).toBe(true);
      expect(await hasher.verify('library-made-secret', after!.secretHash!)).toBe(false);
      const dir = join(workspace.dir, 'data');
      for (const file of readdirSync(dir)) {
        expect(readFileSync(join(dir, file)).includes(Buffer.from(newSecret)), file).toBe(false);
      }
    },
  );

  it('update --secret-stdin gives a private_key_jwt client moved to a secret-based method that secret, not a generated one', async () => {
    const jwks = {
      keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }],
    };
    await seed('library-stdin-jwt');
    const toJwt = [
      'clients',
      'update',
      'library-stdin-jwt',
      '--token-endpoint-auth-method',
      'private_key_jwt',
      '--jwks',
      JSON.stringify(jwks),
    ];
    expect((await run(toJwt)).code).toBe(0);
    const back = await run([
      'clients',
      'update',
      'library-stdin-jwt',
      '--token-endpoint-auth-method',
      'client_secret_basic',
      '--json',
    ]);
    // Without --secret-stdin a secret is generated and printed once; with it, the given one is set.
    expect(parseJson(back)).toHaveProperty('client_secret');
    expect((await run(toJwt)).code).toBe(0);
    const result = await run(
      [
        'clients',
        'update',
        'library-stdin-jwt',
        '--token-endpoint-auth-method',
        'client_secret_basic',
        '--secret-stdin',
        '--json',
      ],
      { input: newSecret },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(parseJson(result)).not.toHaveProperty('client_secret');
    expect(shows(result, newSecret)).toBe(false);
    const after = await stored('library-stdin-jwt');
    expect(after?.tokenEndpointAuthMethod).toBe('client_secret_basic');
    expect(await bcryptHasher({ cost: 4 }).verify(newSecret, after!.secretHash!)).toBe(true);
  });

  it.each([
    [
      'a client that stays private_key_jwt',
      'library-stdin-nojwt',
      ['--token-endpoint-auth-method', 'private_key_jwt', '--jwks', '<jwks>'],
      newSecret,
      'a private_key_jwt client has no secret',
    ],
    ['a secret shorter than 8 bytes', 'library-stdin-short', ['--scope', 'a b'], 'short', '8 to 72 bytes long'],
    ['an empty stdin', 'library-stdin-empty', ['--scope', 'a b'], '', '8 to 72 bytes long'],
    [
      'a secret that is not printable ASCII',
      'library-stdin-ascii',
      ['--scope', 'a b'],
      'caf\u00e9-secret-1',
      'printable ASCII',
    ],
  ])(
    'update --secret-stdin refuses %s with exit 2, changing nothing and showing no secret',
    async (_title, id, flags, input, message) => {
      const jwks = {
        keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }],
      };
      await seed(id);
      const args = flags.map((flag) => (flag === '<jwks>' ? JSON.stringify(jwks) : flag));
      if (args.includes('private_key_jwt')) expect((await run(['clients', 'update', id, ...args])).code).toBe(0);
      const before = await stored(id);
      const result = await run(['clients', 'update', id, ...args, '--secret-stdin', '--json'], { input });
      expect(result.code).toBe(2);
      expect(parseJson(result)).toMatchObject({ error: 'invalid_client_metadata' });
      expect(result.stderr).toContain(message);
      if (input !== '') expect(shows(result, input)).toBe(false);
      expect(await stored(id)).toStrictEqual(before);
    },
  );
});

describe('usage errors', () => {
  it.each([
    ['an unknown flag', ['clients', 'create', '--bogus']],
    ['an unknown command', ['clients', 'frobnicate']],
    ['a missing argument', ['clients', 'show']],
    ['a bad choice', ['clients', 'create', '--token-endpoint-auth-method', 'magic']],
  ])('exits 2 on %s', async (_title, args) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/error|--help/);
  });

  it('answers --help on every command with exit 0', async () => {
    const commands = [
      [],
      ['serve'],
      ['migrate'],
      ['clients'],
      ['clients', 'create'],
      ['clients', 'list'],
      ['clients', 'show'],
      ['clients', 'update'],
      ['clients', 'delete'],
      ['clients', 'rotate-secret'],
      ['keys'],
      ['keys', 'list'],
      ['keys', 'rotate'],
      ['token'],
      ['introspect'],
      ['revoke'],
    ];
    const results = await Promise.all(commands.map((args) => run([...args, '--help'])));
    for (const [index, result] of results.entries()) {
      const name = commands[index]!.join(' ');
      expect(result.code, name).toBe(0);
      expect(result.stdout, name).toMatch(new RegExp(`^Usage: tessera${name ? ` ${name}` : ''} `, 'm'));
    }
  });

  it('names metadata defaults in the help of clients create only: on update a flag left out keeps the stored value', async () => {
    const [create, update] = await Promise.all([
      run(['clients', 'create', '--help']),
      run(['clients', 'update', '--help']),
    ]);
    expect(create.stdout).toContain('(default client_secret_basic)');
    expect(create.stdout).toContain('(default client_credentials)');
    expect(update.stdout).toContain('--token-endpoint-auth-method');
    expect(update.stdout).not.toContain('(default');
  });
});

describe('configuration errors', () => {
  it('exits 2 when the configuration file is missing', async () => {
    const result = await run(['--config', 'missing.yaml', 'clients', 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cannot read configuration file missing.yaml: ENOENT');
  });

  it('exits 2 on a file that is not YAML', async () => {
    writeFileSync(join(workspace.dir, 'broken.yaml'), 'server: [port: 8080\n');
    const result = await run(['--config', 'broken.yaml', 'clients', 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('broken.yaml is not valid YAML');
  });

  it('exits 2 on a file that is not UTF-8 (YAML 1.2 §5.2), rather than reading U+FFFD into a value', async () => {
    writeFileSync(join(workspace.dir, 'latin1.yaml'), Buffer.from('issuer: "https://caf\xe9.example"\n', 'latin1'));
    const result = await run(['--config', 'latin1.yaml', 'clients', 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('configuration file latin1.yaml is not valid UTF-8');
  });

  it('names an unknown key and the keys known there', async () => {
    writeFileSync(join(workspace.dir, 'typo.yaml'), 'server:\n  prot: 8080\n');
    const result = await run(['--config', 'typo.yaml', 'clients', 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/server\.prot: unknown setting \(known here: .*port/);
  });

  it('names the key, its source, the problem and the expected form of a bad value', async () => {
    writeFileSync(join(workspace.dir, 'bad.yaml'), 'server:\n  port: 99999\n');
    const fromFile = await run(['--config', 'bad.yaml', 'clients', 'list']);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toContain(
      'server.port in bad.yaml: must be a whole-number TCP port from 0 to 65535 (got 99999)',
    );
    const fromEnv = await run(['clients', 'list'], { env: { TESSERA_BCRYPT_COST: 'lots' } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain(
      'secrets.bcryptCost from environment variable TESSERA_BCRYPT_COST: must be a whole number from 4 to 15 (got "lots")',
    );
  });

  it('never echoes a secret setting in an error', async () => {
    const result = await run(['clients', 'list'], { env: { TESSERA_KEY_ENCRYPTION_KEY: 'short-and-secret' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('keys.encryptionKey from environment variable TESSERA_KEY_ENCRYPTION_KEY');
    expect(result.stderr).not.toContain('short-and-secret');
  });
});

describe('clients show with a client_name that could reorder the terminal', () => {
  it('shows bidirectional controls, marks and Unicode line separators as \\u escapes, not raw', async () => {
    const name = 'Billing\u202eevil\u202c \u2066x\u2069 \u200fy \u2028z';
    const created = await run(['clients', 'create', '--client-id', 'bidi-name', '--client-name', name, '--json']);
    expect(created.code).toBe(0);
    try {
      const shown = await run(['clients', 'show', 'bidi-name']);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain('Billing\\u202eevil\\u202c \\u2066x\\u2069 \\u200fy \\u2028z');
      expect(shown.stdout).not.toMatch(/[\u200e\u200f\u2028-\u202e\u2066-\u2069]/);
      // What --json prints is data, not a table: it keeps the name as stored.
      expect(
        parseJson<{ client_name: string }>(await run(['clients', 'show', 'bidi-name', '--json'])).client_name,
      ).toBe(name);
    } finally {
      await run(['clients', 'delete', 'bidi-name']);
    }
  });
});
