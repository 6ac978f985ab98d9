// Printing for people (aligned tables) and for scripts (one JSON document per command).

/**
 * Lets output stop quietly when its reader goes away (`tessera clients list | head -3`): a write to
 * a closed pipe fails with EPIPE, and what is left to print has nowhere to go. The command still
 * finishes its work and exits with its own code.
 */
export function toleratesClosedOutput(stream: NodeJS.WriteStream): void {
  let reported = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') return;
    // Another write failure (a full disk behind a redirect): the output is incomplete.
    process.exitCode = 1;
    if (stream !== process.stderr && !reported) {
      reported = true;
      process.stderr.write(`tessera: cannot write the output: ${error.code ?? error.message}\n`);
    }
  });
}

/** Writes one JSON document and a newline to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * `text` safe to show on a terminal: control characters, which a server or a client's metadata
 * could use to move the cursor or rewrite the screen, are shown as `\x1b`-style escapes. Line
 * breaks are kept only when `keepLineBreaks` is set. Bidirectional controls and marks, which can
 * reorder what follows them so a table shows other text than it holds, and the Unicode line and
 * paragraph separators are shown as `\u202e`-style escapes.
 */
export function printable(text: string, { keepLineBreaks = false } = {}): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g, (character) => {
    if (keepLineBreaks && character === '\n') return character;
    const code = character.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/** Writes rows as an aligned table under upper-case headings. */
export function printTable(columns: readonly string[], rows: readonly (readonly string[])[]): void {
  const cleanRows = rows.map((row) => columns.map((_column, index) => printable(row[index] ?? '')));
  const widths = columns.map((column, index) => Math.max(column.length, ...cleanRows.map((row) => row[index]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => (index === cells.length - 1 ? cell : cell.padEnd(widths[index]!)))
      .join('  ')
      .trimEnd();
  const output = [line(columns.map((column) => column.toUpperCase())), ...cleanRows.map(line)];
  process.stdout.write(`${output.join('\n')}\n`);
}

/** Writes `key  value` lines, values JSON-encoded when not strings. */
export function printFields(fields: Readonly<Record<string, unknown>>): void {
  const entries = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => [printable(key), printable(formatValue(value))] as const);
  const width = Math.max(0, ...entries.map(([key]) => key.length));
  const lines = entries.map(([key, value]) => `${key.padEnd(width)}  ${value}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** A value as a table cell: strings as they are, lists space-separated, the rest as JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((entry) => typeof entry === 'string')) return value.join(' ');
  return JSON.stringify(value);
}

/** A note for people on stderr, so stdout stays clean for pipes. */
export function printNote(message: string): void {
  process.stderr.write(`${printable(message, { keepLineBreaks: true })}\n`);
}
