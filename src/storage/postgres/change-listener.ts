// LISTEN on one dedicated connection, kept open across drops, for changes made by other instances.

import type pg from 'pg';
import { quoteIdentifier } from './sql-names.js';

export interface ChangeListenerOptions {
  readonly pool: pg.Pool;
  readonly channel: string;
  /** Longest pause between reconnection attempts. */
  readonly maxDelayMs: number;
  /**
   * How often the listening connection must answer a `SELECT 1`; one that has not answered by
   * the next check is given up and replaced.
   */
  readonly heartbeatMs: number;
  readonly onNotification: (payload: string | undefined) => void;
  /** Called when listening resumes after a gap in which notifications may have been lost. */
  readonly onMissedChanges: () => void;
  /**
   * Asked when LISTEN first takes effect: whether anything was read before, which a cache may
   * hold although a change made since was notified to nobody. Answers true once per such read.
   */
  readonly readBeforeListening: () => boolean;
  readonly onConnectionError: (error: Error) => void;
}

export interface ChangeListener {
  /** Starts listening (idempotent). */
  start(): void;
  /** Stops listening and gives the connection back. */
  stop(): Promise<void>;
  /** Resolves once LISTEN is in effect. */
  whenListening(): Promise<void>;
  /** Whether LISTEN is in effect now. */
  isListening(): boolean;
}

/**
 * Keeps one pool connection LISTENing. When it drops, it reconnects with a doubling pause (from
 * 100 ms up to `maxDelayMs`) and, once back, reports that changes may have been missed.
 *
 * A connection that a network silently stops carrying (no reset, so no error ever reaches the
 * socket) would otherwise look alive for as long as TCP keepalive takes to notice, hours by
 * default, while every notification is lost: the connection is asked a `SELECT 1` every
 * `heartbeatMs`, and one that has not answered within `heartbeatMs` counts as dropped.
 */
export function createChangeListener(options: ChangeListenerOptions): ChangeListener {
  let running = false;
  let client: pg.PoolClient | undefined;
  let connecting: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let attempt = 0;
  let missed = false;
  let waiters: (() => void)[] = [];
  /** The wait for the next check, or for the answer to the current one. */
  let heartbeat: NodeJS.Timeout | undefined;

  const stopHeartbeat = (): void => {
    if (heartbeat !== undefined) clearTimeout(heartbeat);
    heartbeat = undefined;
  };

  const scheduleHeartbeat = (connection: pg.PoolClient): void => {
    stopHeartbeat();
    heartbeat = setTimeout(() => {
      if (client !== connection) return;
      heartbeat = setTimeout(
        () =>
          drop(connection, new Error(`the notification connection did not answer within ${options.heartbeatMs} ms`)),
        options.heartbeatMs,
      );
      heartbeat.unref();
      connection.query('SELECT 1').then(
        () => {
          if (client === connection) scheduleHeartbeat(connection);
        },
        (error: unknown) => drop(connection, error instanceof Error ? error : new Error('the heartbeat query failed')),
      );
    }, options.heartbeatMs);
    heartbeat.unref();
  };

  const onNotification = (message: pg.Notification): void => {
    if (message.channel === options.channel) options.onNotification(message.payload);
  };

  const drop = (dropped: pg.PoolClient, error: Error): void => {
    if (client !== dropped) return;
    client = undefined;
    stopHeartbeat();
    dropped.off('notification', onNotification);
    dropped.release(error);
    options.onConnectionError(error);
    missed = true;
    scheduleRetry();
  };

  const scheduleRetry = (): void => {
    if (!running || retryTimer !== undefined) return;
    const delay = Math.min(100 * 2 ** attempt, options.maxDelayMs);
    attempt++;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect();
    }, delay);
    retryTimer.unref();
  };

  const connect = (): void => {
    if (!running || client !== undefined || connecting !== undefined) return;
    connecting = (async () => {
      let candidate: pg.PoolClient | undefined;
      try {
        candidate = await options.pool.connect();
        const connection = candidate;
        connection.on('notification', onNotification);
        const onDrop = (error?: Error): void => drop(connection, error ?? new Error('Connection terminated'));
        connection.on('error', onDrop);
        connection.on('end', () => onDrop());
        await connection.query(`LISTEN ${quoteIdentifier(options.channel)}`);
        if (!running) {
          connection.off('notification', onNotification);
          connection.release(true);
          return;
        }
        client = connection;
        attempt = 0;
        scheduleHeartbeat(connection);
        // Both asked, so that the read is accounted for either way.
        const readBefore = options.readBeforeListening();
        if (missed || readBefore) {
          missed = false;
          options.onMissedChanges();
        }
        for (const resolve of waiters) resolve();
        waiters = [];
      } catch (error) {
        if (candidate !== undefined && client !== candidate) {
          candidate.off('notification', onNotification);
          candidate.release(error instanceof Error ? error : true);
        }
        if (error instanceof Error) options.onConnectionError(error);
        missed = true;
        scheduleRetry();
      } finally {
        connecting = undefined;
      }
    })();
  };

  return {
    start() {
      if (running) return;
      running = true;
      connect();
    },
    async stop() {
      running = false;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      retryTimer = undefined;
      await connecting;
      // Started again while waiting: the new subscriber keeps the connection.
      if (running) return;
      const current = client;
      client = undefined;
      stopHeartbeat();
      missed = false;
      attempt = 0;
      if (current !== undefined) {
        current.off('notification', onNotification);
        current.removeAllListeners('end');
        current.removeAllListeners('error');
        // Keep absorbing errors while the connection closes.
        current.on('error', () => undefined);
        current.release(true);
      }
    },
    isListening: () => client !== undefined,
    whenListening() {
      if (client !== undefined) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}
