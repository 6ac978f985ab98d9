export * from './compose.js';
export * from './provider.js';
export * from './router.js';
export * from './introspection-endpoint.js';
export * from './revocation-endpoint.js';
export * from './metadata-endpoint.js';
export * from './token-query.js';
export * from './write-json.js';
