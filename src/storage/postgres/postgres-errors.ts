// Turns pg errors into the storage errors endpoints understand: an unreachable database is a 503, not a 500.

import { StorageConflictError, StorageNotFoundError, StorageUnavailableError } from '../index.js';

// Socket errors of a database that cannot be reached.
const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

// What pg and pg-pool say when a connection is gone, could not be made in time, or a pool has ended.
const unreachableMessages = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^timeout expired/,
  /^Query read timeout/,
  /is not queryable/,
  /^Cannot use a pool after calling end/,
];

/**
 * SQLSTATE classes and codes of a server that cannot serve now: 08 connection exceptions,
 * 53 insufficient resources (too many connections, disk full), 57P01–57P05 shutdowns and
 * crash recovery, 57014 a statement cancelled by a timeout, 58 system (I/O) errors.
 */
function isUnavailableState(state: string): boolean {
  return (
    state.startsWith('08') ||
    state.startsWith('53') ||
    state.startsWith('58') ||
    /^57P0[1-5]$/.test(state) ||
    state === '57014'
  );
}

/** Whether the error means the database could not be reached or could not serve. */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof StorageUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (unreachableCodes.has(code) || (code.length === 5 && isUnavailableState(code))))
    return true;
  if (unreachableMessages.some((pattern) => pattern.test(error.message))) return true;
  // Node reports a refused connection to several addresses as an AggregateError of socket errors.
  return error instanceof AggregateError && error.errors.some(isUnreachable);
}

/**
 * Whether the error came from a connection the server closed under an otherwise healthy pool
 * (terminated backend, server restart), rather than from failing to connect at all.
 */
export function isDeadConnection(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    code === '57P01' ||
    code === '57P02' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    /^Connection terminated unexpectedly/.test(error.message) ||
    /is not queryable/.test(error.message)
  );
}

/** Maps a driver error to {@link StorageUnavailableError}; other errors pass unchanged. */
export function toStorageError(error: unknown): unknown {
  if (
    error instanceof StorageUnavailableError ||
    error instanceof StorageConflictError ||
    error instanceof StorageNotFoundError
  ) {
    return error;
  }
  if (isUnreachable(error)) {
    // The message says what kind of failure without echoing statement text or values.
    const code = (error as { code?: unknown }).code;
    return new StorageUnavailableError(`PostgreSQL unavailable${typeof code === 'string' ? ` (${code})` : ''}`, {
      cause: error,
    });
  }
  return error;
}
