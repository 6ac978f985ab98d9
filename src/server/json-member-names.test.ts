import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { repeatedMemberName } from './json-member-names.js';

describe('repeatedMemberName', () => {
  it.each([
    ['{"scope":"read","scope":"admin"}', 'scope'],
    ['{"a":1,"b":{"c":1,"c":2}}', 'c'],
    ['{"jwks":{"keys":[{"kty":"EC","kty":"RSA"}]}}', 'kty'],
    ['[{"a":1},{"b":1,"b":2}]', 'b'],
    // Escapes are decoded before names are compared.
    ['{"scope":"a","\\u0073cope":"b"}', 'scope'],
    ['{"":1,"":2}', ''],
    [' { "a" : 1 , "a" : 2 } ', 'a'],
  ])('RFC 8259 §4 finds the name repeated in %s', (text, name) => {
    expect(repeatedMemberName(text)).toBe(name);
  });

  it.each([
    '{}',
    '[]',
    '"text"',
    '{"a":"a","b":"a"}',
    '{"a":{"a":{"a":1}}}',
    '[{"a":1},{"a":2}]',
    '{"a":"}","b":"{\\"a\\":1,","c":"\\\\"}',
    '{"a":[1,"a",{"b":1}],"b":2}',
    '{"ab":1,"a":1,"b":1}',
  ])('RFC 8259 §4 finds no repeated name in %s', (text) => {
    expect(repeatedMemberName(text)).toBeUndefined();
  });

  it('names the first repeat in text order for objects of any JSON values, whatever their strings hold', () => {
    // Objects with repeated names are joined as text: a JavaScript object cannot hold them.
    const member = fc.tuple(
      fc.constantFrom('a', 'b', 'é', '\u0000', '"', '\\', 'a"b', '{'),
      fc.jsonValue({ maxDepth: 3 }),
    );
    fc.assert(
      fc.property(fc.array(member, { maxLength: 6 }), (members) => {
        const text = `{${members.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(',')}}`;
        const names = members.map(([name]) => name);
        expect(repeatedMemberName(text)).toBe(names.find((name, index) => names.indexOf(name) !== index));
      }),
      { numRuns: 2000 },
    );
  });
});
