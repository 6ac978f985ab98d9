import { createMemoryStore } from './index.js';
import { describeStorageContract } from '../../../test/support/storage-contract.js';

describeStorageContract('memory', () => {
  const store = createMemoryStore();
  return Promise.resolve({ store, dispose: () => store.close() });
});
