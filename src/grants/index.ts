export * from './validate-scope.js';
export * from './client-credentials.js';
