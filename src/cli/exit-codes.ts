// The exit codes of `tessera`, one meaning each, so scripts can branch on them.

/** Exit codes; README's operations guide lists them. */
export const exitCodes = {
  /** Done. */
  ok: 0,
  /** A runtime failure: the database or a server could not be reached, or something unexpected broke. */
  failure: 1,
  /** A usage or configuration error: a bad flag, a bad configuration value, invalid client metadata. */
  usage: 2,
  /** The named client does not exist. */
  notFound: 3,
  /** The client id is already taken. */
  conflict: 4,
  /** The authorization server answered with an OAuth error (token, introspect, revoke). */
  refused: 5,
  /** Not done yet, by design: `keys rotate` found the next key published too recently; try later or use --immediate. */
  notYet: 6,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** An error that ends a command with a chosen exit code and message. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** A short machine-readable kind for `--json` output. */
    readonly kind = 'error',
    /** Extra JSON for `--json` output (e.g. the server's error body). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
