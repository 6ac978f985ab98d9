export * from './verify-access-token.js';
export * from './remote-jwk-set.js';
export * from './introspection-check.js';
export * from './bearer-authorization.js';
