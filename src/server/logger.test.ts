import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

describe('server logger', () => {
  it.each([
    ['a client secret', { client_secret: 'secret-value-1' }],
    ['a client assertion (a signed credential)', { client_assertion: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' }],
    ['a nested client assertion', { form: { client_assertion: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' } }],
    ['an Authorization header', { headers: { authorization: 'Basic dGVzdDpzZWNyZXQ=' } }],
    ['a token', { token: 'opaque-token-value' }],
  ])('redacts %s should one ever reach a log call', (_title, fields) => {
    const { lines, logger } = capture();
    logger.info(fields, 'something happened');
    const text = lines.join('');
    expect(text).toContain('something happened');
    expect(text).toContain('[redacted]');
    const secret = JSON.stringify(fields).match(/"([^"]{12,})"\}+$/)![1]!;
    expect(text).not.toContain(secret);
  });
});
