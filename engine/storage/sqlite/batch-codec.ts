/**
 * The bytes of one batch row of a SQLite log (./event-log.ts): the entries of one group commit,
 * back to back, so a row is one BLOB the driver allocates once, however many entries it holds.
 *
 *   record = uvarint length · hash (32) · uvarint (origin id · 2 + has sig) · uvarint counter ·
 *            [sig (64)] · body
 *
 * `length` counts the bytes after itself, so a reader can step over a record without decoding it.
 * `body` is `writeEntryBody` (engine/log/entry-codec.ts), written without prev when the prev is the
 * hash of the record just before it in the same row (runs of one origin are appended together, so
 * that is the usual case); a row never depends on another row, and the first record of a row
 * always holds its prev. Log metadata (snapshot, history, pending) is not in the row: it changes,
 * and lives in a table of its own.
 */
import { err, ok, type Result } from 'neverthrow';
import { equalBytes, Reader, type StringTable, type Writer } from '../../facts/bytes.js';
import { HASH_BYTES, SIGNATURE_BYTES } from '../../facts/codec.js';
import type { PeerId } from '../../facts/types.js';
import { readEntryBodyIn, writeEntryBody } from '../../log/entry-codec.js';
import type { FactEntry } from '../../log/fact-entry.js';

/**
 * Append to `w` the record of `entry`, whose origin is `originId`; `predecessor` is the hash of the
 * record before it in the row (undefined for the first), and the prev is left out when equal to it.
 * `scratch` is where the record is assembled before its length is known.
 */
export function writeRecord(
  w: Writer,
  scratch: Writer,
  entry: FactEntry,
  originId: number,
  predecessor: Uint8Array | undefined,
): void {
  const elide = entry.prev !== null && predecessor !== undefined && equalBytes(entry.prev, predecessor);
  const r = scratch.reset();
  r.raw(entry.hash)
    .uvarint(originId * 2 + (entry.sig === undefined ? 0 : 1))
    .uvarint(entry.counter);
  if (entry.sig !== undefined) r.raw(entry.sig);
  writeEntryBody(r, entry, !elide);
  w.bytes(r.view());
}

/**
 * Reads the records of one row in order. `origins` maps origin ids back to origins. Every method
 * that fails returns a message (the caller names the file and space); the cursor is then spent.
 */
export class RowCursor {
  /** Sequence id of the row's first record. */
  readonly first: number;
  /** Records in the row. */
  readonly count: number;
  readonly #blob: Uint8Array;
  readonly #origins: readonly (string | undefined)[];
  /** Index (in the row) of the next record, and the offset of its length prefix. */
  #index = 0;
  #pos = 0;
  /** Offset of the hash of the record `#record()` read last. */
  #recordAt = 0;
  /** Where the last `#varint` call stopped. */
  #varintEnd = 0;
  /** Offset of the hash of the record before `#index`, or -1 at the start of the row. */
  #predecessorAt = -1;
  /** The hash at `#predecessorAt` once copied out (entries share it as their prev). */
  #predecessor: Uint8Array | undefined;

  /** Reads each record's body in turn. */
  readonly #reader: Reader;

  constructor(
    first: number,
    count: number,
    blob: Uint8Array,
    origins: readonly (string | undefined)[],
    strings?: StringTable,
  ) {
    this.first = first;
    this.count = count;
    this.#blob = blob;
    this.#origins = origins;
    this.#reader = new Reader(blob, 0, blob.length, strings);
  }

  /** Sequence id of the next record. */
  get next(): number {
    return this.first + this.#index;
  }

  /** True once every record was read. */
  get done(): boolean {
    return this.#index >= this.count;
  }

  /** The bytes of the row from the next record on (a view), e.g. to keep the tail of a cut row. */
  get rest(): Uint8Array {
    return this.#blob.subarray(this.#pos);
  }

  /** A copy of the hash of the record before the next one, if the row has one. */
  predecessor(): Uint8Array | undefined {
    if (this.#predecessorAt < 0) return undefined;
    return (this.#predecessor ??= this.#blob.slice(this.#predecessorAt, this.#predecessorAt + HASH_BYTES));
  }

  /** Step over records until `seq` is the next one. */
  skipTo(seq: number): Result<void, string> {
    const blob = this.#blob;
    while (this.first + this.#index < seq) {
      if (this.#index >= this.count) return err(`row ${this.first} ends before entry ${seq}`);
      const end = this.#record();
      if (end < 0) return err(`row ${this.first}: record ${this.#index} is cut short`);
      this.#predecessorAt = this.#recordAt;
      this.#predecessor = undefined;
      this.#pos = end;
      this.#index++;
    }
    if (this.#pos > blob.length) return err(`row ${this.first} is cut short`);
    return ok(undefined);
  }

  /** Decode the next record; its prev is restored from the record before it when elided. */
  read(): Result<FactEntry, string> {
    const entry = this.#decode();
    return typeof entry === 'string' ? err(entry) : ok(entry);
  }

  /** Decode records into `out` until the one before `to` or the end of the row. */
  readInto(to: number, out: FactEntry[]): Result<void, string> {
    const stop = Math.min(this.count, to - this.first);
    while (this.#index < stop) {
      const entry = this.#decode();
      if (typeof entry === 'string') return err(entry);
      out.push(entry);
    }
    return ok(undefined);
  }

  /** The next record decoded, or what is wrong with it (a value per entry, not a Result: replay is bound by allocation). */
  #decode(): FactEntry | string {
    const seq = this.first + this.#index;
    if (this.#index >= this.count) return `row ${this.first} has no entry ${seq}`;
    const end = this.#record();
    if (end < 0) return `entry ${seq} is cut short`;
    const blob = this.#blob;
    const at = this.#recordAt;
    let pos = at + HASH_BYTES;
    const originSig = this.#varint(blob, pos, end);
    if (originSig < 0) return `entry ${seq}: bad origin`;
    pos = this.#varintEnd;
    const counter = this.#varint(blob, pos, end);
    if (counter < 1) return `entry ${seq}: bad counter`;
    pos = this.#varintEnd;
    const origin = this.#origins[Math.floor(originSig / 2)];
    if (origin === undefined) return `entry ${seq} names unknown origin ${Math.floor(originSig / 2)}`;
    let sig: Uint8Array | undefined;
    if (originSig % 2 === 1) {
      sig = blob.slice(pos, pos + SIGNATURE_BYTES);
      pos += SIGNATURE_BYTES;
    }
    if (pos >= end) return `entry ${seq} is cut short`;
    // A copy, not a view: an entry the engine keeps (a run's last hash) must not pin the whole
    // row. Copied by hand: for 32 bytes that beats `slice` (no species lookup, no memcpy call).
    const hash = new Uint8Array(HASH_BYTES);
    for (let i = 0; i < HASH_BYTES; i++) hash[i] = blob[at + i]!;
    const entry = readEntryBodyIn(this.#reader.window(pos, end), origin as PeerId, counter, hash, sig) as
      { -readonly [K in keyof FactEntry]: FactEntry[K] } | undefined;
    if (entry === undefined) return `entry ${seq}: malformed entry body`;
    if (entry.prev === null && counter > 1) {
      const prev = this.predecessor();
      if (prev === undefined) return `entry ${seq} has no stored prev and no predecessor in its row`;
      entry.prev = prev;
    }
    this.#predecessorAt = at;
    this.#predecessor = hash;
    this.#pos = end;
    this.#index++;
    return entry as FactEntry;
  }

  /**
   * Read the next record's length prefix: sets `#recordAt` (where its hash starts) and returns
   * where it ends, or -1 when the row is cut short. Two numbers, not an object: this runs per entry.
   */
  #record(): number {
    const blob = this.#blob;
    const length = this.#varint(blob, this.#pos, blob.length);
    if (length < HASH_BYTES) return -1;
    this.#recordAt = this.#varintEnd;
    const end = this.#varintEnd + length;
    return end > blob.length ? -1 : end;
  }

  /** The unsigned varint at `pos` (before `end`), -1 when malformed; sets `#varintEnd`. */
  #varint(buf: Uint8Array, pos: number, end: number): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8 && pos < end; i++) {
      const b = buf[pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.#varintEnd = pos;
        return result <= Number.MAX_SAFE_INTEGER ? result : -1;
      }
      scale *= 0x80;
    }
    return -1;
  }
}
