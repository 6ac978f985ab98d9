// Group commit for access-token records, shared by the SQL stores: records handed over close
// together are written by one statement and one commit.

import type { AccessTokenRecord } from './index.js';

/** A record waiting for its batch, with the caller's promise to settle. */
export interface PendingRecord {
  readonly record: AccessTokenRecord;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Most records written by one group commit; more arriving at once start the next batch. */
export const maxBatchSize = 256;

/**
 * Gathers the records handed over in the same turn of the event loop, or while the previous batch
 * is still being written, and gives them to `write` together on the next turn (or at once when
 * {@link maxBatchSize} are waiting). A lone record waits for no timer, only for the current turn
 * to end. `write` settles each entry of its batch once its outcome is known; if `write` rejects,
 * the entries it left unsettled are rejected with that error. Nothing is acknowledged early.
 */
export function createGroupCommit(write: (batch: readonly PendingRecord[]) => Promise<void>) {
  let pending: PendingRecord[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  const inFlight = new Set<Promise<void>>();

  const schedule = (): void => {
    scheduled ??= setImmediate(() => void flush());
  };

  const flush = (): Promise<void> => {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    const batch = pending;
    pending = [];
    if (batch.length > 0) {
      const written = write(batch).catch((error: unknown) => {
        for (const entry of batch) entry.reject(error);
      });
      inFlight.add(written);
      void written.finally(() => {
        inFlight.delete(written);
        // What arrived meanwhile goes out as the next batch.
        if (pending.length > 0 && inFlight.size === 0) schedule();
      });
    }
    return Promise.all(inFlight).then(() => undefined);
  };

  return {
    add(record: AccessTokenRecord): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        pending.push({ record, resolve, reject });
        if (pending.length >= maxBatchSize) void flush();
        // While a batch is being written the next one gathers: its records would wait for that
        // write anyway, and one statement for all of them costs less than one per turn.
        else if (inFlight.size === 0) schedule();
      });
    },
    /** Writes what is waiting now; resolves once every batch taken so far has settled. */
    flush,
  };
}
