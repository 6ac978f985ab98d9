import * as bcrypt from '@node-rs/bcrypt';
import { describe, expect, it, vi } from 'vitest';
import { bcryptCost, bcryptHasher } from './bcrypt-hasher.js';

// The real functions, watched, so a test can see that a refusal still did a full comparison.
vi.mock('@node-rs/bcrypt', async (importOriginal) => {
  const real = await importOriginal<typeof import('@node-rs/bcrypt')>();
  return { ...real, verify: vi.fn(real.verify) };
});

const seedHash = '$2a$10$IxMdI6d.LIRZPpSfEwNoeu4rY3FhDREsxFJXikcgdRRAStxUlsuEO';
const hasher = bcryptHasher({ cost: 4 });

describe('bcryptHasher', () => {
  it('verifies "foobar" against the seed $2a$ hash', async () => {
    await expect(bcryptHasher().verify('foobar', seedHash)).resolves.toBe(true);
  });

  it('refuses a wrong secret against the seed hash', async () => {
    await expect(bcryptHasher().verify('foobaz', seedHash)).resolves.toBe(false);
  });

  it('verifies a hash it made and refuses another secret', async () => {
    const hash = await hasher.hash('s3cret');
    await expect(hasher.verify('s3cret', hash)).resolves.toBe(true);
    await expect(hasher.verify('s3cre', hash)).resolves.toBe(false);
  });

  it('makes hashes with the configured cost and a fresh salt each time', async () => {
    const first = await hasher.hash('same');
    const second = await hasher.hash('same');
    expect(bcryptCost(first)).toBe(4);
    expect(first).not.toBe(second);
  });

  it.each(['$2a$', '$2b$', '$2y$'])('accepts a %s hash', async (prefix) => {
    const hash = prefix + (await hasher.hash('variant')).slice(4);
    await expect(hasher.verify('variant', hash)).resolves.toBe(true);
    await expect(hasher.verify('other', hash)).resolves.toBe(false);
  });

  it.each([
    ['an empty string', ''],
    ['plain text', 'foobar'],
    ['an unknown variant', `$2x$${seedHash.slice(4)}`],
    ['a cost out of range', `$2a$99$${seedHash.slice(7)}`],
    ['a cost below the minimum', `$2a$03$${seedHash.slice(7)}`],
    ['a truncated hash', seedHash.slice(0, -1)],
    ['characters outside the bcrypt alphabet', `${seedHash.slice(0, 29)}${'!'.repeat(31)}`],
    ['an argon2 hash', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo'],
  ])('answers false, without throwing, for a malformed hash: %s', async (_title, hash) => {
    await expect(hasher.verify('foobar', hash)).resolves.toBe(false);
  });

  it('refuses a secret over 72 bytes even when its first 72 bytes match', async () => {
    const secret = 'x'.repeat(72);
    const hash = await hasher.hash(secret);
    await expect(hasher.verify(secret, hash)).resolves.toBe(true);
    await expect(hasher.verify(`${secret}y`, hash)).resolves.toBe(false);
  });

  // Unknown client ids pay for a decoy comparison; a refusal that skipped the comparison would
  // answer faster and so reveal that the client exists (RFC 6819 §4.4.1.3 online guessing).
  it.each([
    ['a secret over 72 bytes', 'x'.repeat(73), 'stored'],
    ['a stored value that is not a bcrypt hash', 'foobar', 'not-a-hash'],
    ['a stored hash with a cost bcrypt cannot read (3)', 'foobar', `$2b$03$${'a'.repeat(53)}`],
    ['a stored hash with a cost bcrypt cannot read (32)', 'foobar', `$2b$32$${'a'.repeat(53)}`],
  ])('refuses %s only after a full bcrypt comparison against a decoy', async (_title, secret, stored) => {
    const hash = stored === 'stored' ? await hasher.hash('x'.repeat(72)) : stored;
    const watched = vi.mocked(bcrypt.verify);
    watched.mockClear();
    await expect(hasher.verify(secret, hash)).resolves.toBe(false);
    expect(watched).toHaveBeenCalledTimes(1);
    const [compared, against] = watched.mock.calls[0]!;
    expect(against).not.toBe(hash);
    expect(bcryptCost(String(against))).toBe(4);
    expect(Buffer.byteLength(String(compared))).toBeLessThanOrEqual(72);
  });

  it('counts the 72-byte limit in UTF-8 bytes, not characters', async () => {
    const secret = 'é'.repeat(36);
    const hash = await hasher.hash(secret);
    await expect(hasher.verify(secret, hash)).resolves.toBe(true);
    await expect(hasher.verify(`${secret}a`, hash)).resolves.toBe(false);
  });

  it('refuses to hash a secret over 72 bytes, which could never verify', async () => {
    await expect(hasher.hash('x'.repeat(73))).rejects.toBeInstanceOf(TypeError);
  });

  it('does a decoy verification without throwing, whatever the secret', async () => {
    await expect(hasher.verifyDecoy('anything')).resolves.toBeUndefined();
    await expect(hasher.verifyDecoy('x'.repeat(500))).resolves.toBeUndefined();
  });

  it('makes decoys at the cost most distinct stored hashes have, so an unknown client id costs what a known one does', async () => {
    const fresh = bcryptHasher({ cost: 4 });
    expect(fresh.decoyCost).toBe(4);
    const atCost5 = await bcryptHasher({ cost: 5 }).hash('five');
    const atCost4 = [await fresh.hash('four-a'), await fresh.hash('four-b')];
    await fresh.verify('wrong', atCost5);
    expect(fresh.decoyCost).toBe(5);
    // The same stored hash checked again and again counts once: failures cannot steer the decoy.
    for (let i = 0; i < 3; i++) await fresh.verify('wrong', atCost5);
    await fresh.verify('four-a', atCost4[0]!);
    expect(fresh.decoyCost).toBe(5);
    await fresh.verify('wrong', atCost4[1]!);
    expect(fresh.decoyCost).toBe(4);
    // A value that is not a bcrypt hash counts for nothing.
    await fresh.verify('wrong', 'not-a-hash');
    expect(fresh.decoyCost).toBe(4);
    await expect(fresh.verifyDecoy('anything')).resolves.toBeUndefined();
  });

  it.each([3, 32, 4.5, Number.NaN])('refuses the cost %s at creation', (cost) => {
    expect(() => bcryptHasher({ cost })).toThrow(TypeError);
  });
});

describe('bcryptCost', () => {
  it('reads the cost of a bcrypt hash', () => {
    expect(bcryptCost(seedHash)).toBe(10);
  });

  it('answers undefined for something that is not a bcrypt hash', () => {
    expect(bcryptCost('foobar')).toBeUndefined();
  });
});
