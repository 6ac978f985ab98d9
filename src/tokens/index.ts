export * from './access-token-strategy.js';
export * from './jwt-access-token.js';
export * from './opaque-hmac.js';
export * from './time-ordered-id.js';
