import { describe, expect, it } from 'vitest';
import { StorageConflictError, StorageUnavailableError } from '../index.js';
import { isDeadConnection, toStorageError } from './postgres-errors.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('PostgreSQL error mapping', () => {
  it.each([
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['a reset connection', withCode('read ECONNRESET', 'ECONNRESET')],
    ['an unknown host', withCode('getaddrinfo ENOTFOUND db', 'ENOTFOUND')],
    ['a refusal on every address', new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], '')],
    ['a terminated backend (57P01)', withCode('terminating connection due to administrator command', '57P01')],
    ['a server starting up (57P03)', withCode('the database system is starting up', '57P03')],
    ['too many connections (53300)', withCode('sorry, too many clients already', '53300')],
    ['a connection exception (08006)', withCode('connection failure', '08006')],
    ['a statement timeout (57014)', withCode('canceling statement due to statement timeout', '57014')],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    ['a connection timeout', new Error('Connection terminated due to connection timeout')],
    ['an exhausted pool', new Error('timeout exceeded when trying to connect')],
    ['an unanswered query', new Error('Query read timeout')],
    ['a broken client', new Error('Client has encountered a connection error and is not queryable')],
    ['an ended pool', new Error('Cannot use a pool after calling end on the pool')],
  ])('turns %s into StorageUnavailableError', (_title, error) => {
    const mapped = toStorageError(error);
    expect(mapped).toBeInstanceOf(StorageUnavailableError);
    expect((mapped as Error).cause).toBe(error);
  });

  it.each([
    ['a syntax error (42601)', withCode('syntax error at or near "SELEC"', '42601')],
    ['a unique violation (23505)', withCode('duplicate key value violates unique constraint', '23505')],
    ['a deadlock (40P01)', withCode('deadlock detected', '40P01')],
    ['a plain programming error', new TypeError('x is not a function')],
  ])('passes %s through unchanged', (_title, error) => {
    expect(toStorageError(error)).toBe(error);
  });

  it('passes storage errors through unchanged', () => {
    const conflict = new StorageConflictError('taken');
    expect(toStorageError(conflict)).toBe(conflict);
  });

  it('keeps statement values out of the message', () => {
    const error = withCode('terminating connection; key (id)=(secret-value)', '57P01');
    expect((toStorageError(error) as Error).message).not.toContain('secret-value');
  });

  it.each([
    ['a terminated backend', withCode('terminating connection due to administrator command', '57P01'), true],
    ['a dropped connection', new Error('Connection terminated unexpectedly'), true],
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), false],
    ['a connection timeout', new Error('Connection terminated due to connection timeout'), false],
  ])('tells %s on a pooled connection (retry a read: %s)', (_title, error, dead) => {
    expect(isDeadConnection(error)).toBe(dead);
  });
});
