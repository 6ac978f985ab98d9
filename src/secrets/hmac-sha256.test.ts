import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHmacSha256 } from './hmac-sha256.js';

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));

describe('createHmacSha256', () => {
  it('RFC 4231 test case 2: key "Jefe", "what do ya want for nothing?"', () => {
    const mac = createHmacSha256(Buffer.from('Jefe'));
    expect(mac.digest(Buffer.from('what do ya want for nothing?')).toString('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('RFC 2104 §2: gives what createHmac gives, for keys shorter and longer than a block and any message', () => {
    fc.assert(
      fc.property(bytes(200), bytes(300), (key, message) => {
        const expected = createHmac('sha256', key).update(message).digest();
        expect(createHmacSha256(key).digest(message)).toEqual(expected);
      }),
    );
  });

  it('gives the same bytes through createHmac where one-shot hashing is missing', () => {
    fc.assert(
      fc.property(bytes(100), bytes(100), (key, message) => {
        const fallback = createHmacSha256(key, undefined).digest(message);
        expect(fallback).toEqual(createHmac('sha256', key).update(message).digest());
      }),
    );
  });

  it('leaves the message and key as given, and a changed key after creation does not change the digests', () => {
    const key = Buffer.from('key bytes');
    const message = Buffer.from('client\0secret');
    const mac = createHmacSha256(key);
    const first = mac.digest(message);
    expect(message.toString()).toBe('client\0secret');
    expect(key.toString()).toBe('key bytes');
    key.fill(0);
    expect(mac.digest(message)).toEqual(first);
  });

  it('zeroes its copy of the message once hashed, in the reused buffer and in one made for a long message', () => {
    for (const secret of ['the secret', 'x'.repeat(5000)]) {
      const seen: Buffer[] = [];
      const sha256 = (data: Uint8Array) => {
        seen.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        return createHash('sha256').update(data).digest('binary');
      };
      const mac = createHmacSha256(Buffer.from('k'), sha256);
      seen.length = 0;
      expect(mac.digest(Buffer.from(secret))).toEqual(createHmac('sha256', 'k').update(secret).digest());
      // The inner input is the padded key block, then the message; the message part is all zeros afterwards.
      expect(seen[0]!.length).toBe(64 + secret.length);
      expect(seen[0]!.subarray(64).every((byte) => byte === 0)).toBe(true);
      // The outer input's inner digest is cleared too.
      expect(seen[1]!.subarray(64).every((byte) => byte === 0)).toBe(true);
    }
  });

  it('gives the right digest after a long message and after a short one, in any order', () => {
    const mac = createHmacSha256(Buffer.from('key'));
    for (const message of ['a'.repeat(2000), 'b', 'c'.repeat(1024), 'd'.repeat(1025), '']) {
      expect(mac.digest(Buffer.from(message))).toEqual(createHmac('sha256', 'key').update(message).digest());
    }
  });
});
