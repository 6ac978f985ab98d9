// JSON objects whose member names repeat: JSON.parse keeps the last value without a word.

/**
 * The first member name that appears twice in one object of `text`, or undefined when every
 * object's names are unique. RFC 8259 §4 says names SHOULD be unique and that software receiving
 * an object whose names are not behaves unpredictably: JSON.parse keeps the last value, another
 * reader the first, so what an operator checked and what is stored could differ. Names are
 * compared as decoded (`"\u0073cope"` is `"scope"`).
 *
 * `text` must already be known to be valid JSON (JSON.parse accepted it): this only walks it.
 */
export function repeatedMemberName(text: string): string | undefined {
  // One entry per open container: the names seen so far in an object, undefined in an array.
  const open: (Set<string> | undefined)[] = [];
  let atName = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '"') {
      const start = index;
      for (index++; text[index] !== '"'; index++) if (text[index] === '\\') index++;
      if (!atName) continue;
      atName = false;
      const name = JSON.parse(text.slice(start, index + 1)) as string;
      const names = open.at(-1)!;
      if (names.has(name)) return name;
      names.add(name);
    } else if (char === '{') {
      open.push(new Set());
      atName = true;
    } else if (char === '[') {
      open.push(undefined);
    } else if (char === '}' || char === ']') {
      open.pop();
      atName = false;
    } else if (char === ',') {
      atName = open.at(-1) !== undefined;
    }
  }
  return undefined;
}
