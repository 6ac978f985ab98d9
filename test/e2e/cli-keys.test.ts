// `tessera keys` through the real binary: a refusal is not a success, and reading never creates a database.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, parseJson, runTessera, type Workspace } from './support/tessera-process.js';

let workspace: Workspace;

beforeAll(() => {
  workspace = createWorkspace();
});
afterAll(() => workspace.remove());

describe('tessera keys rotate', () => {
  it('exits 6 when the next key has not been published long enough, and says why', async () => {
    // The first keys are made now: the next key is brand new.
    const human = await runTessera(workspace, ['keys', 'rotate']);
    expect(human.code).toBe(6);
    expect(human.stderr).toMatch(
      /^tessera: not rotated: the next key \S+ has not been published long enough .*use --immediate to rotate anyway\n$/,
    );
    expect(human.stdout).toMatch(/^KID +ALG +STATE/);

    const json = await runTessera(workspace, ['keys', 'rotate', '--json']);
    expect(json.code).toBe(6);
    const body = parseJson<Record<string, unknown> & { keys: { kid: string; state: string }[] }>(json);
    expect(body).toMatchObject({ error: 'not_rotated', rotated: false, reason: 'not-pre-published' });
    expect(body.keys.find((key) => key.state === 'next')?.kid).toBe(body.next_kid);
  });

  it('exits 0 once it rotates', async () => {
    const result = await runTessera(workspace, ['keys', 'rotate', '--immediate', '--json']);
    expect(result.code).toBe(0);
    expect(parseJson(result)).toMatchObject({ rotated: true });
  });
});

describe('tessera keys rotate with a next key sealed under another key-encryption key', () => {
  let other: Workspace;
  beforeAll(() => {
    other = createWorkspace();
  });
  afterAll(() => other.remove());

  it('exits 2 with one line naming the key, and changes nothing', async () => {
    const ownKek = other.env.TESSERA_KEY_ENCRYPTION_KEY!;
    expect((await runTessera(other, ['keys', 'rotate'])).code).toBe(6);
    // An instance already moved to a new KEK rotates: the new next key is sealed under it.
    const newKek = randomBytes(32).toString('hex');
    const moved = await runTessera(other, ['keys', 'rotate', '--immediate', '--json'], {
      env: { TESSERA_KEY_ENCRYPTION_KEY: newKek, TESSERA_PREVIOUS_KEY_ENCRYPTION_KEYS: ownKek },
    });
    expect(parseJson(moved)).toMatchObject({ rotated: true });
    const before = parseJson(await runTessera(other, ['keys', 'list', '--json']));

    const refused = await runTessera(other, ['keys', 'rotate', '--immediate']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^tessera: stored keys cannot be opened: signing key "[\w-]+": [^\n]+\n$/);
    expect(parseJson(await runTessera(other, ['keys', 'list', '--json']))).toStrictEqual(before);

    const json = await runTessera(other, ['keys', 'rotate', '--immediate', '--json']);
    expect(json.code).toBe(2);
    expect(parseJson(json)).toMatchObject({ error: 'invalid_configuration' });
  });
});

describe('tessera keys list', () => {
  it('says a mistyped SQLite path holds no database (exit 2) and creates nothing', async () => {
    const result = await runTessera(workspace, [
      'keys',
      'list',
      '--database-url',
      'sqlite:./typo/tessera.db',
      '--json',
    ]);
    expect(result.code).toBe(2);
    expect(parseJson(result)).toMatchObject({ error: 'no_database' });
    expect(result.stderr).toBe(
      'tessera: there is no SQLite database at ./typo/tessera.db: check --database-url, --data-dir or the configuration, or create it with `tessera migrate`\n',
    );
    expect(existsSync(join(workspace.dir, 'typo'))).toBe(false);
  });

  it('lists the keys of a database that exists', async () => {
    const result = await runTessera(workspace, ['keys', 'list', '--json']);
    expect(result.code).toBe(0);
    expect(parseJson<{ keys: unknown[] }>(result).keys.length).toBeGreaterThan(0);
  });
});

describe.runIf(process.platform === 'linux')('a data folder the kernel will not create', () => {
  // Node's recursive mkdir never returns for a path under /proc; these commands once hung there.
  it.each([
    ['migrate', ['migrate', '--data-dir', '/proc/tessera-no-such/data']],
    ['keys rotate', ['keys', 'rotate', '--dev', '--data-dir', '/proc/tessera-no-such/data']],
  ])('%s exits 1 and names the folder instead of hanging', async (_name, args) => {
    const result = await runTessera(workspace, args);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("tessera: ENOENT: no such file or directory, mkdir '/proc/tessera-no-such'\n");
  });
});
