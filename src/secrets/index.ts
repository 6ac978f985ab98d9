export * from './secret-hasher.js';
export * from './bcrypt-hasher.js';
export * from './constant-time-equal.js';
export * from './verified-secret-cache.js';
export * from './hmac-sha256.js';
