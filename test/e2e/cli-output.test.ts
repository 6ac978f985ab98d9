// How `tessera` writes its output: to a reader that goes away, and as JSON when asked, through the real binary.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bcryptHasher } from '../../src/secrets/index.js';
import { createSqliteStore } from '../../src/storage/sqlite/index.js';
import { binary, createWorkspace, parseJson, runTessera, type Workspace } from './support/tessera-process.js';

let workspace: Workspace;

beforeAll(async () => {
  workspace = createWorkspace();
  expect((await runTessera(workspace, ['migrate'])).code).toBe(0);
  const store = createSqliteStore({ filename: join(workspace.dir, 'data', 'tessera.db') });
  try {
    const secretHash = await bcryptHasher({ cost: 4 }).hash('not-used-secret');
    for (let index = 0; index < 1000; index++) {
      await store.createClient({
        id: `reporting-service-of-team-${String(index).padStart(4, '0')}`,
        secretHash,
        grantTypes: ['client_credentials'],
        scopes: ['read', 'write'],
        // Long rows: the table is larger than what the pipe holds before its reader has to read.
        audience: ['invoices', 'payments', 'reports', 'customers'].map((api) => `https://${api}.api.example/v1`),
        createdAt: 1_700_000_000_000,
      });
    }
  } finally {
    await store.close();
  }
});
afterAll(() => workspace.remove());

/** Runs `tessera <args> | head -c 100` in a shell; resolves with tessera's own exit code and stderr. */
function runIntoClosedPipe(args: readonly string[]): Promise<{ code: number | null; stderr: string; first: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'bash',
      ['-c', '"$0" "$@" | head -c 100; exit "${PIPESTATUS[0]}"', process.execPath, binary, ...args],
      {
        cwd: workspace.dir,
        env: workspace.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let first = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (first += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, first }));
  });
}

describe('output to a reader that stops reading', () => {
  it.each([
    ['a table', ['clients', 'list']],
    ['JSON', ['clients', 'list', '--json']],
  ])('clients list as %s ends quietly with exit 0 when its reader stops reading (| head)', async (_title, args) => {
    const result = await runIntoClosedPipe(args);
    expect(result.first.length).toBe(100);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('--json on a command line the parser refuses', () => {
  it.each([
    ['an unknown flag', ['clients', 'list', '--bogus', '--json'], "unknown option '--bogus'"],
    ['a missing argument', ['clients', 'show', '--json'], "missing required argument 'client-id'"],
    ['a value not among the choices', ['token', '--auth-method', 'magic', '--json'], "argument 'magic' is invalid"],
    ['an unknown command', ['bogus', '--json'], "unknown command 'bogus'"],
  ])('prints one JSON error document for %s and exits 2', async (_title, args, description) => {
    const result = await runTessera(workspace, args);
    expect(result.code).toBe(2);
    const body = parseJson(result);
    expect(Object.keys(body)).toStrictEqual(['error', 'error_description']);
    expect(body.error).toBe('usage');
    expect(body.error_description).toContain(description);
    expect(result.stderr).toContain(description);
  });

  it('prints help, not JSON, for --help', async () => {
    const result = await runTessera(workspace, ['keys', 'list', '--json', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: tessera keys list/);
  });
});

describe('--json that is not the flag', () => {
  it('answers in words when --json is the value of another flag', async () => {
    const result = await runTessera(workspace, ['clients', 'show', '--database-url', '--json', 'reporting']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^tessera: /);
  });

  it('answers in words when --json comes after --', async () => {
    const result = await runTessera(workspace, ['clients', 'show', 'no-such-client', '--', '--json']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('too many arguments');
  });

  it('answers in JSON when a command given --json fails after parsing', async () => {
    const result = await runTessera(workspace, ['clients', 'show', 'no-such-client', '--json']);
    expect(result.code).toBe(3);
    expect(parseJson(result)).toStrictEqual({
      error: 'not_found',
      error_description: 'client "no-such-client" does not exist',
    });
  });
});

describe('output that cannot be written', () => {
  it('says so on stderr and exits 1 when stdout is a full disk', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(
        'bash',
        ['-c', '"$0" "$@" > /dev/full', process.execPath, binary, 'clients', 'list', '--json'],
        {
          cwd: workspace.dir,
          env: workspace.env,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(result.stderr).toBe('tessera: cannot write the output: ENOSPC\n');
    expect(result.code).toBe(1);
  });
});
