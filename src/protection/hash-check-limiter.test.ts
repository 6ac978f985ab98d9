import { describe, expect, it } from 'vitest';
import { OAuthError } from '../core/index.js';
import { bcryptHasher, cachedSecretHasher, type SecretHasher } from '../secrets/index.js';
import { limitedSecretHasher } from './hash-check-limiter.js';

/** A hasher whose checks finish only when the test says so. */
function gatedHasher() {
  const pending: (() => void)[] = [];
  let started = 0;
  const hasher: SecretHasher = {
    hash: (secret) => Promise.resolve(`hash:${secret}`),
    verify(secret, hash) {
      started++;
      return new Promise((resolve) => pending.push(() => resolve(hash === `hash:${secret}`)));
    },
    verifyDecoy() {
      started++;
      return new Promise((resolve) => pending.push(() => resolve()));
    },
  };
  return {
    hasher,
    get started() {
      return started;
    },
    finishOne: () => pending.shift()?.(),
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('limitedSecretHasher', () => {
  it('runs at most maxConcurrent checks at once and queues the rest', async () => {
    const gate = gatedHasher();
    const limited = limitedSecretHasher(gate.hasher, { maxConcurrent: 2, maxQueue: 10 });
    const checks = Array.from({ length: 5 }, (_, index) => limited.verify(`s${index}`, `hash:s${index}`));
    await flush();
    expect(gate.started).toBe(2);
    expect(limited.running).toBe(2);
    expect(limited.waiting).toBe(3);
    for (let done = 0; done < 5; done++) {
      gate.finishOne();
      await flush();
    }
    expect(await Promise.all(checks)).toEqual([true, true, true, true, true]);
    expect(limited.running).toBe(0);
  });

  it('refuses a check with temporarily_unavailable and Retry-After when the queue is full, without hashing', async () => {
    const gate = gatedHasher();
    const limited = limitedSecretHasher(gate.hasher, { maxConcurrent: 1, maxQueue: 1 });
    const first = limited.verify('a', 'hash:a');
    const second = limited.verifyDecoy('b');
    const refused = limited.verify('c', 'hash:c');
    await expect(refused).rejects.toBeInstanceOf(OAuthError);
    const error = (await refused.catch((thrown: unknown) => thrown)) as OAuthError;
    expect(error.code).toBe('temporarily_unavailable');
    expect(error.status).toBe(503);
    expect(error.headers['Retry-After']).toBe('1');
    await flush();
    expect(gate.started).toBe(1);
    gate.finishOne();
    await flush();
    gate.finishOne();
    expect(await first).toBe(true);
    await second;
    expect(gate.started).toBe(2);
  });

  it('frees its slot when a check throws', async () => {
    const failing: SecretHasher = {
      hash: () => Promise.resolve(''),
      verify: () => Promise.reject(new Error('broken hash')),
      verifyDecoy: () => Promise.resolve(),
    };
    const limited = limitedSecretHasher(failing, { maxConcurrent: 1, maxQueue: 0 });
    await expect(limited.verify('a', 'b')).rejects.toThrow('broken hash');
    await expect(limited.verify('a', 'b')).rejects.toThrow('broken hash');
    expect(limited.running).toBe(0);
  });

  it('lets a cached known-good secret through while the queue is full of other checks', async () => {
    const bcrypt = bcryptHasher({ cost: 4 });
    const hash = await bcrypt.hash('good');
    const gate = gatedHasher();
    let useGate = false;
    const switching: SecretHasher = {
      hash: (secret) => bcrypt.hash(secret),
      verify: (secret, stored) => (useGate ? gate.hasher.verify(secret, stored) : bcrypt.verify(secret, stored)),
      verifyDecoy: (secret) => gate.hasher.verifyDecoy(secret),
    };
    const hasher = cachedSecretHasher(limitedSecretHasher(switching, { maxConcurrent: 1, maxQueue: 1 }));
    expect(await hasher.verify('good', hash, 'client')).toBe(true);
    useGate = true;
    const flood = [hasher.verify('wrong-1', hash, 'client'), hasher.verify('wrong-2', hash, 'client')];
    await expect(hasher.verify('wrong-3', hash, 'client')).rejects.toThrow(OAuthError);
    expect(await hasher.verify('good', hash, 'client')).toBe(true);
    gate.finishOne();
    await flush();
    gate.finishOne();
    expect(await Promise.all(flood)).toEqual([false, false]);
  });

  it('refuses settings that cannot work', () => {
    const hasher = bcryptHasher({ cost: 4 });
    expect(() => limitedSecretHasher(hasher, { maxConcurrent: 0 })).toThrow(TypeError);
    expect(() => limitedSecretHasher(hasher, { maxQueue: -1 })).toThrow(TypeError);
  });
});
