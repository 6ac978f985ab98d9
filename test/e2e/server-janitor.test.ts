// The server's janitor through a real SQLite file: a purge that fails is told to the operator.

import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, loadConfig, startServer, type RunningServer } from '../../src/server/index.js';
import { migrateSqlite } from '../../src/storage/sqlite/index.js';

describe('the janitor of tessera serve', () => {
  let dir: string | undefined;
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs a warning naming the error when a purge fails for another reason than an unreachable store', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-janitor-'));
    const filename = join(dir, 'tessera.db');
    await migrateSqlite({ filename });
    // A database that refuses to delete token records, as a role without DELETE would.
    const db = new Database(filename);
    db.exec(
      "CREATE TRIGGER keep_tokens BEFORE DELETE ON access_tokens BEGIN SELECT RAISE(ABORT, 'deleting is not allowed'); END",
    );
    db.close();

    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n'))
          if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    server = await startServer(
      loadConfig({
        env: {
          DATABASE_URL: `sqlite:${filename}`,
          TESSERA_KEY_ENCRYPTION_KEY: 'cd'.repeat(32),
          TESSERA_HOST: '127.0.0.1',
          TESSERA_PORT: '0',
          TESSERA_ADMIN_PORT: '0',
          TESSERA_JANITOR_INTERVAL: '1',
        },
      }),
      { logger: createLogger({ level: 'warn', destination }) },
    );
    await server.storage.createAccessTokenRecord({
      signature: 'expired-record',
      format: 'jwt',
      clientId: 'c',
      subject: 'c',
      scopes: [],
      audience: [],
      issuedAt: 0,
      expiresAt: 1,
    });
    await vi.waitFor(
      () => expect(lines.find((line) => line.msg === 'janitor could not purge expired records')).toBeDefined(),
      { timeout: 10_000, interval: 100 },
    );
    const warning = lines.find((line) => line.msg === 'janitor could not purge expired records')!;
    expect(warning.level).toBe('warn');
    expect(JSON.stringify(warning.err)).toContain('deleting is not allowed');
  });
});
