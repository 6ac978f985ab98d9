export * from './compose.js';
export * from './provider.js';
export * from './router.js';
export * from './write-json.js';
