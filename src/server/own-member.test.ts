import { describe, expect, it } from 'vitest';
import { setOwnMember } from './own-member.js';

describe('setOwnMember', () => {
  it('makes __proto__ an own, enumerable member: the prototype and Object.prototype stay as they were', () => {
    const target: Record<string, unknown> = {};
    setOwnMember(target, '__proto__', { polluted: true });
    expect(Object.getPrototypeOf(target)).toBe(Object.prototype);
    expect(Object.hasOwn(target, '__proto__')).toBe(true);
    expect(target.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(target)).toBe('{"__proto__":{"polluted":true}}');
  });

  it('sets an ordinary member that can be changed and deleted later', () => {
    const target: Record<string, unknown> = { a: 1 };
    setOwnMember(target, 'a', 2);
    setOwnMember(target, 'b', 3);
    target.b = 4;
    delete target.a;
    expect(target).toEqual({ b: 4 });
  });
});
