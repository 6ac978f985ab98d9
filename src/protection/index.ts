export * from './brute-force-guard.js';
export * from './cached-client-store.js';
export * from './client-address.js';
export * from './hash-check-limiter.js';
