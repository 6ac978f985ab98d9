import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeySealer, parseKeyEncryptionKey } from '../keys/index.js';
import { ConfigError } from './config.js';
import { resolvePreviousKeyEncryptionKeys } from './key-encryption-key.js';

describe('resolvePreviousKeyEncryptionKeys', () => {
  it('keeps one key listed twice (once in hex, once in base64) once, so a sealer can be made of them', () => {
    const first = randomBytes(32);
    const second = randomBytes(32);
    const previous = resolvePreviousKeyEncryptionKeys({
      keys: {
        previousEncryptionKeys: [
          first.toString('hex'),
          second.toString('base64'),
          first.toString('base64url'),
          second.toString('hex').toUpperCase(),
        ],
      },
    });
    expect(previous.map((kek) => Buffer.from(kek.key))).toEqual([first, second]);
    const current = parseKeyEncryptionKey(randomBytes(32).toString('hex'));
    const sealed = createKeySealer(previous[0]!).seal('private key text', 'kid-1');
    expect(Buffer.from(createKeySealer(current, previous).open(sealed, 'kid-1')).toString()).toBe('private key text');
  });

  it('names the entry that is not a key, without repeating it', () => {
    const call = () =>
      resolvePreviousKeyEncryptionKeys({
        keys: { previousEncryptionKeys: [randomBytes(32).toString('hex'), 'not-a-key-secret-text'] },
      });
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(/entry 2: /);
    expect(call).not.toThrow(/not-a-key-secret-text/);
  });
});
