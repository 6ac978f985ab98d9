// Runs the server until SIGTERM or SIGINT: in one process, or as a node:cluster primary with workers.

import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

type metric = MetricObjectWithValues<MetricValue<string>>;
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import { startServer, type RunningServer } from './server.js';

const metricsRequest = 'tessera:metrics-request';
const metricsResponse = 'tessera:metrics-response';

interface MetricsMessage {
  readonly type: string;
  readonly id: number;
  readonly metrics?: metric[];
}

/**
 * Starts the server and stops it in order on SIGTERM or SIGINT: listeners stop accepting,
 * in-flight requests finish (up to `server.shutdownTimeout`), the store closes, and the process
 * exits 0. With `server.workers` above 1 the primary process migrates, serves the admin listener
 * and keeps that many workers serving the public port.
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
  const running = await started;
  if (worker) answerMetricsRequests(running);
}

function onShutdownSignal(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}

function answerMetricsRequests(running: RunningServer): void {
  process.on('message', (message: MetricsMessage) => {
    if (message?.type !== metricsRequest) return;
    void running.metrics.registry.getMetricsAsJSON().then((metrics) => {
      process.send?.({ type: metricsResponse, id: message.id, metrics } satisfies MetricsMessage);
    });
  });
}

async function runPrimary(config: ServerConfig, logger: Logger): Promise<void> {
  const workers = new Set<Worker>();
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
  onShutdownSignal(logger, async () => {
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
  started = startServer(config, { logger, adminOnly: true, collectMetrics });
  const running = await started;
  if (stopping) return;

  const fork = () => {
    const worker = cluster.fork();
    workers.add(worker);
    worker.on('exit', (code, signal) => {
      workers.delete(worker);
      if (!stopping) {
        logger.error({ workerPid: worker.process.pid, code, signal }, 'worker exited; starting another');
        fork();
      }
    });
  };
  for (let index = 0; index < config.server.workers; index++) fork();
  logger.info({ workers: config.server.workers }, `started ${config.server.workers} workers`);
}
