// The optional white space around field values and their parts: spaces and tabs only (RFC 9110 §5.6.3).

const space = 0x20;
const tab = 0x09;

/** Whether the UTF-16 code unit `char` is a space or a horizontal tab. */
export function isSpaceOrTab(char: number): boolean {
  return char === space || char === tab;
}

/**
 * `value` without the spaces and tabs around it: the optional white space RFC 9110 §5.5 leaves
 * out of a field value. Unlike `String#trim`, a no-break space or a line separator stays, to be
 * refused as part of the value.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.5
 */
export function trimOptionalWhiteSpace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isSpaceOrTab(value.charCodeAt(start))) start++;
  while (end > start && isSpaceOrTab(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}
