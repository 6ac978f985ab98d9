import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/storage/sqlite/index.js';

const folder = mkdtempSync(join(tmpdir(), 'tessera-durability-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const writer = fileURLToPath(new URL('./sqlite-writer.ts', import.meta.url));

/** Starts the writer, kills it with SIGKILL after `acksBeforeKill` acknowledgements, returns every line it acknowledged. */
async function writeUntilKilled(
  filename: string,
  acksBeforeKill: number,
): Promise<{ acks: string[]; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, filename], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const acks: string[] = [];
  // Every line read before the child is dead counts, including those that arrive with the kill.
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    if (line === 'ready') continue;
    acks.push(line);
    if (acks.length === acksBeforeKill) child.kill('SIGKILL');
  }
  const signal = await exited;
  if (acks.length < acksBeforeKill) throw new Error(`writer stopped early: ${stderr}`);
  return { acks, signal };
}

describe('SQLite durability', () => {
  it('keeps every write it acknowledged when its process is killed with SIGKILL mid-stream', async () => {
    const filename = join(folder, 'killed.db');
    const { acks, signal } = await writeUntilKilled(filename, 400);
    expect(signal).toBe('SIGKILL');

    const store = createSqliteStore({ filename });
    try {
      const missing: string[] = [];
      for (const ack of acks) {
        const [kind, id] = ack.split(' ') as [string, string];
        const found =
          kind === 'client'
            ? (await store.getClient(id)) !== undefined
            : kind === 'token'
              ? (await store.getAccessTokenRecord(id)) !== undefined
              : (await store.isTokenIdRevoked(id)) &&
                (await store.getClient(`client-${id.slice(4)}`))?.scopes.length === 2;
        if (!found) missing.push(ack);
      }
      expect(missing).toEqual([]);
      expect(acks.length).toBeGreaterThanOrEqual(400);
    } finally {
      await store.close();
    }
  });
});
