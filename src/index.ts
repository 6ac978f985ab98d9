// The library entry: re-exports only.
export * from './core/index.js';
export * from './request/index.js';
export * from './secrets/index.js';
export * from './scopes/index.js';
export * from './storage/index.js';
export * from './client-auth/index.js';
export * from './keys/index.js';
export * from './tokens/index.js';
export * from './grants/index.js';
export * from './provider/index.js';
export { createMemoryStore, type MemoryStoreOptions } from './storage/memory/index.js';
export { createJanitor, type Janitor, type JanitorOptions } from './storage/janitor.js';
