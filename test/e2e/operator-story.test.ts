// The operator's story, with nothing but the `tessera` binary: migrate → register a client → get a
// token → introspect → revoke → rotate keys → tokens signed before the rotation still verify until they expire.

import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, errors as joseErrors } from 'jose';
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
let server: ServerProcess | undefined;

beforeAll(() => {
  workspace = createWorkspace();
});
afterAll(async () => {
  await server?.stop('SIGKILL');
  workspace.remove();
});

const run = (args: readonly string[], options?: Parameters<typeof runTessera>[2]) =>
  runTessera(workspace, args, options);

describe('operator story', () => {
  let secret = '';
  let issuer = '';
  const credentials = () => ['--issuer', issuer, '--client-id', 'billing', '--client-secret', secret];

  it('migrates a new database', async () => {
    const result = await run(['migrate']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^applied migration 1: /m);
  });

  it('registers a client and starts the server on the same database', async () => {
    const created = await run([
      'clients',
      'create',
      '--client-id',
      'billing',
      '--grant-types',
      'client_credentials',
      '--scope',
      'invoices:read invoices:write',
      '--json',
    ]);
    expect(created.code).toBe(0);
    secret = String(parseJson(created).client_secret);
    server = await startTessera(workspace);
    issuer = server.publicUrl.replace('127.0.0.1', 'localhost');
  });

  let firstToken = '';
  it('gets a token with `tessera token` and shows its claims', async () => {
    const result = await run(['token', ...credentials(), '--scope', 'invoices:read', '--json']);
    expect(result.code).toBe(0);
    const body = parseJson<{
      access_token: string;
      token_type: string;
      scope: string;
      claims: Record<string, unknown>;
    }>(result);
    expect(body).toMatchObject({ token_type: 'bearer', scope: 'invoices:read' });
    expect(body.claims).toMatchObject({ client_id: 'billing', sub: 'billing', scope: 'invoices:read', iss: issuer });
    firstToken = body.access_token;

    const human = await run(['token', ...credentials()]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^token_type\s+bearer$/m);
    expect(human.stdout).toContain('claims (decoded, not verified):');
    expect(human.stdout).toMatch(/^client_id\s+billing$/m);
  });

  it('introspects the token as active', async () => {
    const result = await run(['introspect', ...credentials(), firstToken, '--json']);
    expect(result.code).toBe(0);
    expect(parseJson(result)).toMatchObject({
      active: true,
      client_id: 'billing',
      scope: 'invoices:read',
      iss: issuer,
    });
  });

  it('revokes the token, after which it introspects as inactive', async () => {
    const revoked = await run(['revoke', ...credentials(), firstToken, '--json']);
    expect(revoked.code).toBe(0);
    expect(parseJson(revoked)).toEqual({ revoked: true });
    const result = await run(['introspect', ...credentials(), '-', '--json'], { input: `${firstToken}\n` });
    expect(parseJson(result)).toEqual({ active: false });
  });

  it('rotates keys; tokens signed before still verify until they expire', async () => {
    const before = parseJson<{ access_token: string; claims: { exp: number } }>(
      await run(['token', ...credentials(), '--json']),
    );
    const oldKid = decodeProtectedHeader(before.access_token).kid;

    const listed = parseJson<{ keys: { kid: string; state: string }[] }>(await run(['keys', 'list', '--json']));
    expect(listed.keys.find((key) => key.state === 'active')?.kid).toBe(oldKid);

    const rotated = await run(['keys', 'rotate', '--immediate', '--json']);
    expect(rotated.code).toBe(0);
    const rotation = parseJson<{ rotated: boolean; active_kid: string; keys: { kid: string; state: string }[] }>(
      rotated,
    );
    expect(rotation.rotated).toBe(true);
    expect(rotation.active_kid).not.toBe(oldKid);
    expect(rotation.keys.filter((key) => key.state === 'active')).toHaveLength(1);
    expect(rotation.keys.find((key) => key.kid === oldKid)?.state).toBe('retired');

    // The server hears of the CLI's change through the store; new tokens then carry the new kid.
    let newKid: string | undefined;
    for (let attempt = 0; attempt < 60 && newKid !== rotation.active_kid; attempt++) {
      const fresh = parseJson<{ access_token: string }>(await run(['token', ...credentials(), '--json']));
      newKid = decodeProtectedHeader(fresh.access_token).kid;
    }
    expect(newKid).toBe(rotation.active_kid);

    const jwks = createLocalJWKSet(await (await fetch(`${server!.publicUrl}/.well-known/jwks.json`)).json());
    const verified = await jwtVerify(before.access_token, jwks, { issuer, typ: 'at+jwt' });
    expect(verified.protectedHeader.kid).toBe(oldKid);
    const introspected = await run(['introspect', ...credentials(), before.access_token, '--json']);
    expect(parseJson(introspected)).toMatchObject({ active: true });

    const afterExpiry = new Date((before.claims.exp + 1) * 1000);
    await expect(jwtVerify(before.access_token, jwks, { issuer, currentDate: afterExpiry })).rejects.toBeInstanceOf(
      joseErrors.JWTExpired,
    );
  });

  it('stops on SIGTERM with exit 0', async () => {
    expect(await server!.stop('SIGTERM')).toBe(0);
    expect(server!.output()).toContain('"msg":"stopped"');
  });
});
