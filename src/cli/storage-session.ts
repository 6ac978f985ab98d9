// Opening the configured store for one command and always closing it again.

import { openStorage, type ServerConfig } from '../server/index.js';
import type { Storage } from '../storage/index.js';

/** Runs `work` with the configured store (migrated on open) and closes the store afterwards. */
export async function withStorage<T>(config: ServerConfig, work: (storage: Storage) => Promise<T>): Promise<T> {
  const opened = await openStorage(config);
  try {
    return await work(opened.storage);
  } finally {
    await opened.storage.close();
  }
}
