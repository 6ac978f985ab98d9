// JSON logs through pino. Bodies are never logged; credential-bearing fields are redacted by name as well.

import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Field names that could carry a credential. Nothing logs them on purpose; redaction is the
 * second line of defence should a header or form object ever reach a log call.
 */
export const redactedPaths = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  'headers.cookie',
  'client_secret',
  '*.client_secret',
  'clientSecret',
  '*.clientSecret',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'token',
  '*.token',
  'access_token',
  '*.access_token',
  'refresh_token',
  '*.refresh_token',
  'adminToken',
  '*.adminToken',
  'encryptionKey',
  '*.encryptionKey',
  'databaseUrl',
  'client_assertion',
  '*.client_assertion',
];

export interface LoggerOptions {
  readonly level: string;
  /** Written to instead of stdout (tests). */
  readonly destination?: NodeJS.WritableStream;
}

/** Creates the server's JSON logger. Writes are synchronous so nothing is lost on exit. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * A child of `logger` for the listener's one line per request, written without redaction. That
 * line is built from a fixed set of fields (request id, listener, method, endpoint, client id,
 * client address, status, outcome, latency), none of which can hold a credential, and matching
 * the redacted names against every line cost about twice as much as writing the line itself.
 * Everything else keeps going through `logger`, redacted.
 */
export function createRequestLogger(logger: Logger): Logger {
  return logger.child({}, { redact: [] });
}

/**
 * Removes passwords from a database URL before it is logged: the one in the user information,
 * and any query parameter whose name holds "password" (`password`, `sslpassword`), which libpq
 * and pg read as well.
 */
export function describeDatabaseUrl(url: string): string {
  // Query parameters are cut in the text itself: re-serialising them would rewrite the others.
  const withoutQueryPasswords = url.replace(passwordParameter, '$1***');
  try {
    const parsed = new URL(withoutQueryPasswords);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not parseable, so nothing says where the password ends: everything from the first colon
    // after the user name up to the last `@` goes.
    const userinfo = /^([^:/?#]+:\/\/[^:@/]*):.*@/s.exec(withoutQueryPasswords);
    return userinfo ? `${userinfo[1]}:***@${withoutQueryPasswords.slice(userinfo[0].length)}` : withoutQueryPasswords;
  }
}

/** A query parameter whose name holds "password", up to the next `&` or `#`. */
const passwordParameter = /([?&][^=&#]*password[^=&#]*=)[^&#]*/gi;
