import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createKeySealer,
  generateKeyEncryptionKey,
  keyEncryptionKeyId,
  parseKeyEncryptionKey,
  SealedValueError,
} from './key-encryption.js';

describe('key sealing', () => {
  it('opens what it sealed, for text and bytes', () => {
    const sealer = createKeySealer(generateKeyEncryptionKey());
    expect(sealer.openText(sealer.seal('-----BEGIN PRIVATE KEY-----'))).toBe('-----BEGIN PRIVATE KEY-----');
    const bytes = new Uint8Array(randomBytes(100));
    expect(sealer.open(sealer.seal(bytes))).toEqual(bytes);
  });

  it('writes a versioned value naming the KEK, and never the plaintext', () => {
    const kek = generateKeyEncryptionKey();
    const sealed = createKeySealer(kek).seal('secret private key material');
    const [version, kekId, iv, body] = sealed.split('.');
    expect(version).toBe('v1');
    expect(kekId).toBe(kek.id);
    expect(Buffer.from(iv!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(body!, 'base64url').byteLength).toBe('secret private key material'.length + 16);
    expect(sealed).not.toContain('secret');
  });

  it('uses a fresh IV each time, so equal plaintexts seal differently', () => {
    const sealer = createKeySealer(generateKeyEncryptionKey());
    expect(sealer.seal('same')).not.toBe(sealer.seal('same'));
  });

  it('refuses a value sealed under a KEK it does not know, naming the KEK id', () => {
    const sealed = createKeySealer(generateKeyEncryptionKey()).seal('x');
    const other = createKeySealer(generateKeyEncryptionKey());
    expect(() => other.open(sealed)).toThrow(SealedValueError);
    expect(() => other.open(sealed)).toThrow(/not configured/);
  });

  it('refuses a value when the KEK bytes are wrong under the same id', () => {
    const kek = generateKeyEncryptionKey();
    const sealed = createKeySealer(kek).seal('x');
    const impostor = createKeySealer({ id: kek.id, key: new Uint8Array(randomBytes(32)) });
    expect(() => impostor.open(sealed)).toThrow(/failed authentication/);
  });

  it('refuses a tampered value', () => {
    const sealer = createKeySealer(generateKeyEncryptionKey());
    const [version, kekId, iv, body] = sealer.seal('private').split('.');
    const bytes = Buffer.from(body!, 'base64url');
    bytes[0]! ^= 1;
    expect(() => sealer.open([version, kekId, iv, bytes.toString('base64url')].join('.'))).toThrow(SealedValueError);
  });

  it.each([
    ['a character outside the alphabet', (part: string) => `${part}!`],
    ['padding', (part: string) => `${part}==`],
    ['a space', (part: string) => ` ${part}`],
    ['base64 in place of base64url', (part: string) => part.replace(/-/g, '+').replace(/_/g, '/') + '+'],
  ])('refuses a value whose parts carry %s, which lenient decoding would skip', (_title, spoil) => {
    const sealer = createKeySealer(generateKeyEncryptionKey());
    const sealed = sealer.seal('private');
    const [version, kekId, iv, body] = sealed.split('.');
    expect(sealer.openText(sealed)).toBe('private');
    for (const spoiled of [
      [version, kekId, spoil(iv!), body],
      [version, kekId, iv, spoil(body!)],
    ]) {
      expect(() => sealer.open(spoiled.join('.'))).toThrow(SealedValueError);
    }
  });

  it('binds the value to its context, so it does not open for another record', () => {
    const sealer = createKeySealer(generateKeyEncryptionKey());
    const sealed = sealer.seal('private', 'kid-1');
    expect(sealer.openText(sealed, 'kid-1')).toBe('private');
    expect(() => sealer.open(sealed, 'kid-2')).toThrow(SealedValueError);
  });

  it.each([
    ['an empty value', ''],
    ['another format', 'v2.a.b.c'],
    ['too few parts', 'v1.abc.def'],
    ['a truncated body', 'v1.KEKID.AAAAAAAAAAAAAAAA.AAAA'],
  ])('refuses %s with a clear error, not a crash', (_title, sealed) => {
    const sealer = createKeySealer({ id: 'KEKID', key: new Uint8Array(32) });
    expect(() => sealer.open(sealed)).toThrow(SealedValueError);
  });

  it('opens values sealed under a previous KEK and reports them for re-sealing', () => {
    const old = generateKeyEncryptionKey();
    const sealedUnderOld = createKeySealer(old).seal('private');
    const sealer = createKeySealer(generateKeyEncryptionKey(), [old]);
    expect(sealer.openText(sealedUnderOld)).toBe('private');
    expect(sealer.needsResealing(sealedUnderOld)).toBe(true);
    const resealed = sealer.seal(sealer.open(sealedUnderOld));
    expect(sealer.needsResealing(resealed)).toBe(false);
    expect(() => createKeySealer(generateKeyEncryptionKey()).open(resealed)).toThrow(SealedValueError);
  });

  it('rejects KEKs of the wrong size and duplicate ids', () => {
    expect(() => createKeySealer({ id: 'a', key: new Uint8Array(16) })).toThrow(TypeError);
    const kek = generateKeyEncryptionKey();
    expect(() => createKeySealer(kek, [kek])).toThrow(/share the id/);
  });
});

describe('parseKeyEncryptionKey', () => {
  const bytes = randomBytes(32);

  it.each([
    ['hex', bytes.toString('hex')],
    ['upper-case hex', bytes.toString('hex').toUpperCase()],
    ['base64', bytes.toString('base64')],
    ['base64 without padding', bytes.toString('base64').replace(/=+$/, '')],
    ['base64url', bytes.toString('base64url')],
    ['base64 with a trailing newline', `${bytes.toString('base64')}\n`],
  ])('reads a KEK written as %s', (_title, text) => {
    const kek = parseKeyEncryptionKey(text);
    expect(Buffer.from(kek.key)).toEqual(bytes);
    expect(kek.id).toBe(keyEncryptionKeyId(bytes));
  });

  it.each([
    ['an empty text', ''],
    ['16 bytes of hex', randomBytes(16).toString('hex')],
    ['33 bytes of base64', randomBytes(33).toString('base64')],
    ['text that is neither hex nor base64', 'this is not a key at all!'],
    [
      'base64 with characters inside the padding',
      `${bytes.toString('base64').slice(0, 20)}=${bytes.toString('base64').slice(21)}`,
    ],
  ])('rejects %s with a TypeError that does not repeat it', (_title, text) => {
    expect(() => parseKeyEncryptionKey(text)).toThrow(TypeError);
    try {
      parseKeyEncryptionKey(text);
    } catch (error) {
      if (text.length > 0) expect((error as Error).message).not.toContain(text.trim());
    }
  });
});
