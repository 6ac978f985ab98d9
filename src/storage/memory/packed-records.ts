// Access-token records kept as bytes outside the JavaScript heap, for the memory store.
//
// A server issuing a thousand tokens a second keeps 1.8 million records for a 30-minute lifetime.
// As objects (the record, its arrays, its boxed timestamps, the request id) each costs several
// hundred bytes of heap that the garbage collector copies when the record survives its first
// collections and then marks on every full collection: the heap grows by gigabytes and the
// collector's work grows with it. Kept as JSON in large buffers, a record is about a hundred
// bytes the collector never looks into; only its key (the signature) stays a heap string.

import type { AccessTokenRecord } from '../index.js';

/** Bytes per slab; a record larger than this gets a slab of its own. */
const slabBytes = 256 * 1024;
/** Where a record starts in its slab is below this; the slab's number is above it. */
const slabStride = 2 ** 32;
/** Each entry: expiresAt (float64) and the JSON's byte length (uint32), then the JSON. */
const headerBytes = 12;

interface Slab {
  readonly bytes: Buffer;
  /** How many records in it are still in the table; at 0 (and not being filled) it is dropped. */
  live: number;
}

/**
 * A table of access-token records by signature. Records are copied in (JSON, as the SQL stores
 * keep them), so what is read back is equal to what was stored, never the caller's object.
 */
export class PackedRecordTable {
  readonly #locations = new Map<string, number>();
  readonly #slabs: (Slab | undefined)[] = [];
  /** Numbers of dropped slabs, given to new ones so the list does not grow with uptime. */
  readonly #freeIndexes: number[] = [];
  #filling: Slab | undefined;
  #fillingIndex = -1;
  #used = 0;

  get size(): number {
    return this.#locations.size;
  }

  /** How many slabs are held (for tests: emptied slabs are let go). */
  get slabCount(): number {
    return this.#slabs.length - this.#freeIndexes.length;
  }

  has(signature: string): boolean {
    return this.#locations.has(signature);
  }

  get(signature: string): AccessTokenRecord | undefined {
    const location = this.#locations.get(signature);
    if (location === undefined) return undefined;
    const { bytes, offset } = this.#at(location);
    const length = bytes.readUInt32LE(offset + 8);
    const fields = JSON.parse(bytes.toString('utf8', offset + headerBytes, offset + headerBytes + length)) as Omit<
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
    if (this.#locations.has(signature)) return false;
    this.#place(signature, expiresAt, json);
    return true;
  }

  /** Adds or replaces the record kept under its signature. Throws (keeping what was there) if it cannot be encoded. */
  set(signature: string, record: AccessTokenRecord): void {
    const json = encodeAccessTokenRecord(record);
    this.delete(signature);
    this.#place(signature, record.expiresAt, json);
  }

  #place(signature: string, expiresAt: number, json: string): void {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8: with that much room the text is written
    // without measuring it first, and the length is what was written.
    const room = this.#filling === undefined ? 0 : this.#filling.bytes.length - this.#used;
    const length = room >= headerBytes + 3 * json.length ? -1 : Buffer.byteLength(json);
    const location = this.#reserve(headerBytes + Math.max(length, 0));
    const { bytes, offset } = this.#at(location);
    const written = bytes.write(json, offset + headerBytes, 'utf8');
    // Reserved ahead of writing when measured, here when not.
    if (length === -1) this.#used += written;
    bytes.writeDoubleLE(expiresAt, offset);
    bytes.writeUInt32LE(written, offset + 8);
    this.#locations.set(signature, location);
    this.#slabs[Math.floor(location / slabStride)]!.live++;
  }

  delete(signature: string): boolean {
    const location = this.#locations.get(signature);
    if (location === undefined) return false;
    this.#locations.delete(signature);
    const index = Math.floor(location / slabStride);
    const slab = this.#slabs[index]!;
    slab.live--;
    if (slab.live === 0 && slab !== this.#filling) this.#drop(index);
    return true;
  }

  /** Signatures of records expired at `now`, at most `limit`, oldest slabs first. */
  expiredSignatures(now: number, limit: number): string[] {
    const expired: string[] = [];
    for (const [signature, location] of this.#locations) {
      if (expired.length >= limit) break;
      const { bytes, offset } = this.#at(location);
      if (bytes.readDoubleLE(offset) <= now) expired.push(signature);
    }
    return expired;
  }

  #drop(index: number): void {
    this.#slabs[index] = undefined;
    this.#freeIndexes.push(index);
  }

  #at(location: number): { bytes: Buffer; offset: number } {
    const slab = this.#slabs[Math.floor(location / slabStride)]!;
    return { bytes: slab.bytes, offset: location % slabStride };
  }

  /** Finds room for `size` bytes and returns its location. */
  #reserve(size: number): number {
    if (this.#filling === undefined || this.#used + size > this.#filling.bytes.length) {
      const previous = this.#filling;
      if (previous !== undefined && previous.live === 0) this.#drop(this.#fillingIndex);
      // allocUnsafeSlow: each slab is its own allocation, not a slice of node's shared pool.
      this.#filling = { bytes: Buffer.allocUnsafeSlow(Math.max(slabBytes, size)), live: 0 };
      this.#fillingIndex = this.#freeIndexes.pop() ?? this.#slabs.length;
      this.#slabs[this.#fillingIndex] = this.#filling;
      this.#used = 0;
    }
    const location = this.#fillingIndex * slabStride + this.#used;
    this.#used += size;
    return location;
  }
}

/** The record without its signature (the table's key), as JSON, as the table keeps it. */
export function encodeAccessTokenRecord(record: AccessTokenRecord): string {
  const { signature: _key, ...fields } = record;
  return JSON.stringify(fields);
}
