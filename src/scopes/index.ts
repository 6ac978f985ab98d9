export * from './exact.js';
export * from './hierarchic.js';
export * from './wildcard.js';
export * from './url-prefix-audience.js';
