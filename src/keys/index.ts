export * from './signing-key.js';
export * from './key-set.js';
export * from './key-encryption.js';
export * from './rotating-key-set.js';
