// Runs the server until SIGTERM or SIGINT: in one process, or as a node:cluster primary with workers.

import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { countBruteForceInClusterPrimary } from '../protection/index.js';

type metric = MetricObjectWithValues<MetricValue<string>>;
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import { startServer, type RunningServer } from './server.js';

const metricsRequest = 'tessera:metrics-request';
const metricsResponse = 'tessera:metrics-response';
/** Sent by a worker once its public listener serves (startServer has resolved). */
const workerReady = 'tessera:worker-ready';

interface MetricsMessage {
  readonly type: string;
  readonly id: number;
  readonly metrics?: metric[];
}

/**
 * A crash loop: this many exits of workers that had been serving, within `workerCrashWindowMs`,
 * stop the primary instead of starting yet another worker.
 */
const workerCrashLimit = 5;
const workerCrashWindowMs = 60_000;

/** The exit codes a failed start can end with (README's exit codes: 1 failure, 2 configuration). */
const startupExitCodes: ReadonlySet<number> = new Set([1, 2]);

/**
 * Starts the server and stops it in order on SIGTERM or SIGINT: listeners stop accepting,
 * in-flight requests finish (up to `server.shutdownTimeout`), the store closes, and the process
 * exits 0. With `server.workers` above 1 the primary process migrates, serves the admin listener
 * and keeps that many workers serving the public port (see `runPrimary`).
 */
export async function runServer(config: ServerConfig, logger: Logger): Promise<void> {
  if (config.server.workers > 1 && cluster.isPrimary) return runPrimary(config, logger);
  const worker = cluster.isWorker;
  // Handlers go in before the listeners bind, so a signal that arrives during start-up still
  // ends the process in order instead of killing it.
  let started: Promise<RunningServer> | undefined;
  onShutdownSignal(logger, async () => {
    await (await started)?.close();
  });
  started = startServer(config, { logger, ...(worker ? { publicOnly: true } : {}) });
  let running: RunningServer;
  try {
    running = await started;
  } catch (error) {
    // A worker that cannot start ends at once, with the exit code the command sets for this
    // error: the IPC channel to the primary would otherwise keep it alive. (cluster's own
    // disconnect: a bare process.disconnect() makes a worker exit 0 on the spot.)
    if (worker && process.connected) cluster.worker?.disconnect();
    throw error;
  }
  if (worker) {
    answerMetricsRequests(running);
    process.send?.({ type: workerReady });
  }
}

/**
 * Stops in order on SIGTERM or SIGINT (exit 0). Returns a function that stops the same way and
 * exits with another code; after either, further signals are ignored.
 */
function onShutdownSignal(logger: Logger, stop: () => Promise<void>): (exitCode: number) => void {
  let stopping = false;
  const shutdown = (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => {
        logger.info(exitCode === 0 ? {} : { exitCode }, 'stopped');
        process.exit(exitCode);
      },
      (error: unknown) => {
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'shutdown failed');
        process.exit(exitCode === 0 ? 1 : exitCode);
      },
    );
  };
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    logger.info({ signal }, 'shutting down');
    shutdown(0);
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
  return shutdown;
}

function answerMetricsRequests(running: RunningServer): void {
  process.on('message', (message: MetricsMessage) => {
    if (message?.type !== metricsRequest) return;
    void running.metrics.registry.getMetricsAsJSON().then((metrics) => {
      process.send?.({ type: metricsResponse, id: message.id, metrics } satisfies MetricsMessage);
    });
  });
}

/**
 * The cluster primary: migrates, serves the admin listener and forks `server.workers` workers.
 * A worker that exits before it has ever been ready is a start-up failure: the primary stops the
 * other workers and exits with that worker's code (2 for configuration, else 1), as one process
 * would. A worker that was serving and dies is replaced, unless `workerCrashLimit` of them died
 * within `workerCrashWindowMs`: then the primary stops everything and exits 1. `/health/ready`
 * answers 503 while no worker is serving.
 */
async function runPrimary(config: ServerConfig, logger: Logger): Promise<void> {
  const workers = new Set<Worker>();
  const ready = new Set<Worker>();
  const crashes: number[] = [];
  let stopping = false;
  let nextRequest = 0;

  const collectMetrics = async (): Promise<string> => {
    const id = nextRequest++;
    const replies = await Promise.all(
      [...workers].map(
        (worker) =>
          new Promise<metric[]>((resolve) => {
            const timer = setTimeout(() => {
              worker.off('message', listener);
              resolve([]);
            }, 2000);
            const listener = (message: MetricsMessage) => {
              if (message?.type !== metricsResponse || message.id !== id) return;
              clearTimeout(timer);
              worker.off('message', listener);
              resolve(message.metrics ?? []);
            };
            worker.on('message', listener);
            worker.send({ type: metricsRequest, id } satisfies MetricsMessage);
          }),
      ),
    );
    const own = await running.metrics.registry.getMetricsAsJSON();
    return AggregatorRegistry.aggregate([own, ...replies]).metrics();
  };

  let started: Promise<RunningServer> | undefined;
  const shutdown = onShutdownSignal(logger, async () => {
    stopping = true;
    const exited = [...workers].map(
      (worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve()))),
    );
    for (const worker of workers) worker.process.kill('SIGTERM');
    const deadline = setTimeout(() => {
      for (const worker of workers) worker.process.kill('SIGKILL');
    }, config.server.shutdownTimeout + 2000);
    await Promise.all(exited);
    clearTimeout(deadline);
    await (await started)?.close();
  });

  // The primary migrates and creates the first keys before any worker starts.
  started = startServer(config, {
    logger,
    adminOnly: true,
    collectMetrics,
    unready: () => (ready.size === 0 ? 'no worker is serving the public port' : undefined),
  });
  const running = await started;
  if (stopping) return;
  // Without Redis the workers count failed client authentications here, in one shared count:
  // each worker counting alone would let a source fail once per worker before a 429.
  if (!config.protection.redisUrl) countBruteForceInClusterPrimary();

  const fork = () => {
    const worker = cluster.fork();
    const pid = worker.process.pid;
    workers.add(worker);
    worker.on('message', (message: { type?: unknown } | null) => {
      if (message?.type !== workerReady || stopping) return;
      ready.add(worker);
      logger.info({ workerPid: pid }, `worker ${String(pid)} ready`);
    });
    worker.on('exit', (code, signal) => {
      workers.delete(worker);
      const wasReady = ready.delete(worker);
      if (stopping) return;
      if (!wasReady) {
        const exitCode = code !== null && startupExitCodes.has(code) ? code : 1;
        logger.error(
          { workerPid: pid, code, signal, exitCode },
          `worker ${String(pid)} exited (${signal ?? `code ${String(code)}`}) before it was ready: start-up failed; stopping the other workers and exiting ${exitCode}`,
        );
        stopping = true;
        shutdown(exitCode);
        return;
      }
      const now = Date.now();
      crashes.push(now);
      while (crashes.length > 0 && crashes[0]! <= now - workerCrashWindowMs) crashes.shift();
      if (crashes.length >= workerCrashLimit) {
        logger.error(
          { workerPid: pid, code, signal, crashes: crashes.length, windowMs: workerCrashWindowMs, exitCode: 1 },
          `workers keep dying: ${crashes.length} exits within ${workerCrashWindowMs / 1000} s; not starting another, stopping the other workers and exiting 1`,
        );
        stopping = true;
        shutdown(1);
        return;
      }
      logger.error({ workerPid: pid, code, signal }, 'worker exited; starting another');
      fork();
    });
  };
  for (let index = 0; index < config.server.workers; index++) fork();
  logger.info({ workers: config.server.workers }, `started ${config.server.workers} workers`);
}
