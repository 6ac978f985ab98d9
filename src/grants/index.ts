export * from './validate-scope.js';
export * from './client-credentials.js';
export * from './find-access-token.js';
export * from './access-token-introspection.js';
export * from './access-token-revocation.js';
