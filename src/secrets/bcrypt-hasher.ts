// bcrypt secret hashing on libuv's thread pool, so the event loop keeps serving while it works.

import { hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';
import { randomBytes } from 'node:crypto';
import type { SecretHasher } from './secret-hasher.js';

/** bcrypt reads at most this many bytes of a secret. */
const maxSecretBytes = 72;

// Costs bcrypt can read (4 to 31): any other stored value is not a hash this hasher can check.
const bcryptPattern = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

export interface BcryptHasherOptions {
  /** Work factor for new hashes, 4 to 31. Default 10. */
  readonly cost?: number;
}

/**
 * Creates a bcrypt {@link SecretHasher}. It verifies `$2a$`, `$2b$` and `$2y$` hashes of any cost,
 * and reports a malformed hash as a mismatch instead of throwing.
 *
 * @example
 * const hasher = bcryptHasher({ cost: 12 });
 * const stored = await hasher.hash('foobar');
 */
export function bcryptHasher(options: BcryptHasherOptions = {}): SecretHasher {
  const cost = options.cost ?? 10;
  if (!Number.isInteger(cost) || cost < 4 || cost > 31) {
    throw new TypeError(`bcrypt cost must be an integer from 4 to 31, got ${String(cost)}`);
  }
  let decoyHash: Promise<string> | undefined;
  async function verifyDecoy(secret: string): Promise<void> {
    // Made lazily at the same cost as real hashes, from a value no one knows.
    decoyHash ??= bcryptHash(randomBytes(18).toString('base64'), cost);
    await bcryptVerify(secret.slice(0, maxSecretBytes), await decoyHash).catch(() => false);
  }
  return {
    hash(secret) {
      // A longer secret would be stored truncated, and verify() refuses it: the client could
      // never authenticate. Say so when the secret is set, not at its first use.
      if (Buffer.byteLength(secret, 'utf8') > maxSecretBytes) {
        return Promise.reject(new TypeError(`a bcrypt secret must be at most ${maxSecretBytes} bytes`));
      }
      return bcryptHash(secret, cost);
    },
    verifyDecoy,
    async verify(secret, hash) {
      // A refusal costs one comparison like any other answer, so its speed tells nothing: a fast
      // refusal of an overlong secret would show that the client exists, since unknown clients
      // always pay for a decoy comparison.
      if (!bcryptPattern.test(hash)) return verifyDecoy(secret).then(() => false);
      // bcrypt reads at most 72 bytes; a longer secret would match any secret sharing its prefix.
      if (Buffer.byteLength(secret, 'utf8') > maxSecretBytes) return verifyDecoy(secret).then(() => false);
      try {
        return await bcryptVerify(secret, hash);
      } catch {
        // A hash that looks right but cannot be read is a mismatch, refused at the usual cost.
        await verifyDecoy(secret);
        return false;
      }
    },
  };
}

/** The cost a bcrypt hash was made with, or undefined when it is not a bcrypt hash. */
export function bcryptCost(hash: string): number | undefined {
  const match = bcryptPattern.exec(hash);
  return match ? Number(match[1]) : undefined;
}
