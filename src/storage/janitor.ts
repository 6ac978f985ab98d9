// Purges expired token records, deny-list and replay entries in small batches, on a timer.

import { systemClock, type Clock } from '../core/index.js';
import type { ExpiredRecordPurger } from './index.js';

/** Options for {@link createJanitor}. */
export interface JanitorOptions {
  readonly store: ExpiredRecordPurger;
  readonly clock?: Clock;
  /** Pause between runs, in milliseconds. Default 60,000. */
  readonly intervalMs?: number;
  /** Most rows of each kind deleted by one statement. Default 500. */
  readonly batchSize?: number;
  /** Most batches in one run; the rest waits for the next run. Default 100. */
  readonly maxBatchesPerRun?: number;
  /** Told of a run that failed (e.g. the database is down); the next run is still scheduled. */
  readonly onError?: (error: unknown) => void;
  /** Told how many rows a run deleted. */
  readonly onRun?: (purged: number) => void;
}

/** Runs purges in the background. */
export interface Janitor {
  /** Schedules runs every `intervalMs`, the first one `intervalMs` from now. */
  start(): void;
  /** Stops scheduling and waits for a run in progress to finish its current batch. */
  stop(): Promise<void>;
  /** Runs once now, batch after batch until nothing expired is left; resolves with the rows deleted. */
  runOnce(): Promise<number>;
}

/**
 * Creates a janitor for a store. Each batch is one short statement per kind, and the janitor lets
 * other work run between batches, so a large backlog never stalls the token endpoint.
 *
 * @example
 * const janitor = createJanitor({ store: storage, intervalMs: 60_000, batchSize: 500 });
 * janitor.start();
 * // on shutdown
 * await janitor.stop();
 */
export function createJanitor(options: JanitorOptions): Janitor {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const intervalMs = options.intervalMs ?? 60_000;
  const batchSize = options.batchSize ?? 500;
  const maxBatches = options.maxBatchesPerRun ?? 100;
  for (const [name, value] of [
    ['intervalMs', intervalMs],
    ['batchSize', batchSize],
    ['maxBatchesPerRun', maxBatches],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = true;
  /** Set by stop(): the run in progress ends after its current batch. */
  let halting = false;

  const purge = async (): Promise<number> => {
    halting = false;
    let total = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const purged = await store.purgeExpired(clock.now(), batchSize);
      total += purged;
      // Each kind deleted fewer than a full batch: nothing expired is left.
      if (purged < batchSize) break;
      // Give requests waiting on the event loop (and the database) their turn.
      await new Promise((resolve) => setImmediate(resolve));
      if (halting) break;
    }
    return total;
  };

  const runOnce = (): Promise<number> => {
    running ??= purge().finally(() => {
      running = undefined;
    });
    return running;
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void runOnce()
        .then(
          (purged) => options.onRun?.(purged),
          (error: unknown) => options.onError?.(error),
        )
        // A callback that throws must neither end the schedule nor become an unhandled rejection
        // (which ends a Node process).
        .catch(() => undefined)
        .finally(schedule);
    }, intervalMs);
    // The janitor alone never keeps the process alive.
    timer.unref();
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      halting = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
    runOnce,
  };
}
