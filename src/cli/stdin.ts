// Reading a secret or token from standard input, so it never appears in the process list or shell history.

import { CliError, exitCodes } from './exit-codes.js';

/**
 * The most stdin may hold: far above any token or secret (a secret is at most 72 bytes, and the
 * server refuses a request body over 64 KiB by default), yet small enough that `yes | tessera
 * introspect -` ends with an error at once instead of filling memory.
 */
export const maxStdinBytes = 1024 * 1024;

/**
 * Reads all of stdin and drops one trailing newline.
 *
 * @throws CliError (usage) when stdin holds more than {@link maxStdinBytes}; reading stops there.
 */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > maxStdinBytes) {
      // Leaving the loop early destroys the stream, so a writer that never stops gets EPIPE.
      throw new CliError(
        `stdin holds more than ${maxStdinBytes / 1024 / 1024} MiB; no token or secret is that long`,
        exitCodes.usage,
        'usage',
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
