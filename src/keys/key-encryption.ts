// Sealing secrets at rest: AES-256-GCM under a 32-byte key-encryption key (KEK) that can rotate.

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { isCanonicalBase64url } from '../core/compact-jws.js';

/** The format tag of sealed values; a new tag would mark a new format. */
const formatVersion = 'v1';
const ivBytes = 12;
const tagBytes = 16;
const kekBytes = 32;

/** A key-encryption key with the id written into every value it seals. */
export interface KeyEncryptionKey {
  /** Names the KEK inside sealed values, so a store can hold values sealed under older KEKs. */
  readonly id: string;
  /** 32 random bytes. */
  readonly key: Uint8Array;
}

/** Seals secrets for storage and opens them again. */
export interface KeySealer {
  /** The id of the KEK new values are sealed under. */
  readonly currentKeyId: string;
  /**
   * Encrypts `plaintext` as `v1.<kek id>.<iv>.<ciphertext and tag>` (base64url parts).
   *
   * @param context bound to the value as associated data (e.g. the key's `kid`), so a sealed
   *   value copied to another record does not open there.
   */
  seal(plaintext: string | Uint8Array, context?: string): string;
  /**
   * Decrypts a value made by {@link KeySealer.seal} with the same `context`.
   *
   * @throws {SealedValueError} when the value is malformed, its KEK is not configured, or the
   *   authentication tag does not verify (wrong KEK, wrong context or tampered data).
   */
  open(sealed: string, context?: string): Uint8Array;
  /** Like {@link KeySealer.open}, decoding the plaintext as UTF-8. */
  openText(sealed: string, context?: string): string;
  /** True when `sealed` was sealed under an older KEK and should be sealed again. */
  needsResealing(sealed: string): boolean;
}

/** A sealed value that cannot be opened. Its message never contains the plaintext or the KEK. */
export class SealedValueError extends Error {
  override readonly name = 'SealedValueError';
}

/**
 * Derives a KEK's id from the key: a short SHA-256 digest under a fixed label. It identifies the
 * key without revealing anything useful about it.
 */
export function keyEncryptionKeyId(key: Uint8Array): string {
  return createHash('sha256')
    .update('tessera key-encryption key id\0')
    .update(key)
    .digest()
    .subarray(0, 8)
    .toString('base64url');
}

/**
 * Reads a KEK from configuration text (an environment variable or a file): 32 bytes written as
 * 64 hex digits, or as base64 / base64url (padding optional). Surrounding white space is ignored.
 *
 * @throws TypeError when the text is not one of those encodings of exactly 32 bytes; the message
 *   never repeats the text.
 */
export function parseKeyEncryptionKey(text: string): KeyEncryptionKey {
  const trimmed = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) {
    key = Buffer.from(trimmed, 'hex');
  } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    // Base64 read as base64url; node's decoder skips characters it does not know, so text that
    // would not round-trip is refused.
    const asBase64url = trimmed.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    if (isCanonicalBase64url(asBase64url)) key = Buffer.from(asBase64url, 'base64url');
  }
  if (key === undefined) {
    throw new TypeError('the key-encryption key must be 32 bytes written as 64 hex digits or as base64');
  }
  if (key.byteLength !== kekBytes) {
    throw new TypeError(
      `the key-encryption key must be exactly 32 bytes, got ${key.byteLength} (generate one with: openssl rand -base64 32)`,
    );
  }
  return { id: keyEncryptionKeyId(key), key: new Uint8Array(key) };
}

/** Generates a new random KEK, for a development server's data folder or a test. */
export function generateKeyEncryptionKey(): KeyEncryptionKey {
  const key = new Uint8Array(randomBytes(kekBytes));
  return { id: keyEncryptionKeyId(key), key };
}

/**
 * Creates a sealer that seals under `current` and opens values sealed under `current` or any
 * of `previous`, so a KEK can be replaced: configure the new one as current, the old one as
 * previous, and re-seal what {@link KeySealer.needsResealing} reports.
 *
 * @throws TypeError when a KEK is not 32 bytes or two KEKs share an id.
 * @example
 * const sealer = createKeySealer(parseKeyEncryptionKey(process.env.TESSERA_KEK ?? ''));
 * const sealed = sealer.seal(privateKeyPem, kid);
 */
export function createKeySealer(current: KeyEncryptionKey, previous: readonly KeyEncryptionKey[] = []): KeySealer {
  const keys = new Map<string, Uint8Array>();
  for (const kek of [current, ...previous]) {
    if (kek.key.byteLength !== kekBytes) {
      throw new TypeError(`key-encryption key "${kek.id}" must be exactly 32 bytes`);
    }
    if (!/^[A-Za-z0-9_-]+$/.test(kek.id)) {
      throw new TypeError('a key-encryption key id may use only letters, digits, "-" and "_"');
    }
    if (keys.has(kek.id)) throw new TypeError(`two key-encryption keys share the id "${kek.id}"`);
    keys.set(kek.id, kek.key);
  }

  const associatedData = (kekId: string, context: string | undefined): Buffer =>
    Buffer.from(`${formatVersion}.${kekId}.${context ?? ''}`, 'utf8');

  const sealer: KeySealer = {
    currentKeyId: current.id,

    seal(plaintext, context) {
      const iv = randomBytes(ivBytes);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv, { authTagLength: tagBytes });
      cipher.setAAD(associatedData(current.id, context));
      const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
      const ciphertext = Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
      return [formatVersion, current.id, iv.toString('base64url'), ciphertext.toString('base64url')].join('.');
    },

    open(sealed, context) {
      const parts = sealed.split('.');
      if (parts.length !== 4 || parts[0] !== formatVersion) {
        throw new SealedValueError(`not a sealed value of format ${formatVersion}`);
      }
      const [, kekId = '', ivText = '', bodyText = ''] = parts;
      const key = keys.get(kekId);
      if (!key) {
        throw new SealedValueError(
          `the value was sealed under key-encryption key "${kekId}", which is not configured (configured: ${[...keys.keys()].join(', ')})`,
        );
      }
      // Node decodes base64url leniently (it skips characters outside the alphabet): one sealed
      // value must have one spelling, as it was written.
      if (!isCanonicalBase64url(ivText) || !isCanonicalBase64url(bodyText)) {
        throw new SealedValueError('the sealed value is not written as base64url');
      }
      const iv = Buffer.from(ivText, 'base64url');
      const body = Buffer.from(bodyText, 'base64url');
      if (iv.byteLength !== ivBytes || body.byteLength < tagBytes) {
        throw new SealedValueError('the sealed value is truncated');
      }
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
      decipher.setAAD(associatedData(kekId, context));
      decipher.setAuthTag(body.subarray(body.byteLength - tagBytes));
      try {
        const plaintext = Buffer.concat([
          decipher.update(body.subarray(0, body.byteLength - tagBytes)),
          decipher.final(),
        ]);
        return new Uint8Array(plaintext);
      } catch (cause) {
        throw new SealedValueError(
          `the sealed value failed authentication under key-encryption key "${kekId}": the key is wrong, or the value was altered or belongs to another record`,
          { cause },
        );
      }
    },

    openText(sealed, context) {
      return Buffer.from(sealer.open(sealed, context)).toString('utf8');
    },

    needsResealing(sealed) {
      return sealed.split('.')[1] !== current.id;
    },
  };
  return sealer;
}
