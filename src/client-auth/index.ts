export * from './client-secret-basic.js';
export * from './client-secret-post.js';
export * from './authenticate-client.js';
export * from './private-key-jwt.js';
