import { afterEach, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../core/index.js';
import { createJanitor } from './janitor.js';
import { createMemoryStore } from './memory/index.js';
import type { ExpiredRecordPurger } from './index.js';

const t0 = Date.UTC(2026, 0, 1);

async function storeWithExpiredTokens(count: number, expiresAt: number) {
  const store = createMemoryStore();
  for (let i = 0; i < count; i++) {
    await store.createAccessTokenRecord({
      signature: `sig-${i}`,
      format: 'jwt',
      clientId: 'c',
      subject: 'c',
      scopes: [],
      audience: [],
      issuedAt: t0,
      expiresAt,
    });
  }
  return store;
}

/** Wraps a purger to record each batch. */
function recording(store: ExpiredRecordPurger, events: string[]): ExpiredRecordPurger {
  return {
    async purgeExpired(now, batchSize) {
      const purged = await store.purgeExpired(now, batchSize);
      events.push(`batch:${purged}`);
      return purged;
    },
  };
}

describe('janitor', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('purges a backlog batch by batch until nothing expired is left', async () => {
    const store = await storeWithExpiredTokens(25, t0);
    const events: string[] = [];
    const janitor = createJanitor({ store: recording(store, events), clock: createManualClock(t0), batchSize: 10 });
    expect(await janitor.runOnce()).toBe(25);
    expect(events).toEqual(['batch:10', 'batch:10', 'batch:5']);
    expect(await store.getAccessTokenRecord('sig-24')).toBeUndefined();
  });

  it('purges by the clock it is given and keeps what has not expired', async () => {
    const store = await storeWithExpiredTokens(3, t0 + 1000);
    const clock = createManualClock(t0);
    const janitor = createJanitor({ store, clock, batchSize: 10 });
    expect(await janitor.runOnce()).toBe(0);
    expect(await store.getAccessTokenRecord('sig-0')).toBeDefined();
    clock.advance(1000);
    expect(await janitor.runOnce()).toBe(3);
  });

  it('lets other work run between batches', async () => {
    const store = await storeWithExpiredTokens(30, t0);
    const events: string[] = [];
    const janitor = createJanitor({ store: recording(store, events), clock: createManualClock(t0), batchSize: 10 });
    setImmediate(() => events.push('other work'));
    await janitor.runOnce();
    expect(events.indexOf('other work')).toBeGreaterThan(0);
    expect(events.indexOf('other work')).toBeLessThan(events.length - 1);
  });

  it('stops a run at maxBatchesPerRun and leaves the rest for the next run', async () => {
    const store = await storeWithExpiredTokens(30, t0);
    const janitor = createJanitor({ store, clock: createManualClock(t0), batchSize: 10, maxBatchesPerRun: 2 });
    expect(await janitor.runOnce()).toBe(20);
    expect(await janitor.runOnce()).toBe(10);
  });

  it('runs on its interval once started, and no more once stopped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const store = await storeWithExpiredTokens(0, t0);
    const events: string[] = [];
    const runs: number[] = [];
    const janitor = createJanitor({
      store: recording(store, events),
      clock: createManualClock(t0),
      intervalMs: 1000,
      onRun: (n) => runs.push(n),
    });
    janitor.start();
    await vi.advanceTimersByTimeAsync(999);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toEqual([0, 0]);
    await janitor.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs).toEqual([0, 0]);
  });

  it('reports a failed run and keeps its schedule', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const failure = new Error('database down');
    let calls = 0;
    const errors: unknown[] = [];
    const runs: number[] = [];
    const janitor = createJanitor({
      store: {
        purgeExpired: () => (++calls === 1 ? Promise.reject(failure) : Promise.resolve(0)),
      },
      intervalMs: 1000,
      onError: (error) => errors.push(error),
      onRun: (n) => runs.push(n),
    });
    janitor.start();
    await vi.advanceTimersByTimeAsync(2000);
    await janitor.stop();
    expect(errors).toEqual([failure]);
    expect(runs).toEqual([0]);
  });

  it('keeps its schedule, without an unhandled rejection, when onRun or onError throws', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    let calls = 0;
    try {
      const janitor = createJanitor({
        store: { purgeExpired: () => (++calls % 2 === 0 ? Promise.reject(new Error('down')) : Promise.resolve(0)) },
        intervalMs: 1000,
        onError: () => {
          throw new Error('onError failed');
        },
        onRun: () => {
          throw new Error('onRun failed');
        },
      });
      janitor.start();
      await vi.advanceTimersByTimeAsync(4000);
      await janitor.stop();
      // Let any stray rejection reach the process's handler before looking.
      await new Promise((resolve) => setImmediate(resolve));
      expect(calls).toBe(4);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('ends a run in progress after its current batch when stopped', async () => {
    const store = await storeWithExpiredTokens(50, t0);
    const events: string[] = [];
    const janitor = createJanitor({ store: recording(store, events), clock: createManualClock(t0), batchSize: 10 });
    const run = janitor.runOnce();
    await janitor.stop();
    expect(await run).toBeLessThan(50);
    expect(await store.getAccessTokenRecord('sig-49')).toBeDefined();
  });

  it.each([
    ['a zero interval', { intervalMs: 0 }],
    ['a fractional batch size', { batchSize: 2.5 }],
    ['a negative batch limit', { maxBatchesPerRun: -1 }],
  ])('refuses %s', (_title, bad) => {
    expect(() => createJanitor({ store: createMemoryStore(), ...bad })).toThrow(TypeError);
  });
});
