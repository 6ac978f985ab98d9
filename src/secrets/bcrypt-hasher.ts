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

/** A bcrypt {@link SecretHasher}, telling the cost its decoy comparisons are made at. */
export interface BcryptHasher extends SecretHasher {
  /**
   * The cost of decoy comparisons: the cost most distinct stored hashes checked so far were made
   * with (the first thousand seen), or the configured cost before any.
   */
  readonly decoyCost: number;
}

/** How many distinct stored hashes are counted to choose the decoy cost. */
const maxTrackedHashes = 1000;

/**
 * Creates a bcrypt {@link SecretHasher}. It verifies `$2a$`, `$2b$` and `$2y$` hashes of any cost,
 * and reports a malformed hash as a mismatch instead of throwing.
 *
 * @example
 * const hasher = bcryptHasher({ cost: 12 });
 * const stored = await hasher.hash('foobar');
 */
export function bcryptHasher(options: BcryptHasherOptions = {}): BcryptHasher {
  const cost = options.cost ?? 10;
  if (!Number.isInteger(cost) || cost < 4 || cost > 31) {
    throw new TypeError(`bcrypt cost must be an integer from 4 to 31, got ${String(cost)}`);
  }
  // A decoy must cost what checking a real client's secret costs, or its speed tells an unknown
  // client id from a known one. Stored hashes need not have this hasher's cost (a client created
  // with another `--bcrypt-cost`, or an imported hash), so decoys take the cost most of the
  // distinct stored hashes checked so far have: counted by hash, not by check, so that failing
  // again and again on one client cannot move it.
  const decoyHashes = new Map<number, Promise<string>>();
  const seenHashes = new Set<string>();
  const hashesPerCost = new Map<number, number>();
  let decoyCost = cost;
  function noteStoredHash(hash: string): void {
    if (seenHashes.size >= maxTrackedHashes || seenHashes.has(hash)) return;
    seenHashes.add(hash);
    const hashCost = Number(hash.slice(4, 6));
    const count = (hashesPerCost.get(hashCost) ?? 0) + 1;
    hashesPerCost.set(hashCost, count);
    if (count > (hashesPerCost.get(decoyCost) ?? 0) && hashCost !== decoyCost) {
      decoyCost = hashCost;
      // Made now rather than at the next unknown client, which would otherwise pay for two hashes.
      void decoyHashAt(decoyCost).catch(() => undefined);
    }
  }
  function decoyHashAt(atCost: number): Promise<string> {
    // Made once per cost, from a value no one knows.
    let decoyHash = decoyHashes.get(atCost);
    if (decoyHash === undefined) {
      decoyHash = bcryptHash(randomBytes(18).toString('base64'), atCost);
      decoyHashes.set(atCost, decoyHash);
    }
    return decoyHash;
  }
  async function verifyDecoy(secret: string): Promise<void> {
    await bcryptVerify(secret.slice(0, maxSecretBytes), await decoyHashAt(decoyCost)).catch(() => false);
  }
  return {
    get decoyCost() {
      return decoyCost;
    },
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
      noteStoredHash(hash);
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
