export * from './form-encoding.js';
export * from './parse-form-request.js';
export * from './http-request.js';
export * from './authorization-list.js';
export { trimOptionalWhiteSpace } from './optional-white-space.js';
