import { describe, expect, it } from 'vitest';
import type { HttpRequest } from '../request/index.js';
import { createBruteForceGuard, createGuardedHandler } from './brute-force-guard.js';

/** A handler whose answers wait until the test releases them; it records what it was asked. */
function gatedHandler(statusOf: (authorization: string) => number) {
  const pending: (() => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  let calls = 0;
  const handler = async (request: HttpRequest) => {
    calls++;
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise<void>((resolve) => pending.push(resolve));
    running--;
    const status = statusOf(request.headers.get('authorization') ?? '');
    return new Response(JSON.stringify(status === 200 ? { access_token: 't' } : { error: 'invalid_client' }), {
      status,
    });
  };
  return {
    handler,
    releaseAll: () => pending.splice(0).forEach((resolve) => resolve()),
    get calls() {
      return calls;
    },
    get maxRunning() {
      return maxRunning;
    },
  };
}

const basicRequest = (id: string, secret: string) =>
  new Request('http://127.0.0.1/token', {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('createGuardedHandler lanes', () => {
  it('answers 429 with Retry-After: 1 to distinct unverified secrets beyond the per-address cap, before handling them', async () => {
    const gate = gatedHandler(() => 401);
    const guarded = createGuardedHandler(gate.handler, { guard: createBruteForceGuard(), maxUnverifiedPerAddress: 2 });
    const answers = Array.from({ length: 6 }, (_, index) =>
      guarded(basicRequest('victim', `guess-${index}`), '127.0.0.9'),
    );
    await flush();
    expect(gate.calls).toBe(2);
    gate.releaseAll();
    const responses = await Promise.all(answers);
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([401, 401, 429, 429, 429, 429]);
    const refused = responses.find((response) => response.status === 429)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: 'too_many_requests' });
  });

  it('lets identical unverified credentials wait for the first instead of refusing them', async () => {
    const gate = gatedHandler(() => 200);
    const guarded = createGuardedHandler(gate.handler, { guard: createBruteForceGuard(), maxUnverifiedPerAddress: 1 });
    const answers = Array.from({ length: 16 }, () => guarded(basicRequest('machine', 'right'), '127.0.0.10'));
    await flush();
    expect(gate.calls).toBe(1);
    gate.releaseAll();
    await flush();
    gate.releaseAll();
    const statuses = (await Promise.all(answers)).map((response) => response.status);
    expect(statuses).toEqual(Array<number>(16).fill(200));
  });

  it('runs repeated identical failing credentials one after another, never side by side', async () => {
    const gate = gatedHandler(() => 401);
    const guarded = createGuardedHandler(gate.handler, {
      guard: createBruteForceGuard({ failuresPerAddress: 100, failuresPerClientAndAddress: 100 }),
      maxUnverifiedPerAddress: 1,
    });
    const answers = Array.from({ length: 4 }, () => guarded(basicRequest('nobody', 'guess'), '127.0.0.16'));
    for (let round = 1; round <= 4; round++) {
      await flush();
      await flush();
      expect(gate.calls).toBe(round);
      gate.releaseAll();
    }
    expect((await Promise.all(answers)).map((response) => response.status)).toEqual([401, 401, 401, 401]);
    expect(gate.maxRunning).toBe(1);
  });

  it('answers waiting identical failing credentials 429 once the failures reach the limit', async () => {
    const gate = gatedHandler(() => 401);
    const guarded = createGuardedHandler(gate.handler, {
      guard: createBruteForceGuard({ failuresPerAddress: 2, failuresPerClientAndAddress: 2 }),
      maxUnverifiedPerAddress: 1,
    });
    const answers = Array.from({ length: 5 }, () => guarded(basicRequest('nobody', 'guess'), '127.0.0.17'));
    for (let round = 0; round < 5; round++) {
      await flush();
      await flush();
      gate.releaseAll();
    }
    const statuses = (await Promise.all(answers)).map((response) => response.status);
    expect(statuses).toEqual([401, 401, 429, 429, 429]);
    expect(gate.calls).toBe(2);
  });

  it('keeps secrets in forms padded past what it reads in the capped lane', async () => {
    const gate = gatedHandler(() => 401);
    const guarded = createGuardedHandler(gate.handler, { guard: createBruteForceGuard(), maxUnverifiedPerAddress: 1 });
    const padded = (secret: string) =>
      new Request('http://127.0.0.1/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=client_credentials&client_id=victim&client_secret=${secret}&pad=${'x'.repeat(70_000)}`,
      });
    const answers = ['a', 'b', 'c'].map((secret) => guarded(padded(secret), '127.0.0.18'));
    // Reading the copies takes several turns of the event loop.
    for (let turn = 0; turn < 200 && gate.calls < 3; turn++) await flush();
    expect(gate.calls).toBe(1);
    gate.releaseAll();
    expect((await Promise.all(answers)).map((response) => response.status).sort()).toEqual([401, 429, 429]);
  });

  it('does not hold back credentials that recently succeeded', async () => {
    const gate = gatedHandler(() => 200);
    const guarded = createGuardedHandler(gate.handler, { guard: createBruteForceGuard(), maxUnverifiedPerAddress: 1 });
    const first = guarded(basicRequest('machine', 'right'), '127.0.0.11');
    await flush();
    gate.releaseAll();
    expect((await first).status).toBe(200);
    const answers = Array.from({ length: 8 }, () => guarded(basicRequest('machine', 'right'), '127.0.0.11'));
    await flush();
    expect(gate.maxRunning).toBe(8);
    gate.releaseAll();
    expect((await Promise.all(answers)).every((response) => response.status === 200)).toBe(true);
  });

  it('moves credentials that stopped working back to the capped lane', async () => {
    let status = 200;
    const gate = gatedHandler(() => status);
    const guarded = createGuardedHandler(gate.handler, { guard: createBruteForceGuard(), maxUnverifiedPerAddress: 1 });
    const first = guarded(basicRequest('machine', 'old'), '127.0.0.15');
    await flush();
    gate.releaseAll();
    expect((await first).status).toBe(200);
    status = 401;
    const rejected = guarded(basicRequest('machine', 'old'), '127.0.0.15');
    await flush();
    gate.releaseAll();
    expect((await rejected).status).toBe(401);
    const again = [
      guarded(basicRequest('machine', 'old'), '127.0.0.15'),
      guarded(basicRequest('machine', 'other'), '127.0.0.15'),
    ];
    await flush();
    expect(gate.calls).toBe(3);
    gate.releaseAll();
    expect((await Promise.all(again)).map((response) => response.status).sort()).toEqual([401, 429]);
  });

  it('keeps the cap per address: another address is not affected', async () => {
    const gate = gatedHandler(() => 401);
    const guarded = createGuardedHandler(gate.handler, { guard: createBruteForceGuard(), maxUnverifiedPerAddress: 1 });
    const attacker = [
      guarded(basicRequest('victim', 'a'), '127.0.0.12'),
      guarded(basicRequest('victim', 'b'), '127.0.0.12'),
    ];
    const other = guarded(basicRequest('victim', 'c'), '127.0.0.13');
    await flush();
    expect(gate.calls).toBe(2);
    gate.releaseAll();
    expect((await Promise.all(attacker)).map((response) => response.status).sort()).toEqual([401, 429]);
    expect((await other).status).toBe(401);
  });

  it('passes GET requests straight through', async () => {
    let calls = 0;
    const guarded = createGuardedHandler(
      () => {
        calls++;
        return Promise.resolve(new Response('{}'));
      },
      { guard: createBruteForceGuard() },
    );
    const response = await guarded(new Request('http://127.0.0.1/.well-known/jwks.json'), '127.0.0.14');
    expect(response.status).toBe(200);
    expect(calls).toBe(1);
  });

  it('leaves a Request whose body was already read to the handler, which answers it', async () => {
    let calls = 0;
    const guarded = createGuardedHandler(
      () => {
        calls++;
        return Promise.resolve(new Response('{"error":"server_error"}', { status: 500 }));
      },
      { guard: createBruteForceGuard() },
    );
    const request = new Request('http://127.0.0.1/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=a&client_secret=b',
    });
    await request.text();
    const response = await guarded(request, '127.0.0.15');
    expect(response.status).toBe(500);
    expect(calls).toBe(1);
  });

  it('refuses limits that cannot work', () => {
    expect(() => createBruteForceGuard({ failuresPerAddress: 0 })).toThrow(TypeError);
    expect(() => createBruteForceGuard({ blockSeconds: 1.5 })).toThrow(TypeError);
    const handler = () => Promise.resolve(new Response('{}'));
    expect(() => createGuardedHandler(handler, { guard: createBruteForceGuard(), maxUnverifiedPerAddress: 0 })).toThrow(
      TypeError,
    );
  });
});
