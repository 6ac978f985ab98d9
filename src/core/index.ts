export * from './errors.js';
export * from './client.js';
export * from './clock.js';
export * from './session.js';
export * from './access-request.js';
export * from './config.js';
export * from './handlers.js';
export * from './factory.js';
