// HMAC-SHA256 (RFC 2104) under a fixed key, for digests computed on every token request.

import * as crypto from 'node:crypto';

/** SHA-256 reads its input in 64-byte blocks; RFC 2104 pads the key to one block. */
const blockBytes = 64;

/** One-shot SHA-256 of bytes. */
type Sha256 = (data: Uint8Array) => Buffer;

/**
 * `crypto.hash` (Node ≥ 20.12): one call, no hash object. On a busy server `createHmac` costs
 * several times the hashing itself (an HMAC context set up per call); two one-shot hashes over
 * precomputed key blocks give the same bytes for a fraction of that.
 */
const oneShotSha256: Sha256 | undefined =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'buffer') : undefined;

/** HMAC-SHA256 under one key: `digest(message)` equals `createHmac('sha256', key).update(message).digest()`. */
export interface HmacSha256 {
  digest(message: Uint8Array): Buffer;
}

/**
 * HMAC-SHA256 under `key`, computed as RFC 2104 defines it, H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)),
 * with both padded key blocks made once. Falls back to `createHmac` where `crypto.hash` is
 * missing. Message copies made along the way are zeroed: they may hold a client secret.
 *
 * @example
 * const mac = createHmacSha256(randomBytes(32));
 * const tag = mac.digest(Buffer.from('message'));
 */
export function createHmacSha256(key: Uint8Array, sha256: Sha256 | undefined = oneShotSha256): HmacSha256 {
  if (sha256 === undefined) {
    const copy = Buffer.from(key);
    return { digest: (message) => crypto.createHmac('sha256', copy).update(message).digest() };
  }
  // §2: a key longer than a block is replaced by its hash; a shorter one is padded with zeros.
  const block = Buffer.alloc(blockBytes);
  Buffer.from(key.byteLength > blockBytes ? sha256(key) : key).copy(block);
  const innerKey = block.map((byte) => byte ^ 0x36);
  const outerKey = block.map((byte) => byte ^ 0x5c);
  block.fill(0);
  return {
    digest(message) {
      const inner = Buffer.allocUnsafe(blockBytes + message.byteLength);
      inner.set(innerKey);
      inner.set(message, blockBytes);
      const innerDigest = sha256(inner);
      inner.fill(0);
      const outer = Buffer.allocUnsafe(blockBytes + innerDigest.byteLength);
      outer.set(outerKey);
      outer.set(innerDigest, blockBytes);
      return sha256(outer);
    },
  };
}
