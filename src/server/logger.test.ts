import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, createRequestLogger, describeDatabaseUrl } from './logger.js';

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

  it('gives request lines the same format as every other line, and leaves the parent logger redacting', () => {
    const { lines, logger } = capture();
    const requestLog = createRequestLogger(logger);
    requestLog.info({ requestId: 'r-1', endpoint: 'token', status: 200 }, 'request');
    logger.info({ client_secret: 'secret-value-2' }, 'something else');
    const [request, other] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(request).toEqual({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      pid: process.pid,
      requestId: 'r-1',
      endpoint: 'token',
      status: 200,
      msg: 'request',
    });
    expect(other).toMatchObject({ level: 'info', client_secret: '[redacted]', msg: 'something else' });
    expect(lines.join('')).not.toContain('secret-value-2');
  });
});

describe('describeDatabaseUrl', () => {
  it.each([
    [
      'postgres://tessera:s3cret-pw@db.example.com:5432/tessera?sslmode=require',
      's3cret-pw',
      'postgres://tessera:***@db.example.com:5432/tessera?sslmode=require',
    ],
    [
      'postgresql://tessera:s3cret-pw@db.example.com/tessera',
      's3cret-pw',
      'postgresql://tessera:***@db.example.com/tessera',
    ],
    [
      'postgres://tessera:p%40ss%2Fw0rd@db.example.com/tessera',
      'p%40ss',
      'postgres://tessera:***@db.example.com/tessera',
    ],
    ['postgres://:s3cret-pw@db.example.com/tessera', 's3cret-pw', 'postgres://:***@db.example.com/tessera'],
    // Not a URL new URL() accepts: the password is still cut out.
    ['postgres://tessera:s3cret-pw@[db/tessera', 's3cret-pw', 'postgres://tessera:***@[db/tessera'],
    // …even when the raw password holds a colon, a slash or an at sign.
    ['postgres://tessera:pa:ss@[db/tessera', 'pa:ss', 'postgres://tessera:***@[db/tessera'],
    ['postgres://tessera:pa/ss@[db/tessera', 'pa/ss', 'postgres://tessera:***@[db/tessera'],
    ['postgres://tessera:p@ss@[db/tessera', 'p@ss', 'postgres://tessera:***@[db/tessera'],
    // libpq and pg also take the password as a query parameter.
    [
      'postgres://postgres@127.0.0.1:5432/test?password=S3cretPW',
      'S3cretPW',
      'postgres://postgres@127.0.0.1:5432/test?password=***',
    ],
    [
      'postgres://db.example.com/t?sslmode=require&PassWord=S3cret%26PW&application_name=a b',
      'S3cret',
      'postgres://db.example.com/t?sslmode=require&PassWord=***&application_name=a%20b',
    ],
    [
      'postgres://u:pw1@db.example.com/t?sslpassword=k3y-pw#frag',
      'k3y-pw',
      'postgres://u:***@db.example.com/t?sslpassword=***#frag',
    ],
    ['postgres://u@[db/t?password=S3cretPW', 'S3cretPW', 'postgres://u@[db/t?password=***'],
  ])('removes the password from %s and keeps the rest', (url, password, expected) => {
    const described = describeDatabaseUrl(url);
    expect(described).not.toContain(password);
    expect(described).toBe(expected);
  });

  it.each([
    'postgres://tessera@db.example.com:5432/tessera?sslmode=require',
    'postgresql://db.example.com/tessera',
    'postgres://tessera@localhost/tessera',
  ])('leaves %s, which has no password, as it was', (url) => {
    expect(describeDatabaseUrl(url)).toBe(url);
  });
});
