import { describe, expect, it } from 'vitest';

import { checkStorableText, firstUnstorableField, withLoneSurrogatesReplaced } from './storable-text.js';

describe('firstUnstorableField', () => {
  it('finds nothing in a record whose every text can be stored, pairs above U+FFFF included', () => {
    expect(firstUnstorableField({ id: 'a', nested: { list: ['b', { c: 'd\u{1F510}' }] } })).toBeUndefined();
  });

  it('names the field whose value holds a lone surrogate at any depth', () => {
    expect(firstUnstorableField({ id: 'a', jwks: { keys: [{ kid: '\ud800' }] } })).toEqual({ name: 'jwks' });
    expect(firstUnstorableField({ id: 'a', scopes: ['read', '\udfff'] })).toEqual({ name: 'scopes' });
  });

  it('names the field whose value holds U+0000, and one with it in a nested member name', () => {
    expect(firstUnstorableField({ contacts: ['a\u0000b'] })).toEqual({ name: 'contacts' });
    expect(firstUnstorableField({ metadata: { 'k\u0000': 1 } })).toEqual({ name: 'metadata' });
  });

  it('does not repeat a field name that is itself unstorable', () => {
    expect(firstUnstorableField({ ['x\ud800']: 'a' })).toEqual({ name: undefined });
  });

  it('is the walk behind checkStorableText, whose message never repeats the text', () => {
    expect(() => checkStorableText({ secret: 'p\u0000w' }, 'client')).toThrow(/client field secret/);
    expect(() => checkStorableText({ secret: 'p\u0000w' }, 'client')).not.toThrow(/p\u0000w/);
  });
});

describe('withLoneSurrogatesReplaced', () => {
  it('turns each lone surrogate into U+FFFD and leaves pairs and other text as they are', () => {
    expect(withLoneSurrogatesReplaced('a\ud800b\udfffc\u{1F510}\ud83d')).toBe('a\ufffdb\ufffdc\u{1F510}\ufffd');
  });
});
