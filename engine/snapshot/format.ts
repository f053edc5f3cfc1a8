/**
 * Snapshot blobs: the LWW registers of a space (stamps and tombstones included) and the chain tips
 * they cover, split into content-addressed chunks so a big space is not one blob and each chunk
 * fits a frame.
 *
 *   root  := 'S' u8(1) · str space · str creator · uvarint nTips · (str origin · uvarint counter · hash 32)* ·
 *            uvarint items · uvarint nChunks · (chunk id 32)* · sig 64
 *   (`items` counts item records over all chunks: one item may appear in several chunks, the later
 *   ones newer; loading merges them all, which LWW registers allow in any order.)
 *   chunk := 'C' u8(1) · uvarint nOrigins · str* · uvarint nItems ·
 *            (str collection · str item · exists · reset · uvarint nFields · (str field · stamp · json)*)*
 *   stamp := uvarint wall · uvarint logical · uvarint originRef · uvarint counter
 *   exists := u8 0 | u8 1 (false) stamp | u8 2 (true) stamp;  reset := u8 0 | u8 1 stamp
 *
 * A blob's id is the hex SHA-256 of its bytes. The root is signed by the peer that made it: a
 * snapshot cannot be checked fact by fact, so whoever loads one trusts its creator (and can name
 * it), while the chain tips let the next signed run of each origin link onto it.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { err, ok, type Result } from 'neverthrow';
import { corrupt, type CorruptError } from '../errors.js';
import { Reader, toHex, Writer } from '../facts/bytes.js';
import { HASH_BYTES, SIGNATURE_BYTES } from '../facts/codec.js';
import { sha256 } from '../facts/hash.js';
import { readJson, writeJson } from '../facts/json.js';
import type { ChainTip } from '../facts/run.js';
import type { PeerId } from '../facts/types.js';
import { MAX_ID_BYTES, MAX_ORIGIN_LENGTH, MAX_SNAPSHOT_ORIGINS } from '../limits.js';
import type { ItemRecord, LwwState, Register } from '../state/lww.js';
import type { Stamp } from '../state/stamp.js';
import type { JsonValue } from '../facts/types.js';

/** Target size of one chunk; a chunk always fits one frame. */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024; // 256 KiB

const ROOT_MAGIC = 0x53; // 'S'
const CHUNK_MAGIC = 0x43; // 'C'
const VERSION = 1;

/** What a snapshot root says. */
export interface SnapshotRoot {
  readonly space: string;
  readonly creator: PeerId;
  /** Per origin, the last fact the snapshot covers. */
  readonly tips: ReadonlyMap<PeerId, ChainTip>;
  readonly items: number;
  readonly chunks: readonly string[];
  /** The signed part's hash and the creator's signature over it. */
  readonly signed: Uint8Array;
  readonly sig: Uint8Array;
}

export const blobIdOf = (bytes: Uint8Array): string => toHex(sha256(bytes));

/** Writes items into chunks of about SNAPSHOT_CHUNK_BYTES, each with its own origin table. */
export class ChunkWriter {
  readonly #chunks: { id: string; bytes: Uint8Array }[] = [];
  #body = new Writer(SNAPSHOT_CHUNK_BYTES + 4096);
  #origins: string[] = [];
  #originRefs = new Map<string, number>();
  #items = 0;
  #total = 0;

  get items(): number {
    return this.#total;
  }

  add(collection: string, item: string, record: ItemRecord): void {
    const w = this.#body;
    w.string(collection).string(item);
    if (record.exists === undefined) w.u8(0);
    else this.#stamp(w.u8(record.exists.value ? 2 : 1), record.exists.stamp);
    if (record.reset === undefined) w.u8(0);
    else this.#stamp(w.u8(1), record.reset);
    w.uvarint(record.fields.size);
    for (const [field, reg] of record.fields) {
      this.#stamp(w.string(field), reg.stamp);
      writeJson(w, reg.value);
    }
    this.#items++;
    this.#total++;
    if (w.length >= SNAPSHOT_CHUNK_BYTES) this.#flush();
  }

  finish(): { id: string; bytes: Uint8Array }[] {
    if (this.#items > 0 || this.#chunks.length === 0) this.#flush();
    return this.#chunks;
  }

  #stamp(w: Writer, s: Stamp): void {
    let ref = this.#originRefs.get(s.origin);
    if (ref === undefined) {
      ref = this.#origins.length;
      this.#origins.push(s.origin);
      this.#originRefs.set(s.origin, ref);
    }
    w.uvarint(s.wall).uvarint(s.logical).uvarint(ref).uvarint(s.counter);
  }

  #flush(): void {
    const w = new Writer(this.#body.length + 64 * this.#origins.length + 16);
    w.u8(CHUNK_MAGIC).u8(VERSION).uvarint(this.#origins.length);
    for (const origin of this.#origins) w.string(origin);
    w.uvarint(this.#items).raw(this.#body.view());
    const bytes = w.finish();
    this.#chunks.push({ id: blobIdOf(bytes), bytes });
    this.#body = new Writer(SNAPSHOT_CHUNK_BYTES + 4096);
    this.#origins = [];
    this.#originRefs = new Map();
    this.#items = 0;
  }
}

/** Items of a state in a stable order (so equal states make equal chunks). */
export function* sortedItems(state: LwwState): Generator<[string, string, ItemRecord]> {
  const collections = [...state.collections()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [collection, items] of collections) {
    const ids = [...items.keys()].sort();
    for (const id of ids) yield [collection, id, items.get(id)!];
  }
}

/** The root's signed body for `chunks` covering `tips`. */
export function encodeRootBody(
  space: string,
  creator: PeerId,
  tips: ReadonlyMap<PeerId, ChainTip>,
  items: number,
  chunks: readonly string[],
): Uint8Array {
  const w = new Writer(256 + tips.size * 96 + chunks.length * 32);
  w.u8(ROOT_MAGIC).u8(VERSION).string(space).string(creator).uvarint(tips.size);
  for (const [origin, tip] of [...tips].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
    w.string(origin).uvarint(tip.counter).raw(tip.hash);
  w.uvarint(items).uvarint(chunks.length);
  for (const id of chunks) w.raw(hexToBytes(id));
  return w.finish();
}

/** The full root blob: body and signature. */
export function encodeRoot(body: Uint8Array, sig: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + sig.length);
  out.set(body);
  out.set(sig, body.length);
  return out;
}

/** Parse a root blob (the signature is checked by the caller, who has the verifier). */
export function decodeRoot(bytes: Uint8Array): Result<SnapshotRoot, CorruptError> {
  if (bytes.length < SIGNATURE_BYTES + 4) return err(corrupt('snapshot root too short'));
  const body = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  const r = new Reader(body);
  if (r.u8() !== ROOT_MAGIC || r.u8() !== VERSION) return err(corrupt('not a snapshot root'));
  const space = r.string(MAX_ID_BYTES);
  const creator = r.string(MAX_ORIGIN_LENGTH) as PeerId;
  const nTips = r.uvarint();
  if (nTips > MAX_SNAPSHOT_ORIGINS || nTips > r.remaining / (HASH_BYTES + 2)) return err(corrupt('bad snapshot root'));
  const tips = new Map<PeerId, ChainTip>();
  for (let i = 0; i < nTips && !r.failed; i++) {
    const origin = r.string(MAX_ORIGIN_LENGTH) as PeerId;
    tips.set(origin, { counter: r.uvarint(), hash: r.raw(HASH_BYTES).slice() });
  }
  const items = r.uvarint();
  const nChunks = r.uvarint();
  if (nChunks > r.remaining / HASH_BYTES) return err(corrupt('bad snapshot root'));
  const chunks: string[] = [];
  for (let i = 0; i < nChunks && !r.failed; i++) chunks.push(toHex(r.raw(HASH_BYTES)));
  if (!r.done) return err(corrupt('malformed snapshot root'));
  return ok({
    space,
    creator,
    tips,
    items,
    chunks,
    signed: sha256(body),
    sig: bytes.slice(bytes.length - SIGNATURE_BYTES),
  });
}

/** Hash of a root body: what its creator signs. */
export const rootSigningHash = (body: Uint8Array): Uint8Array => sha256(body);

/** Every item of a chunk, passed to `visit`. Fails on anything malformed. */
export function decodeChunk(
  bytes: Uint8Array,
  visit: (collection: string, item: string, record: ItemRecord) => void,
): Result<number, CorruptError> {
  const r = new Reader(bytes);
  if (r.u8() !== CHUNK_MAGIC || r.u8() !== VERSION) return err(corrupt('not a snapshot chunk'));
  const nOrigins = r.uvarint();
  if (nOrigins > r.remaining) return err(corrupt('bad snapshot chunk'));
  const origins: PeerId[] = [];
  for (let i = 0; i < nOrigins && !r.failed; i++) origins.push(r.string(MAX_ORIGIN_LENGTH) as PeerId);
  const stamp = (): Stamp => {
    const wall = r.uvarint();
    const logical = r.uvarint();
    const origin = origins[r.uvarint()];
    const counter = r.uvarint();
    if (origin === undefined) r.fail();
    return { wall, logical, origin: origin ?? ('' as PeerId), counter };
  };
  const nItems = r.uvarint();
  if (nItems > r.remaining / 5) return err(corrupt('bad snapshot chunk'));
  for (let i = 0; i < nItems && !r.failed; i++) {
    const collection = r.string(MAX_ID_BYTES);
    const item = r.string(MAX_ID_BYTES);
    const e = r.u8();
    const exists: Register<boolean> | undefined = e === 0 ? undefined : { value: e === 2, stamp: stamp() };
    const reset = r.u8() === 1 ? stamp() : undefined;
    const nFields = r.uvarint();
    if (nFields > r.remaining) return err(corrupt('bad snapshot chunk'));
    const fields = new Map<string, Register<JsonValue>>();
    for (let k = 0; k < nFields && !r.failed; k++) {
      const field = r.string(MAX_ID_BYTES);
      const s = stamp();
      const value = readJson(r);
      if (value === undefined || field === '__proto__') r.fail();
      else fields.set(field, { value, stamp: s });
    }
    if (r.failed) break;
    visit(collection, item, { exists, reset, fields });
  }
  return r.done ? ok(nItems) : err(corrupt('malformed snapshot chunk'));
}
