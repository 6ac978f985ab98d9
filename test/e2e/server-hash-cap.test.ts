// README "A cap on hashing" through `tessera serve`'s server: protection.hashConcurrency and
// protection.hashQueue bound the secret checks a flood of wrong secrets can start, the overflow is
// answered 503 temporarily_unavailable with Retry-After: 1, and known clients keep being served.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import { addSecretClients, sendFrom, startMemoryServer, type Answer } from './support/in-process-server.js';

// bcrypt comparisons can be held at a gate, so the test decides when a running check finishes
// instead of racing the hash's duration. The comparison itself is the library's own.
const gate = vi.hoisted(() => ({ closed: false, started: 0, held: [] as (() => void)[] }));
vi.mock('@node-rs/bcrypt', async (importOriginal) => {
  const original = await importOriginal<typeof import('@node-rs/bcrypt')>();
  return {
    ...original,
    verify: async (...args: Parameters<typeof original.verify>) => {
      gate.started++;
      if (gate.closed) await new Promise<void>((resolve) => gate.held.push(resolve));
      return original.verify(...args);
    },
  };
});

function closeGate() {
  gate.closed = true;
  gate.started = 0;
}

function openGate() {
  gate.closed = false;
  for (const release of gate.held.splice(0)) release();
}

/** One client_credentials token request with Basic credentials from `from`. */
function requestToken(url: string, id: string, secret: string, from: string): Promise<Answer> {
  return sendFrom(url, { path: '/oauth2/token', body: 'grant_type=client_credentials', basic: [id, secret], from });
}

/** Resolves once `condition` holds, or after `limitMs` so that the assertions after it report what went wrong. */
async function until(condition: () => boolean, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

const hashConcurrency = 2;
const hashQueue = 2;
const burst = 8;

describe('tessera serve with protection.hashConcurrency and protection.hashQueue set small', () => {
  let server: RunningServer;
  let url: string;

  beforeAll(async () => {
    server = await startMemoryServer(
      { TESSERA_HASH_CONCURRENCY: String(hashConcurrency), TESSERA_HASH_QUEUE: String(hashQueue) },
      { publicOnly: true },
    );
    await addSecretClients(server, [
      ['machine', 'machine-secret'],
      ['other', 'other-secret'],
    ]);
    url = server.public!.url;
  });

  afterAll(async () => {
    openGate();
    await server?.close();
  });

  it('answers a burst of distinct wrong secrets from distinct addresses beyond the cap with 503 temporarily_unavailable and Retry-After: 1, keeps serving a cached good secret meanwhile, and serves good secrets afterwards', async () => {
    // The legitimate client authenticates once before the flood: its secret is now cached.
    expect((await requestToken(url, 'machine', 'machine-secret', '127.0.0.1')).status).toBe(200);

    closeGate();
    const answers: Answer[] = [];
    // One address per guess, so the brute-force guard's per-address lane lets every one through
    // to the hash checks.
    const flood = Array.from({ length: burst }, (_, index) =>
      requestToken(url, 'machine', `wrong-secret-${index}`, `127.0.0.${10 + index}`).then((answer) => {
        answers.push(answer);
        return answer;
      }),
    );
    // hashConcurrency checks run (held at the gate), hashQueue wait; the rest are refused at once.
    const refusedAtOnce = burst - hashConcurrency - hashQueue;
    await until(() => answers.length >= refusedAtOnce);
    expect(answers.map((answer) => answer.status)).toEqual(Array(refusedAtOnce).fill(503));
    expect(gate.started).toBe(hashConcurrency);

    // While the cap is full: a cached good secret is answered without waiting for a slot ...
    const cached = await requestToken(url, 'machine', 'machine-secret', '127.0.0.1');
    expect(cached.status).toBe(200);
    expect(JSON.parse(cached.body)).toHaveProperty('access_token');
    // ... while a secret that needs a hash check finds the queue full like the guesses did.
    expect((await requestToken(url, 'other', 'other-secret', '127.0.0.2')).status).toBe(503);
    expect(gate.started).toBe(hashConcurrency);

    openGate();
    const all = await Promise.all(flood);
    const statuses = all.map((answer) => answer.status).sort();
    expect(statuses).toEqual([
      ...Array<number>(hashConcurrency + hashQueue).fill(401),
      ...Array<number>(refusedAtOnce).fill(503),
    ]);
    for (const answer of all) {
      const body = JSON.parse(answer.body) as Record<string, unknown>;
      if (answer.status === 401) {
        expect(body.error).toBe('invalid_client');
      } else {
        expect(answer.status).toBe(503);
        expect(body.error).toBe('temporarily_unavailable');
        expect(answer.headers['retry-after']).toBe('1');
      }
      expect(answer.body).not.toContain('wrong-secret');
    }

    // Afterwards the slots are free again: a good secret that needs a full hash check succeeds.
    const afterwards = await requestToken(url, 'other', 'other-secret', '127.0.0.2');
    expect(afterwards.status).toBe(200);
    expect(JSON.parse(afterwards.body)).toHaveProperty('access_token');
    expect((await requestToken(url, 'machine', 'machine-secret', '127.0.0.1')).status).toBe(200);
  });
});
