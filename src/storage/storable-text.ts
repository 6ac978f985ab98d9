// What text every store can keep exactly: checked on write, so that no store changes it on the way in.

import { StorageInvalidTextError } from './index.js';

/** U+0000, a high surrogate with no low one after it, or a low surrogate with no high one before it. */
const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether `text` can be stored as given: well-formed UTF-16 (no lone surrogate, which a UTF-8
 * database would turn into U+FFFD) and free of U+0000 (which PostgreSQL's text cannot hold).
 * No stored key is otherwise, so a lookup by such a value finds nothing.
 */
export function isStorableText(text: string): boolean {
  return !unstorable.test(text);
}

/**
 * Whether `value` holds, in any string or member name at any depth, text that cannot be stored.
 * Walked with a list rather than by recursion, so that deep nesting cannot overflow the stack.
 */
export function holdsUnstorableText(value: unknown, seen = new Set<object>()): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'string') {
      if (!isStorableText(next)) return true;
      continue;
    }
    if (typeof next !== 'object' || next === null || seen.has(next) || ArrayBuffer.isView(next)) continue;
    // A cycle is left for the store's own serialisation to refuse.
    seen.add(next);
    for (const [key, member] of Object.entries(next)) {
      if (!isStorableText(key)) return true;
      pending.push(member);
    }
  }
  return false;
}

/**
 * Refuses a record any of whose fields holds text that cannot be stored.
 *
 * @param kind what the record is, for the message ("client", "access token record")
 * @throws {StorageInvalidTextError} naming the first such field
 */
export function checkStorableText(record: object, kind: string): void {
  const seen = new Set<object>();
  for (const [field, value] of Object.entries(record)) {
    if (!isStorableText(field) || holdsUnstorableText(value, seen)) {
      throw new StorageInvalidTextError(isStorableText(field) ? `${kind} field ${field}` : `a ${kind} field name`);
    }
  }
}
