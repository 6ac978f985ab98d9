// README's errors section documents every error definition with its code and status.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorDefinitions } from '../../src/core/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function section(name: string): string {
  const start = readme.indexOf(`<!-- section:${name} -->`);
  const end = readme.indexOf(`<!-- /section:${name} -->`);
  expect(start, `README has no ${name} section`).toBeGreaterThanOrEqual(0);
  return readme.slice(start, end);
}

/** Rows of the table: | `name` | `code` | status | description | */
function documentedErrors(): Map<string, { code: string; status: number; description: string }> {
  const rows = new Map<string, { code: string; status: number; description: string }>();
  for (const line of section('errors').split('\n')) {
    const match = /^\|\s*`(\w+)`\s*\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|\s*(.+?)\s*\|\s*$/.exec(line);
    if (match) rows.set(match[1]!, { code: match[2]!, status: Number(match[3]), description: match[4]! });
  }
  return rows;
}

describe('README errors section', () => {
  const documented = documentedErrors();

  it.each(Object.entries(errorDefinitions))('lists %s with its code and status', (name, definition) => {
    const row = documented.get(name);
    expect(row, `README's error table has no row for ${name}`).toBeDefined();
    expect(row?.code).toBe(definition.code);
    expect(row?.status).toBe(definition.status);
    expect(row?.description).toBe(definition.description);
  });

  it('lists no error that does not exist', () => {
    const defined = new Set(Object.keys(errorDefinitions));
    expect([...documented.keys()].filter((name) => !defined.has(name))).toEqual([]);
  });
});
