// Setting a member by a name that came from input: `__proto__` included, it stays a plain member.

/**
 * Gives `target` an own, enumerable, writable member `name` holding `value`. Unlike
 * `target[name] = value`, a name such as `__proto__` neither changes the prototype nor reaches
 * into `Object.prototype`.
 */
export function setOwnMember(target: object, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}
