// Access-token records kept as bytes outside the JavaScript heap, for the memory store.
//
// A server issuing a thousand tokens a second keeps 1.8 million records for a 30-minute lifetime.
// As objects (the record, its arrays, its boxed timestamps, the request id) each costs several
// hundred bytes of heap that the garbage collector copies when the record survives its first
// collections and then marks on every full collection: the heap grows by gigabytes and the
// collector's work grows with it. Here a record, its signature included, is JSON in large
// buffers, and the index from signature to record is a hash table in typed arrays: the collector
// sees a few big objects however many records there are.

import { randomInt } from 'node:crypto';
import type { AccessTokenRecord } from '../index.js';

/** Bytes per slab; a record larger than this gets a slab of its own. */
const slabBytes = 256 * 1024;
/** Where a record starts in its slab is below this; the slab's number is above it. */
const slabStride = 2 ** 32;
/** Each entry: expiresAt (float64), the signature's and the JSON's byte lengths (uint32), then both as UTF-8. */
const headerBytes = 16;
/** Set in an entry's signature length once the entry is deleted; its bytes stay until the slab goes. */
const deletedFlag = 0x8000_0000;
/** Slots in the smallest index. A power of two: a hash picks a slot by masking. */
const minimumSlots = 1024;
/** In an index slot's location: no entry. */
const emptySlot = -1;

interface Slab {
  readonly bytes: Buffer;
  readonly index: number;
  /** How many records in it are still in the table; at 0 (and not being filled) it is dropped. */
  live: number;
  /** Where its last entry ends. */
  end: number;
  /** No record in it expires before this: the search for expired records skips the slab until then. */
  soonestExpiry: number;
}

/**
 * A table of access-token records by signature. Records are copied in (JSON, as the SQL stores
 * keep them), so what is read back is equal to what was stored, never the caller's object.
 * Signatures must be well-formed text (no lone surrogate): they are kept as UTF-8.
 */
export class PackedRecordTable {
  readonly #slabs: (Slab | undefined)[] = [];
  /** Live slabs, oldest first: expired records are looked for in the order they were written. */
  readonly #slabsByAge: Slab[] = [];
  /** Numbers of dropped slabs, given to new ones so the list does not grow with uptime. */
  readonly #freeIndexes: number[] = [];
  #filling: Slab | undefined;
  #used = 0;

  // The index: open addressing with linear probing, each slot an entry's hash and location.
  // A random seed keeps the slots a signature lands in unknown outside the process.
  readonly #seed = randomInt(2 ** 32);
  #hashes = new Uint32Array(minimumSlots);
  #locations = new Float64Array(minimumSlots).fill(emptySlot);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** How many slabs are held (for tests: emptied slabs are let go). */
  get slabCount(): number {
    return this.#slabsByAge.length;
  }

  /** How many slots the index has (for tests: it grows with the records and shrinks after them). */
  get indexSlots(): number {
    return this.#locations.length;
  }

  has(signature: string): boolean {
    return this.#find(signature, this.#hash(signature)) >= 0;
  }

  get(signature: string): AccessTokenRecord | undefined {
    const slot = this.#find(signature, this.#hash(signature));
    if (slot < 0) return undefined;
    const { bytes, offset } = this.#at(this.#locations[slot]!);
    const start = offset + headerBytes + bytes.readUInt32LE(offset + 8);
    const fields = JSON.parse(bytes.toString('utf8', start, start + bytes.readUInt32LE(offset + 12))) as Omit<
      AccessTokenRecord,
      'signature'
    >;
    return { signature, ...fields };
  }

  /**
   * Adds the record unless one is kept under its signature already; returns whether it was added.
   * Throws (keeping nothing) if it cannot be encoded.
   */
  add(signature: string, record: AccessTokenRecord): boolean {
    return this.addEncoded(signature, record.expiresAt, encodeAccessTokenRecord(record));
  }

  /** As {@link add}, with the record already encoded by {@link encodeAccessTokenRecord}. */
  addEncoded(signature: string, expiresAt: number, json: string): boolean {
    const hash = this.#hash(signature);
    const slot = this.#find(signature, hash);
    if (slot >= 0) return false;
    this.#insert(~slot, hash, this.#place(signature, expiresAt, json));
    return true;
  }

  /** Adds or replaces the record kept under its signature. Throws (keeping what was there) if it cannot be encoded. */
  set(signature: string, record: AccessTokenRecord): void {
    const json = encodeAccessTokenRecord(record);
    this.delete(signature);
    this.addEncoded(signature, record.expiresAt, json);
  }

  delete(signature: string): boolean {
    const slot = this.#find(signature, this.#hash(signature));
    if (slot < 0) return false;
    const location = this.#locations[slot]!;
    this.#removeSlot(slot);
    const { bytes, offset } = this.#at(location);
    bytes.writeUInt32LE((bytes.readUInt32LE(offset + 8) | deletedFlag) >>> 0, offset + 8);
    const slab = this.#slabs[Math.floor(location / slabStride)]!;
    slab.live--;
    if (slab.live === 0 && slab !== this.#filling) this.#drop(slab);
    if (this.#size * 8 < this.#locations.length && this.#locations.length > minimumSlots) {
      this.#resize(this.#locations.length / 2);
    }
    return true;
  }

  /** Signatures of records expired at `now`, at most `limit`, in the order they were written. */
  expiredSignatures(now: number, limit: number): string[] {
    const expired: string[] = [];
    for (const slab of this.#slabsByAge) {
      if (expired.length >= limit) break;
      if (slab.soonestExpiry > now) continue;
      const { bytes } = slab;
      for (let offset = 0; offset < slab.end && expired.length < limit;) {
        const signatureBytes = bytes.readUInt32LE(offset + 8);
        const length = headerBytes + (signatureBytes & ~deletedFlag) + bytes.readUInt32LE(offset + 12);
        if ((signatureBytes & deletedFlag) === 0 && bytes.readDoubleLE(offset) <= now) {
          expired.push(bytes.toString('utf8', offset + headerBytes, offset + headerBytes + signatureBytes));
        }
        offset += length;
      }
    }
    return expired;
  }

  /** A 32-bit hash of every code unit of `text`, under this table's seed. */
  #hash(text: string): number {
    let hash = this.#seed ^ text.length;
    for (let i = 0; i < text.length; i++) {
      hash = Math.imul(hash ^ text.charCodeAt(i), 0x5bd1e995);
      hash ^= hash >>> 15;
    }
    // A final mix, so that every input bit moves the low bits that pick a slot.
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
    return (hash ^ (hash >>> 16)) >>> 0;
  }

  /** The slot holding `signature`, or, when it is not kept, `~slot` of the empty slot where it would go. */
  #find(signature: string, hash: number): number {
    const hashes = this.#hashes;
    const locations = this.#locations;
    const mask = locations.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const location = locations[slot]!;
      if (location === emptySlot) return ~slot;
      if (hashes[slot] === hash && this.#signatureAt(location) === signature) return slot;
    }
  }

  #signatureAt(location: number): string {
    const { bytes, offset } = this.#at(location);
    return bytes.toString('utf8', offset + headerBytes, offset + headerBytes + bytes.readUInt32LE(offset + 8));
  }

  #insert(slot: number, hash: number, location: number): void {
    this.#hashes[slot] = hash;
    this.#locations[slot] = location;
    this.#size++;
    // At most half the slots are used, so that a search meets an empty slot soon.
    if (this.#size * 2 > this.#locations.length) this.#resize(this.#locations.length * 2);
  }

  /** Empties `slot`, moving back later entries of its run that may not stay behind a gap. */
  #removeSlot(slot: number): void {
    const hashes = this.#hashes;
    const locations = this.#locations;
    const mask = locations.length - 1;
    let gap = slot;
    for (let next = (slot + 1) & mask; locations[next] !== emptySlot; next = (next + 1) & mask) {
      const home = hashes[next]! & mask;
      // An entry may fill the gap when the gap lies between its home slot and where it is now.
      if (((next - home) & mask) >= ((next - gap) & mask)) {
        hashes[gap] = hashes[next]!;
        locations[gap] = locations[next]!;
        gap = next;
      }
    }
    locations[gap] = emptySlot;
    this.#size--;
  }

  #resize(slots: number): void {
    const hashes = this.#hashes;
    const locations = this.#locations;
    this.#hashes = new Uint32Array(slots);
    this.#locations = new Float64Array(slots).fill(emptySlot);
    const mask = slots - 1;
    for (let old = 0; old < locations.length; old++) {
      if (locations[old] === emptySlot) continue;
      let slot = hashes[old]! & mask;
      while (this.#locations[slot] !== emptySlot) slot = (slot + 1) & mask;
      this.#hashes[slot] = hashes[old]!;
      this.#locations[slot] = locations[old]!;
    }
  }

  /** Writes the entry into the slab being filled (starting one if it lacks room) and returns its location. */
  #place(signature: string, expiresAt: number, json: string): number {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8: with that much room the text is written
    // without measuring it first.
    const room = this.#filling === undefined ? 0 : this.#filling.bytes.length - this.#used;
    if (room < headerBytes + 3 * (signature.length + json.length)) {
      const size = headerBytes + Buffer.byteLength(signature) + Buffer.byteLength(json);
      if (room < size) this.#startSlab(size);
    }
    const slab = this.#filling!;
    const offset = this.#used;
    const signatureBytes = slab.bytes.write(signature, offset + headerBytes, 'utf8');
    const jsonBytes = slab.bytes.write(json, offset + headerBytes + signatureBytes, 'utf8');
    slab.bytes.writeDoubleLE(expiresAt, offset);
    slab.bytes.writeUInt32LE(signatureBytes, offset + 8);
    slab.bytes.writeUInt32LE(jsonBytes, offset + 12);
    this.#used += headerBytes + signatureBytes + jsonBytes;
    slab.end = this.#used;
    slab.live++;
    if (expiresAt < slab.soonestExpiry) slab.soonestExpiry = expiresAt;
    return slab.index * slabStride + offset;
  }

  #startSlab(size: number): void {
    const previous = this.#filling;
    if (previous !== undefined && previous.live === 0) this.#drop(previous);
    // allocUnsafeSlow: each slab is its own allocation, not a slice of node's shared pool.
    const bytes = Buffer.allocUnsafeSlow(Math.max(slabBytes, size));
    const index = this.#freeIndexes.pop() ?? this.#slabs.length;
    this.#filling = { bytes, index, live: 0, end: 0, soonestExpiry: Infinity };
    this.#slabs[index] = this.#filling;
    this.#slabsByAge.push(this.#filling);
    this.#used = 0;
  }

  #drop(slab: Slab): void {
    this.#slabs[slab.index] = undefined;
    this.#freeIndexes.push(slab.index);
    // Usually the oldest, at the front.
    this.#slabsByAge.splice(this.#slabsByAge.indexOf(slab), 1);
  }

  #at(location: number): { bytes: Buffer; offset: number } {
    const slab = this.#slabs[Math.floor(location / slabStride)]!;
    return { bytes: slab.bytes, offset: location % slabStride };
  }
}

/** The record without its signature (the table's key), as JSON, as the table keeps it. */
export function encodeAccessTokenRecord(record: AccessTokenRecord): string {
  const { signature: _key, ...fields } = record;
  return JSON.stringify(fields);
}
