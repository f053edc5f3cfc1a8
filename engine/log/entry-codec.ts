/**
 * At-rest encodings of a log entry, for storage backends: the fields of the fact without the space
 * (a log belongs to one space), plus hash and signature. Log metadata (snapshot, history, pending)
 * is not part of them: backends keep it beside the bytes, where it can change.
 *
 * - `encodeEntry` / `decodeEntry`: self-contained, for backends that keep one value per entry
 *   (IndexedDB) and for history blobs.
 * - `writeEntryBody` / `encodeEntryBody` / `decodeEntryBody` (`decodeEntryBodyAt`): origin, counter, hash and signature
 *   left out, for backends that keep those in columns of their own (SQLite). `bodyHasPrev` tells
 *   whether a body holds its prev, so a backend can elide a prev it can restore (see
 *   engine/storage/sqlite/event-log.ts) without knowing the layout.
 *
 * The data part is written and validated by the canonical encoding's code (engine/facts/codec.ts),
 * so both accept exactly the same facts.
 */
import { err, ok, type Result } from 'neverthrow';
import { corrupt, type CorruptError } from '../errors.js';
import { Reader, Writer } from '../facts/bytes.js';
import { CODE_TYPE, HASH_BYTES, readFactData, SIGNATURE_BYTES, TYPE_CODE, writeFactData } from '../facts/codec.js';
import type { Fact, Hash, Hlc, PeerId } from '../facts/types.js';
import { MAX_ID_BYTES, MAX_ORIGIN_LENGTH } from '../limits.js';
import type { FactEntry } from './fact-entry.js';

/** Bit of a body's flags byte set when the body holds a prev. */
const FLAG_PREV = 1;

/** Where entries are encoded. Not state: every use starts with `reset()` and ends before any await. */
const scratch = new Writer(1024);

/**
 * Body of an entry: everything but origin, counter, hash and signature (and the prev when
 * `withPrev` is false).
 *   u8 flags(bit0 prev) · [prev] · uvarint wall · uvarint logical · u8 type · str collection ·
 *   str item · data
 */
export function writeEntryBody(w: Writer, f: Fact, withPrev = true): void {
  // Without its prev when the caller can restore it (`withPrev` false): a flag, not a copy of the
  // fact with `prev: null` (an object per entry, and one of another shape for every reader).
  if (f.prev === null || !withPrev) w.u8(0);
  else w.u8(FLAG_PREV).raw(f.prev);
  w.uvarint(f.hlc.wall).uvarint(f.hlc.logical).u8(TYPE_CODE[f.type]).string(f.collection).string(f.item);
  // Stored facts were validated on the way in; writing the data cannot fail for them.
  writeFactData(w, f.type, f.type === 'delete' ? undefined : f.data);
}

/** Encode the body of `fact` (see `writeEntryBody`). */
export function encodeEntryBody(fact: Fact): Uint8Array {
  const w = scratch.reset();
  writeEntryBody(w, fact);
  return w.finish();
}

/** Whether a body written by `writeEntryBody` holds a prev (false for a fact written with `prev: null`). */
export function bodyHasPrev(body: Uint8Array): boolean {
  return ((body[0] ?? 0) & FLAG_PREV) !== 0;
}

/** Decode a body written by `writeEntryBody`; undefined (and a failed reader) when malformed. */
function readEntryBody(
  r: Reader,
  origin: PeerId,
  counter: number,
  hash: Hash,
  sig: Uint8Array | undefined,
): FactEntry | undefined {
  const flags = r.u8();
  const prev = flags & FLAG_PREV ? r.raw(HASH_BYTES).slice() : null;
  const hlc: Hlc = { wall: r.uvarint(), logical: r.uvarint() };
  const type = CODE_TYPE[r.u8()];
  const collection = r.string(MAX_ID_BYTES);
  const item = r.string(MAX_ID_BYTES);
  if (type === undefined || r.failed) {
    r.fail();
    return undefined;
  }
  const data = readFactData(r, type);
  if (data === null) return undefined;
  // One literal, fields in a fixed order, absent ones undefined: one hidden class for every entry.
  return { origin, counter, hlc, type, collection, item, data, prev, hash, sig } as FactEntry;
}

/** Decode a body produced by `encodeEntryBody`. */
export function decodeEntryBody(
  body: Uint8Array,
  origin: PeerId,
  counter: number,
  hash: Hash,
  sig: Uint8Array | undefined,
): Result<FactEntry, CorruptError> {
  const r = new Reader(body);
  const entry = readEntryBody(r, origin, counter, hash, sig);
  return entry !== undefined && r.done ? ok(entry) : err(corrupt('malformed entry body'));
}

/**
 * Decode the body at `buf[start, end)` like `decodeEntryBody`; undefined when malformed. For a
 * backend that keeps many bodies in one buffer and decodes them in a loop: no view and no Result
 * per entry (replay allocates as little as it can).
 */
export function decodeEntryBodyAt(
  buf: Uint8Array,
  start: number,
  end: number,
  origin: PeerId,
  counter: number,
  hash: Hash,
  sig: Uint8Array | undefined,
): FactEntry | undefined {
  return readEntryBodyIn(new Reader(buf, start, end), origin, counter, hash, sig);
}

/**
 * Decode the body in `reader`'s window like `decodeEntryBodyAt`, the whole window or undefined:
 * for a loop over many bodies of one buffer with one reader (`Reader.window`).
 */
export function readEntryBodyIn(
  r: Reader,
  origin: PeerId,
  counter: number,
  hash: Hash,
  sig: Uint8Array | undefined,
): FactEntry | undefined {
  const entry = readEntryBody(r, origin, counter, hash, sig);
  return entry !== undefined && r.done ? entry : undefined;
}

/**
 * Self-contained encoding of an entry (no metadata):
 *   str origin · uvarint counter · hash · u8 hasSig · [sig] · body
 */
export function encodeEntry(entry: FactEntry): Uint8Array {
  const w = scratch.reset();
  w.string(entry.origin).uvarint(entry.counter).raw(entry.hash);
  if (entry.sig === undefined) w.u8(0);
  else w.u8(1).raw(entry.sig);
  writeEntryBody(w, entry);
  return w.finish();
}

/** Decode what `encodeEntry` wrote. */
export function decodeEntry(bytes: Uint8Array): Result<FactEntry, CorruptError> {
  const r = new Reader(bytes);
  const origin = r.string(MAX_ORIGIN_LENGTH) as PeerId;
  const counter = r.uvarint();
  const hash = r.raw(HASH_BYTES).slice();
  const sig = r.u8() === 1 ? r.raw(SIGNATURE_BYTES).slice() : undefined;
  if (r.failed) return err(corrupt('malformed entry'));
  const entry = readEntryBody(r, origin, counter, hash, sig);
  return entry !== undefined && r.done ? ok(entry) : err(corrupt('malformed entry'));
}
