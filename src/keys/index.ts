export * from './signing-key.js';
export * from './key-set.js';
