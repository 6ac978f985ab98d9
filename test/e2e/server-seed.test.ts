// `npm start` (the seed scenario) keeps its data in SQLite under its data folder, creates
// test-client only when that database is new, and shares the database with the `tessera` CLI.

import { decodeJwt } from 'jose';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, runTessera, type Workspace } from './support/tessera-process.js';

const main = fileURLToPath(new URL('../../examples/client-credentials/main.ts', import.meta.url));
// The seed runs in a temporary folder, where a bare `--import tsx` would not resolve.
const tsxLoader = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
let workspace: Workspace;
let child: ChildProcess | undefined;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function spawnSeed(port: number, extraEnv: Record<string, string> = {}): ChildProcess {
  const { TESSERA_KEY_ENCRYPTION_KEY: _kek, ...env } = workspace.env;
  return spawn(process.execPath, ['--import', tsxLoader, main], {
    cwd: workspace.dir,
    env: { ...env, PORT: String(port), HOST: '127.0.0.1', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the seed until it exits by itself, as it does when it cannot start. */
async function seedThatCannotStart(
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  const seed = spawnSeed(await freePort(), extraEnv);
  let stderr = '';
  seed.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(seed, 'exit')) as [number | null];
  return { code, stderr };
}

async function startSeed(): Promise<string> {
  const port = await freePort();
  child = spawnSeed(port);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child!.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`serving on 127.0.0.1:${port}`)) resolve();
    });
    child!.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child!.once('exit', (code) => reject(new Error(`seed exited with ${String(code)}: ${output}`)));
  });
  return `http://127.0.0.1:${port}`;
}

async function stopSeed(): Promise<void> {
  if (child && child.exitCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
  child = undefined;
}

/** The how-to's curl: client_secret_post with test-client / foobar. */
function curlToken(url: string): Promise<Response> {
  return fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&client_id=test-client&client_secret=foobar',
  });
}

beforeAll(() => {
  workspace = createWorkspace();
});
afterEach(stopSeed);
afterAll(() => workspace.remove());

describe('the seed scenario on SQLite', () => {
  let kids: string[] = [];

  it('creates ./data with the database and a generated key-encryption key, and serves test-client', async () => {
    const url = await startSeed();
    expect(existsSync(join(workspace.dir, 'data', 'tessera.db'))).toBe(true);
    expect(existsSync(join(workspace.dir, 'data', 'key-encryption-key'))).toBe(true);
    const response = await curlToken(url);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    expect(body).toMatchObject({ expires_in: 1800, scope: '', token_type: 'bearer' });
    kids = ((await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map(
      (key) => key.kid,
    );
  });

  it('keeps its signing keys across a restart', async () => {
    const url = await startSeed();
    const after = ((await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys;
    expect(after.map((key) => key.kid).sort()).toEqual([...kids].sort());
  });

  it('says in one line that the port is taken and exits 1, without a stack trace', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const seed = spawnSeed((taken.address() as AddressInfo).port);
      let stderr = '';
      seed.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(seed, 'exit')) as [number | null];
      expect(code).toBe(1);
      expect(stderr).toContain('the address is already in use (set PORT to another port)');
      expect(stderr).not.toMatch(/^\s+at /m);
    } finally {
      taken.close();
    }
  });

  it('says in one line that the stored keys cannot be opened when the key-encryption key was lost, and exits 1', async () => {
    const kekFile = join(workspace.dir, 'data', 'key-encryption-key');
    const kek = readFileSync(kekFile);
    try {
      rmSync(kekFile);
      const { code, stderr } = await seedThatCannotStart();
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /^cannot start: the stored signing keys cannot be opened \(.*sealed under key-encryption key/m,
      );
      expect(stderr).toContain('put back the key-encryption key they were sealed under');
      expect(stderr).not.toMatch(/^\s+at /m);
    } finally {
      writeFileSync(kekFile, kek);
    }
    // With the key back, the same data serves again.
    const url = await startSeed();
    expect((await curlToken(url)).status).toBe(200);
  });

  it('says in one line that a data folder that is a file cannot be used, and exits 1', async () => {
    writeFileSync(join(workspace.dir, 'not-a-folder'), '');
    const { code, stderr } = await seedThatCannotStart({ TESSERA_DATA_DIR: './not-a-folder' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^cannot start: ENOTDIR/m);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it.each([
    ['a PORT that is not a number', { PORT: 'abc' }, 'PORT must be a port number from 0 to 65535, got "abc"'],
    ['a PORT above 65535', { PORT: '99999' }, 'PORT must be a port number from 0 to 65535, got "99999"'],
    ['a DATABASE_URL of another database', { DATABASE_URL: 'mysql://db/x' }, 'database.url: must be postgres://'],
    [
      'a TESSERA_KEY_ENCRYPTION_KEY that is not 32 bytes',
      { TESSERA_KEY_ENCRYPTION_KEY: 'short' },
      'keys.encryptionKey (TESSERA_KEY_ENCRYPTION_KEY):',
    ],
    ['an ISSUER that is not a URL', { ISSUER: 'not-a-url' }, 'issuer must be an absolute URL'],
    [
      'ISSUER with a query (RFC 8414 §2)',
      { ISSUER: 'http://localhost:8080/?a=1' },
      'issuer must be an http(s) URL without query or fragment',
    ],
  ])('says in one line that %s cannot be used, and exits 1', async (_title, env, message) => {
    const { code, stderr } = await seedThatCannotStart(env);
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot start: ${message}`);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it('shows the port the system chose for PORT=0, and serves on it', async () => {
    const seed = spawnSeed(0);
    child = seed;
    let output = '';
    const port = await new Promise<number>((resolve, reject) => {
      seed.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /serving on 127\.0\.0\.1:(\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      seed.once('exit', (code) => reject(new Error(`seed exited with ${String(code)}: ${output}`)));
    });
    expect(port).toBeGreaterThan(0);
    const answer = await curlToken(`http://127.0.0.1:${port}`);
    expect(answer.status).toBe(200);
    // RFC 8414 §2, RFC 9068 §2.2: the default issuer names the port served on, not port 0.
    const { access_token: token } = (await answer.json()) as { access_token: string };
    expect(decodeJwt(token).iss).toBe(`http://localhost:${port}`);
    const metadata = (await (
      await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`)
    ).json()) as {
      issuer: string;
      token_endpoint: string;
    };
    expect(metadata).toMatchObject({
      issuer: `http://localhost:${port}`,
      token_endpoint: `http://localhost:${port}/token`,
    });
  });

  it('does not bring test-client back once it was deleted: the seed runs only on a new database', async () => {
    const deleted = await runTessera(workspace, ['clients', 'delete', 'test-client'], {
      env: { TESSERA_KEY_ENCRYPTION_KEY: '' },
    });
    expect(deleted.code).toBe(0);
    const url = await startSeed();
    expect((await curlToken(url)).status).toBe(401);
  });
});
