// What text every store can keep exactly: checked on write, so that no store changes it on the way in.

import { createHash } from 'node:crypto';
import { StorageInvalidTextError } from './index.js';

/** A high surrogate with no low one after it, or a low surrogate with no high one before it. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * `text` with each lone surrogate replaced by U+FFFD, as a UTF-8 database reads it. For a bound
 * that is compared with stored text rather than stored (a listing's `after`), so that every store
 * compares with the same value.
 */
export function withLoneSurrogatesReplaced(text: string): string {
  return text.replace(new RegExp(loneSurrogate.source, 'g'), '\ufffd');
}

/** Whether JSON gives `value` back as it is: it writes NaN and the infinities as null, -0 as 0. */
export function isJsonKeptNumber(value: number): boolean {
  return Number.isFinite(value) && !Object.is(value, -0);
}

/** U+0000, or a lone surrogate. */
const unstorable = new RegExp(`\\u0000|${loneSurrogate.source}`);

/**
 * Whether `text` can be stored as given: well-formed UTF-16 (no lone surrogate, which a UTF-8
 * database would turn into U+FFFD) and free of U+0000 (which PostgreSQL's text cannot hold).
 * No stored key is otherwise, so a lookup by such a value finds nothing.
 */
export function isStorableText(text: string): boolean {
  return !unstorable.test(text);
}

/**
 * Whether `value` holds, in any string or member name at any depth, text that cannot be stored,
 * or a number JSON cannot carry back as it is (NaN, an infinity, -0).
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
    if (typeof next === 'number') {
      if (!isJsonKeptNumber(next)) return true;
      continue;
    }
    if (typeof next !== 'object' || next === null || seen.has(next) || ArrayBuffer.isView(next)) continue;
    // A cycle is left for the store's own serialisation to refuse.
    seen.add(next);
    if (Array.isArray(next)) {
      // Strings, the usual members of a list, are checked without a trip through `pending`. Only
      // the elements count: JSON keeps nothing else of an array.
      for (const member of next as unknown[]) {
        if (typeof member !== 'string') pending.push(member);
        else if (!isStorableText(member)) return true;
      }
      continue;
    }
    const members = next as Readonly<Record<string, unknown>>;
    for (const key of Object.keys(members)) {
      if (!isStorableText(key)) return true;
      pending.push(members[key]);
    }
  }
  return false;
}

/**
 * The first of a record's fields holding, in any string or member name at any depth, text that
 * cannot be stored: `{ name }`, or `{ name: undefined }` when the field's own name is such text
 * (and so must not be repeated). Undefined when every field can be stored. Strings at the top,
 * the usual case, are checked without walking.
 */
export function firstUnstorableField(record: object): { readonly name: string | undefined } | undefined {
  const fields = record as Readonly<Record<string, unknown>>;
  let seen: Set<object> | undefined;
  for (const name of Object.keys(fields)) {
    if (!isStorableText(name)) return { name: undefined };
    const value = fields[name];
    if (typeof value === 'string') {
      if (!isStorableText(value)) return { name };
    } else if (typeof value === 'object' && value !== null && holdsUnstorableText(value, (seen ??= new Set()))) {
      return { name };
    }
  }
  return undefined;
}

/**
 * Refuses a record any of whose fields holds text that cannot be stored.
 *
 * @param kind what the record is, for the message ("client", "access token record")
 * @throws {StorageInvalidTextError} naming the first such field
 */
export function checkStorableText(record: object, kind: string): void {
  const found = firstUnstorableField(record);
  if (found) {
    throw new StorageInvalidTextError(
      found.name !== undefined ? `${kind} field ${found.name}` : `a ${kind} field name`,
    );
  }
}

/** How a replay-cache key kept as its hash begins; a key given as is that begins so is hashed too. */
export const hashedReplayKeyPrefix = 'sha256:';

/** Whether `text` holds a lone UTF-16 surrogate, which UTF-8 cannot carry. */
export function holdsLoneSurrogate(text: string): boolean {
  return loneSurrogate.test(text);
}

/**
 * A replay-cache key as its hash, `sha256:` and 64 hex digits. A well-formed key is hashed as
 * UTF-8; one holding a lone surrogate (which UTF-8 cannot carry: it would hash, or be stored, as
 * U+FFFD and so equal another key) as its UTF-16 units after a 0xFF byte, which no UTF-8 holds, so
 * that no two different keys are hashed from the same bytes.
 */
export function hashedReplayKey(key: string): string {
  const bytes = !holdsLoneSurrogate(key)
    ? Buffer.from(key, 'utf8')
    : Buffer.concat([Buffer.of(0xff), Buffer.from(key, 'utf16le')]);
  return `${hashedReplayKeyPrefix}${createHash('sha256').update(bytes).digest('hex')}`;
}
