// How client secrets are kept at rest and checked.

/** Hashes client secrets for storage and verifies presented secrets against a stored hash. */
export interface SecretHasher {
  hash(secret: string): Promise<string>;
  /**
   * True when `secret` matches `hash`; false for a wrong secret or a hash it cannot read.
   * `clientId` names whose hash it is, so caching wrappers can forget a client when it changes.
   */
  verify(secret: string, hash: string, clientId?: string): Promise<boolean>;
  /**
   * Does the work of one failed verification. Called for unknown client ids so that probing
   * for ids costs as much as guessing a known client's secret.
   */
  verifyDecoy(secret: string): Promise<void>;
}
