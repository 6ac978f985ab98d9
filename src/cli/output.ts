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

/** Writes rows as an aligned table under upper-case headings. */
export function printTable(columns: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...rows.map((row) => (row[index] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => (index === cells.length - 1 ? cell : cell.padEnd(widths[index]!)))
      .join('  ')
      .trimEnd();
  const output = [line(columns.map((column) => column.toUpperCase())), ...rows.map(line)];
  process.stdout.write(`${output.join('\n')}\n`);
}

/** Writes `key  value` lines, values JSON-encoded when not strings. */
export function printFields(fields: Readonly<Record<string, unknown>>): void {
  const entries = Object.entries(fields).filter(([, value]) => value !== undefined);
  const width = Math.max(0, ...entries.map(([key]) => key.length));
  const lines = entries.map(([key, value]) => `${key.padEnd(width)}  ${formatValue(value)}`);
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
  process.stderr.write(`${message}\n`);
}
