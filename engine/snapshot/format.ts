/**
 * Snapshot blobs. A snapshot is a pure function of the facts it covers: the same cut (per origin,
 * the last fact covered, always a signed run end) gives the same canonical bytes and the same root
 * id on every peer, whoever builds it. That is what lets other peers attest it (they build the
 * same root from their own facts and sign its id) and a catching-up peer trust it without trusting
 * its author.
 *
 *   root  := 'S' u8(2) · str space · uvarint origins · uvarint nTipChunks · (chunk id 32)* ·
 *            uvarint items · uvarint nChunks · (chunk id 32)*
 *   tips  := 'T' u8(2) · uvarint n · (bytes entry)*      entries sorted by origin; each the origin's
 *            tip fact at rest (engine/log/entry-codec.ts) with its signature: unforgeable
 *   chunk := 'C' u8(2) · uvarint nOrigins · str* · uvarint nItems ·
 *            (str collection · str item · exists · reset · uvarint nFields · (str field · stamp · json)*)*
 *   stamp := uvarint wall · uvarint logical · uvarint originRef · uvarint counter
 *   exists := u8 0 | u8 1 (false) stamp | u8 2 (true) stamp;  reset := u8 0 | u8 1 stamp
 *
 * Items are in (collection, item) order, fields in name order, origins in order of first use; a
 * chunk ends once it reaches SNAPSHOT_CHUNK_BYTES; so equal states give equal chunks. A blob's id is
 * the hex SHA-256 of its bytes.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { err, ok, type Result } from 'neverthrow';
import { corrupt, type CorruptError } from '../errors.js';
import { Reader, toHex, Writer } from '../facts/bytes.js';
import { computeHash, HASH_BYTES } from '../facts/codec.js';
import { equalBytes } from '../facts/bytes.js';
import { sha256 } from '../facts/hash.js';
import { readJson, writeJson } from '../facts/json.js';
import type { ChainTip } from '../facts/run.js';
import type { SignatureVerifier } from '../facts/sign.js';
import type { Fact, JsonValue, PeerId } from '../facts/types.js';
import { decodeEntry, encodeEntry } from '../log/entry-codec.js';
import { MAX_FRAME_BYTES, MAX_ID_BYTES, MAX_ORIGIN_LENGTH, MAX_SNAPSHOT_ORIGINS } from '../limits.js';
import type { ItemRecord, LwwState, Register } from '../state/lww.js';
import type { Stamp } from '../state/stamp.js';

/** Target size of one chunk; a chunk always fits one frame. */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024; // 256 KiB

const ROOT_MAGIC = 0x53; // 'S'
const TIPS_MAGIC = 0x54; // 'T'
const CHUNK_MAGIC = 0x43; // 'C'
const VERSION = 2;

/** The last fact of an origin a snapshot covers, with the origin's signature over its hash. */
export interface SnapshotTip {
  readonly fact: Fact;
  readonly sig: Uint8Array;
}

/** What a snapshot root says. */
export interface SnapshotRoot {
  readonly space: string;
  /** Number of origins (tips). */
  readonly origins: number;
  readonly tipChunks: readonly string[];
  /** Item records over all chunks. */
  readonly items: number;
  readonly chunks: readonly string[];
}

export const blobIdOf = (bytes: Uint8Array): string => toHex(sha256(bytes));

/** The chain tips (counter and hash per origin) of snapshot tips. */
export function chainTipsOf(tips: readonly SnapshotTip[]): Map<PeerId, ChainTip> {
  const out = new Map<PeerId, ChainTip>();
  for (const { fact } of tips) out.set(fact.origin, { counter: fact.counter, hash: fact.hash });
  return out;
}

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
    const fields = record.fields;
    w.uvarint(fields.size);
    // Fields in name order: the same registers make the same bytes, whatever order facts came in.
    // Usually they are in order already (a create writes them sorted): then no copy, no sort.
    if (inOrder(fields.keys())) {
      for (const [field, reg] of fields) {
        this.#stamp(w.string(field), reg.stamp);
        writeJson(w, reg.value);
      }
    } else {
      for (const field of [...fields.keys()].sort()) {
        const reg = fields.get(field)!;
        this.#stamp(w.string(field), reg.stamp);
        writeJson(w, reg.value);
      }
    }
    this.#items++;
    this.#total++;
    if (w.length >= SNAPSHOT_CHUNK_BYTES) this.#flush();
  }

  finish(): { id: string; bytes: Uint8Array }[] {
    if (this.#items > 0) this.#flush();
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
    this.#body.reset(); // its bytes were copied into the chunk
    this.#origins = [];
    this.#originRefs = new Map();
    this.#items = 0;
  }
}

/** Whether `names` come in ascending order (UTF-16 code units, as `Array.prototype.sort`). */
function inOrder(names: Iterable<string>): boolean {
  let previous: string | undefined;
  for (const name of names) {
    if (previous !== undefined && !(previous < name)) return false;
    previous = name;
  }
  return true;
}

/** Items of a state in a stable order (so equal states make equal chunks). */
export function* sortedItems(state: LwwState): Generator<[string, string, ItemRecord]> {
  const collections = [...state.collections()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [collection, items] of collections) {
    const ids = [...items.keys()].sort();
    for (const id of ids) yield [collection, id, items.get(id)!];
  }
}

/** Tips sorted by origin, written into chunks of at most SNAPSHOT_CHUNK_BYTES. */
export function encodeTipChunks(tips: Iterable<SnapshotTip>): { id: string; bytes: Uint8Array }[] {
  const sorted = [...tips].sort((a, b) => (a.fact.origin < b.fact.origin ? -1 : a.fact.origin > b.fact.origin ? 1 : 0));
  const chunks: { id: string; bytes: Uint8Array }[] = [];
  let entries: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    const w = new Writer(size + 16).u8(TIPS_MAGIC).u8(VERSION).uvarint(entries.length);
    for (const entry of entries) w.bytes(entry);
    const bytes = w.finish();
    chunks.push({ id: blobIdOf(bytes), bytes });
    entries = [];
    size = 0;
  };
  for (const tip of sorted) {
    const entry = encodeEntry({ ...tip.fact, sig: tip.sig });
    if (size + entry.length + 8 > SNAPSHOT_CHUNK_BYTES && entries.length > 0) flush();
    entries.push(entry);
    size += entry.length + 8;
  }
  if (entries.length > 0) flush();
  return chunks;
}

/** The tips of one tip chunk (their signatures are checked by `verifyTips`). */
export function decodeTipChunk(bytes: Uint8Array): Result<SnapshotTip[], CorruptError> {
  const r = new Reader(bytes);
  if (r.u8() !== TIPS_MAGIC || r.u8() !== VERSION) return err(corrupt('not a snapshot tip chunk'));
  const n = r.uvarint();
  if (n > r.remaining / (HASH_BYTES + 2)) return err(corrupt('bad snapshot tip chunk'));
  const tips: SnapshotTip[] = [];
  for (let i = 0; i < n && !r.failed; i++) {
    const entry = decodeEntry(r.bytes(MAX_FRAME_BYTES));
    if (entry.isErr()) return err(corrupt(`snapshot tip ${i}: ${entry.error.message}`));
    const { sig, ...fact } = entry.value;
    if (sig === undefined) return err(corrupt(`snapshot tip ${i} is not signed`));
    tips.push({ fact: fact, sig });
  }
  return r.done ? ok(tips) : err(corrupt('malformed snapshot tip chunk'));
}

/**
 * Check tips: each fact hashes to its hash (in `space`), its origin signed that hash, and no origin
 * appears twice. A snapshot can then not claim a counter its origin never signed. Resolves to the
 * first problem, or undefined.
 */
export async function verifyTips(
  space: string,
  tips: readonly SnapshotTip[],
  verifier: SignatureVerifier,
): Promise<string | undefined> {
  const seen = new Set<PeerId>();
  for (const { fact, sig } of tips) {
    if (seen.has(fact.origin)) return `two tips for ${fact.origin}`;
    seen.add(fact.origin);
    const hash = computeHash(space, fact);
    if (hash.isErr() || !equalBytes(hash.value, fact.hash))
      return `the tip of ${fact.origin} does not hash to its hash`;
    if (!(await verifier.verify(fact.origin, fact.hash, sig))) return `the tip of ${fact.origin} is not signed by it`;
  }
  return undefined;
}

export function encodeRoot(root: SnapshotRoot): Uint8Array {
  const w = new Writer(64 + (root.tipChunks.length + root.chunks.length) * 32 + root.space.length * 3);
  w.u8(ROOT_MAGIC).u8(VERSION).string(root.space).uvarint(root.origins).uvarint(root.tipChunks.length);
  for (const id of root.tipChunks) w.raw(hexToBytes(id));
  w.uvarint(root.items).uvarint(root.chunks.length);
  for (const id of root.chunks) w.raw(hexToBytes(id));
  return w.finish();
}

/** Parse a root blob. */
export function decodeRoot(bytes: Uint8Array): Result<SnapshotRoot, CorruptError> {
  const r = new Reader(bytes);
  if (r.u8() !== ROOT_MAGIC || r.u8() !== VERSION) return err(corrupt('not a snapshot root'));
  const space = r.string(MAX_ID_BYTES);
  const origins = r.uvarint();
  if (origins > MAX_SNAPSHOT_ORIGINS) return err(corrupt('bad snapshot root'));
  const readIds = (): string[] => {
    const n = r.uvarint();
    if (n > r.remaining / HASH_BYTES) {
      r.fail();
      return [];
    }
    const ids: string[] = [];
    for (let i = 0; i < n && !r.failed; i++) ids.push(toHex(r.raw(HASH_BYTES)));
    return ids;
  };
  const tipChunks = readIds();
  const items = r.uvarint();
  const chunks = readIds();
  if (!r.done) return err(corrupt('malformed snapshot root'));
  return ok({ space, origins, tipChunks, items, chunks });
}

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
