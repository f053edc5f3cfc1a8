/**
 * Binary codec of the sync protocol.
 *
 *   frame   := u8 type · str space · body
 *   hello   := uvarint version · u8 flags(1 reply, 2 more) · vector        (the first page of the sender's vector)
 *   have    := u8 more · vector                                           (the next page)
 *   facts   := uvarint nRuns · (bytes run)*
 *   run     := sref origin · uvarint first · uvarint n · u8 hasPrev · [prev 32] · hash 32 · sig 64 · fact*
 *   fact    := u8 head · [svarint wallDelta · uvarint logical] · [sref collection] · sref item · data
 *   head    := type (bits 0–1: 1 create, 2 update, 3 delete) | 4 tick | 8 same collection | 16 same fields
 *              (tick: the wall time is the previous fact's and logical one more, so no clock follows;
 *              same collection: none follows; same fields: see data)
 *   data    := create: [uvarint nFields · sref field*] json* | update: [sref field] json | delete: ∅
 *              (the field names are left out when the head says "same fields": the previous create's
 *              names in their order, the previous update's field)
 *   sref    := uvarint 0 · str (a new string) | uvarint 1 · bytes (a new string: the base64url form of
 *              these bytes, a multiple of 3 of them, as item ids are) | uvarint k ≥ 2 (the run's
 *              (k−2)th new string)
 *   ack     := vector
 *   gossip  := uvarint n · (str peer · uvarint seq · vector · sig 64)*   (signed statements)
 *   error   := str code · str message · uvarint retryAfter (ms; 0: none)
 *   snapshot-offer := blob id 32 · vector · uvarint n · attestation* · uvarint n · (history head id 32)*
 *   attest-request := root id 32 · attestation
 *   attestation    := root id 32 · attestation
 *   (attestation   := str attester · sig 64)
 *   blob-request   := uvarint n · (blob id 32)*
 *   gone           := uvarint n · (blob id 32)*
 *   blob           := blob id 32 · bytes
 *   prune, graft   := ∅
 *   vector  := uvarint n · (originKey 8 · uvarint counter)*     (n ≤ MAX_VECTOR_PAGE_ORIGINS; see origin-key.ts)
 *
 * Each run carries its own strings (origin, collections, items, field names), each sent once, where
 * first used, so a run's bytes are the same in every frame: receivers decode and hash a run they have
 * seen once only. Hashes are not sent except the last of each run (the receiver recomputes the
 * chain); what facts of a run share (clock, collection, field names) is sent once per change: a
 * steady stream of field updates costs ~5 bytes per fact plus its item and value.
 *
 * Decoding never throws and checks every length and count against the bytes left before it
 * allocates anything.
 */
import { err, ok, type Result } from 'neverthrow';
import { hexToBytes } from '@noble/hashes/utils.js';
import { equalBytes, Reader, toHex, Writer } from '../facts/bytes.js';
import { sha256 } from '../facts/hash.js';
import { CODE_TYPE, HASH_BYTES, SIGNATURE_BYTES, TYPE_CODE } from '../facts/codec.js';
import { readJson, writeJson } from '../facts/json.js';
import type { FactBody, Run } from '../facts/run.js';
import type { JsonObject, JsonValue, PeerId } from '../facts/types.js';
import {
  DECODED_RUN_CACHE_FACTS,
  ENCODED_RUN_CACHE_BYTES,
  MAX_FRAME_BYTES,
  MAX_ID_BYTES,
  MAX_ORIGIN_LENGTH,
  MAX_GOSSIP_STATEMENTS,
  MAX_HISTORY_HEADS,
  MAX_OFFER_ATTESTATIONS,
  MAX_VECTOR_PAGE_ORIGINS,
} from '../limits.js';
import type { Message, MessageType, Statement, WireAttestation } from './messages.js';
import { ORIGIN_KEY_BYTES, originKeyAt, type OriginKey, type WireVector } from './origin-key.js';

const TYPE_BYTE: Record<MessageType, number> = {
  hello: 1,
  facts: 2,
  ack: 3,
  gossip: 4,
  error: 5,
  'snapshot-offer': 6,
  'blob-request': 7,
  blob: 8,
  gone: 9,
  have: 10,
  'attest-request': 11,
  attestation: 12,
  prune: 13,
  graft: 14,
};
const TYPE_OF_BYTE = new Map(Object.entries(TYPE_BYTE).map(([type, byte]) => [byte, type as MessageType]));

/** The message type a frame claims in its first byte, without decoding it (for meters and taps). */
export function frameType(frame: Uint8Array): MessageType | undefined {
  return frame.length === 0 ? undefined : TYPE_OF_BYTE.get(frame[0]!);
}
const BLOB_ID_BYTES = 32;
/** Most blobs asked for in one request. */
const MAX_BLOB_REQUEST = 256;
const MAX_ERROR_TEXT_BYTES = 4096;

/** A frame that does not decode. The sender gets an `error` and a strike. */
export interface DecodeError {
  readonly type: 'malformed' | 'too-large';
  readonly message: string;
}

function writeVector(w: Writer, vector: WireVector): void {
  w.uvarint(vector.size);
  for (const [key, counter] of vector) w.hex(key).uvarint(counter);
}

function readVector(r: Reader): WireVector {
  const n = r.uvarint();
  const vector = new Map<OriginKey, number>();
  if (n > MAX_VECTOR_PAGE_ORIGINS || n > r.remaining / (ORIGIN_KEY_BYTES + 1)) {
    r.fail();
    return vector;
  }
  for (let i = 0; i < n && !r.failed; i++) {
    const key = originKeyAt(r.raw(ORIGIN_KEY_BYTES));
    vector.set(key, r.uvarint());
  }
  return vector;
}

const header = (type: MessageType, space: string): Writer => new Writer(128).u8(TYPE_BYTE[type]).string(space);

/** Encode any message. Facts messages with many runs are better built with `FactsFrameBuilder`. */
export function encodeMessage(message: Message, cache?: RunCodecCache): Uint8Array {
  switch (message.type) {
    case 'facts': {
      const builder = new FactsFrameBuilder(message.space, Number.MAX_SAFE_INTEGER, cache);
      for (const run of message.runs) builder.add(run);
      return builder.finish();
    }
    case 'hello': {
      const w = header('hello', message.space);
      w.uvarint(message.version).u8((message.reply ? 1 : 0) | (message.more ? 2 : 0));
      writeVector(w, message.vector);
      return w.finish();
    }
    case 'have': {
      const w = header('have', message.space).u8(message.more ? 1 : 0);
      writeVector(w, message.vector);
      return w.finish();
    }
    case 'ack': {
      const w = header('ack', message.space);
      writeVector(w, message.vector);
      return w.finish();
    }
    case 'gossip': {
      const w = header('gossip', message.space);
      w.uvarint(message.statements.length);
      for (const statement of message.statements) {
        w.string(statement.peer).uvarint(statement.seq);
        writeVector(w, statement.vector);
        w.raw(statement.sig);
      }
      return w.finish();
    }
    case 'error': {
      const w = header('error', message.space);
      w.string(message.code.slice(0, 64)).string(message.message.slice(0, 1024));
      w.uvarint(Math.max(0, Math.floor(message.retryAfter ?? 0)));
      return w.finish();
    }
    case 'snapshot-offer': {
      const w = header('snapshot-offer', message.space).raw(hexToBytes(message.blobId));
      writeVector(w, message.vector);
      const attestations = message.attestations.slice(0, MAX_OFFER_ATTESTATIONS);
      w.uvarint(attestations.length);
      for (const a of attestations) w.string(a.attester).raw(a.sig);
      const history = message.history.slice(0, MAX_HISTORY_HEADS);
      w.uvarint(history.length);
      for (const id of history) w.raw(hexToBytes(id));
      return w.finish();
    }
    case 'attest-request':
    case 'attestation': {
      const w = header(message.type, message.space).raw(hexToBytes(message.root));
      w.string(message.attestation.attester).raw(message.attestation.sig);
      return w.finish();
    }
    case 'blob-request':
    case 'gone': {
      const w = header(message.type, message.space).uvarint(message.ids.length);
      for (const id of message.ids) w.raw(hexToBytes(id));
      return w.finish();
    }
    case 'blob':
      return header('blob', message.space).raw(hexToBytes(message.id)).bytes(message.bytes).finish();
    case 'prune':
    case 'graft':
      return header(message.type, message.space).finish();
  }
}

/**
 * Builds one facts frame from runs and refuses a run that would push the frame past `maxBytes`
 * (the caller sends the frame and starts another).
 */
export class FactsFrameBuilder {
  readonly #space: string;
  readonly #maxBytes: number;
  readonly #cache: RunCodecCache | undefined;
  readonly #runs: Uint8Array[] = [];
  #bytes = 0;
  #facts = 0;

  constructor(space: string, maxBytes = MAX_FRAME_BYTES, cache?: RunCodecCache) {
    this.#space = space;
    this.#cache = cache;
    this.#maxBytes = maxBytes;
  }

  get runs(): number {
    return this.#runs.length;
  }

  get facts(): number {
    return this.#facts;
  }

  /** Upper bound of the frame size so far. */
  get size(): number {
    return 16 + this.#space.length * 3 + this.#bytes;
  }

  /** Add a run; false (and nothing added) when it would not fit. */
  add(run: Run): boolean {
    const bytes = encodeRun(run, this.#cache);
    if (this.size + bytes.length + 4 > this.#maxBytes && this.#runs.length > 0) return false;
    this.#runs.push(bytes);
    this.#bytes += bytes.length + 4;
    this.#facts += run.facts.length;
    return true;
  }

  finish(): Uint8Array {
    const w = header('facts', this.#space).uvarint(this.#runs.length);
    for (const run of this.#runs) w.bytes(run);
    return w.finish();
  }
}

/**
 * A cache of runs, oldest out first, bounded by the total weight of what it holds
 * (a run may be one fact or thousands: a bound on entries alone let a long-lived peer keep a
 * million decoded facts, and their verified chains, alive).
 */
class RunCache<V> {
  readonly #entries = new Map<string, { value: V; weight: number }>();
  #weight = 0;

  constructor(readonly maxWeight: number) {}

  get(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Keep `value` unless it alone would take a quarter of the cache. */
  remember(key: string, value: V, weight: number): V {
    if (weight > this.maxWeight / 4 || this.#entries.has(key)) return value;
    for (const [oldest, entry] of this.#entries) {
      if (this.#weight + weight <= this.maxWeight) break;
      this.#entries.delete(oldest);
      this.#weight -= entry.weight;
    }
    this.#entries.set(key, { value, weight });
    this.#weight += weight;
    return value;
  }
}

/**
 * Run encodings and decodings done so far, each a pure function of its key: encoded runs by content
 * (first counter, last hash, signature: the same run goes to many remotes), decoded runs by the
 * SHA-256 of their bytes (the same run arrives from many remotes). Owned by a peer, or shared on
 * purpose between the replicas of one simulated network.
 */
export class RunCodecCache {
  /** Weight: bytes. */
  readonly encoded = new RunCache<Uint8Array>(ENCODED_RUN_CACHE_BYTES);
  /** Weight: facts (a decoded fact with its verified chain takes a few hundred bytes). */
  readonly decoded = new RunCache<Run | null>(DECODED_RUN_CACHE_FACTS);
  /**
   * The last encoding of a run with each signature object: runs read from the log for one remote
   * after another carry the same signature object, so they are found without hex-encoding a key.
   */
  readonly #bySig = new WeakMap<Uint8Array, { first: number; hash: Uint8Array; bytes: Uint8Array }>();

  /** The encoding of `run` remembered by `bySig`, if the run is the one it was made for. */
  encodedRun(run: Run): Uint8Array | undefined {
    const known = this.#bySig.get(run.sig);
    if (known === undefined || known.first !== run.first) return undefined;
    return known.hash === run.hash || equalBytes(known.hash, run.hash) ? known.bytes : undefined;
  }

  rememberRun(run: Run, bytes: Uint8Array): Uint8Array {
    this.#bySig.set(run.sig, { first: run.first, hash: run.hash, bytes });
    return bytes;
  }
}

/**
 * One run, self-contained: its strings are defined where first used, so its bytes are the same in
 * every frame that carries it (which is what lets receivers share its decoding and hashing).
 */
export function encodeRun(run: Run, cache?: RunCodecCache): Uint8Array {
  const quick = cache?.encodedRun(run);
  if (quick !== undefined) return quick;
  const key = cache === undefined ? '' : `${run.first}:${toHex(run.hash)}:${toHex(run.sig.subarray(0, 8))}`;
  const known = cache?.encoded.get(key);
  if (known !== undefined) return cache!.rememberRun(run, known);
  const w = new Writer(160 + run.facts.length * 24);
  const strings = new StringRefs(w);
  strings.write(run.origin);
  w.uvarint(run.first).uvarint(run.facts.length);
  if (run.prev === null) w.u8(0);
  else w.u8(1).raw(run.prev);
  w.raw(run.hash).raw(run.sig);
  let wall = 0;
  let logical = -1;
  let collection: string | undefined;
  let fields: readonly string[] | undefined;
  let field: string | undefined;
  for (const f of run.facts) {
    let head = TYPE_CODE[f.type];
    const tick = f.hlc.wall === wall && f.hlc.logical === logical + 1;
    if (tick) head |= HEAD_TICK;
    if (f.collection === collection) head |= HEAD_SAME_COLLECTION;
    let keys: string[] | undefined;
    if (f.type === 'create') {
      keys = Object.keys(f.data!);
      if (fields !== undefined && sameKeys(keys, fields)) head |= HEAD_SAME_FIELDS;
    } else if (f.type === 'update') {
      keys = Object.keys(f.data!);
      if (keys[0] === field) head |= HEAD_SAME_FIELDS;
    }
    w.u8(head);
    if (!tick) w.svarint(f.hlc.wall - wall).uvarint(f.hlc.logical);
    wall = f.hlc.wall;
    logical = f.hlc.logical;
    if (f.collection !== collection) strings.write((collection = f.collection));
    strings.write(f.item);
    if (keys === undefined) continue;
    const data = f.data!;
    const same = (head & HEAD_SAME_FIELDS) !== 0;
    if (f.type === 'create') {
      if (!same) {
        w.uvarint(keys.length);
        fields = keys;
      }
      for (const k of keys) {
        if (!same) strings.write(k);
        writeJson(w, data[k]);
      }
    } else {
      if (!same) strings.write((field = keys[0]!));
      writeJson(w, data[keys[0]!]);
    }
  }
  const bytes = w.finish();
  return cache === undefined ? bytes : cache.rememberRun(run, cache.encoded.remember(key, bytes, bytes.length));
}

/** Fact head bits above the type code (bits 0–1). */
const HEAD_TYPE = 0b11;
/** The wall time is the previous fact's and the logical counter one more: no clock follows. */
const HEAD_TICK = 1 << 2;
/** The collection is the previous fact's. */
const HEAD_SAME_COLLECTION = 1 << 3;
/** A create with the previous create's field names, in order; an update of the previous update's field. */
const HEAD_SAME_FIELDS = 1 << 4;
const HEAD_KNOWN = HEAD_TYPE | HEAD_TICK | HEAD_SAME_COLLECTION | HEAD_SAME_FIELDS;

/** Reference tags of `sref`: a new UTF-8 string, a new base64url string, or an earlier one. */
const SREF_UTF8 = 0;
const SREF_BASE64URL = 1;
const SREF_EARLIER = 2;
/** Longest base64url string sent as its bytes (an item id is 16 characters). */
const MAX_BASE64URL_BYTES = 48;

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The strings a run has written so far, each sent once: after that, by its position. */
class StringRefs {
  readonly #refs = new Map<string, number>();

  constructor(readonly w: Writer) {}

  write(s: string): void {
    const known = this.#refs.get(s);
    if (known !== undefined) {
      this.w.uvarint(known + SREF_EARLIER);
      return;
    }
    this.#refs.set(s, this.#refs.size);
    if (isBase64url(s)) writeBase64urlBytes(this.w.uvarint(SREF_BASE64URL), s);
    else this.w.uvarint(SREF_UTF8).string(s);
  }
}

/** The base64url alphabet (RFC 4648 §5) as character codes, and each code's value (-1: not in it). */
const B64URL_CODE = Uint8Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', (c) =>
  c.charCodeAt(0),
);
const B64URL_VALUE = new Int8Array(128).fill(-1);
for (const [i, code] of B64URL_CODE.entries()) B64URL_VALUE[code] = i;

/**
 * Whether `s` is the base64url form of whole byte triples (a multiple of 4 characters: every such
 * string is the one encoding of its bytes), not too long.
 */
function isBase64url(s: string): boolean {
  const n = s.length;
  if (n === 0 || n % 4 !== 0 || (n / 4) * 3 > MAX_BASE64URL_BYTES) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || B64URL_VALUE[c]! < 0) return false;
  }
  return true;
}

/**
 * Read bytes written by `writeBase64urlBytes` as their base64url form; undefined (and the reader
 * failed) when they are not whole triples. Built from character codes at once: an item id is read
 * per fact, and a string grown by concatenation is a rope to flatten later.
 */
function readBase64url(r: Reader): string | undefined {
  const raw = r.bytes(MAX_BASE64URL_BYTES);
  if (raw.length === 0 || raw.length % 3 !== 0) {
    r.fail();
    return undefined;
  }
  const codes = new Array<number>((raw.length / 3) * 4);
  for (let i = 0, o = 0; i < raw.length; i += 3, o += 4) {
    const v = (raw[i]! << 16) | (raw[i + 1]! << 8) | raw[i + 2]!;
    codes[o] = B64URL_CODE[v >> 18]!;
    codes[o + 1] = B64URL_CODE[(v >> 12) & 63]!;
    codes[o + 2] = B64URL_CODE[(v >> 6) & 63]!;
    codes[o + 3] = B64URL_CODE[v & 63]!;
  }
  return String.fromCharCode.apply(null, codes);
}

/** Write the bytes whose base64url form is `s` (checked by `isBase64url`), length first. */
function writeBase64urlBytes(w: Writer, s: string): void {
  w.uvarint((s.length / 4) * 3);
  for (let i = 0; i < s.length; i += 4) {
    const v =
      (B64URL_VALUE[s.charCodeAt(i)]! << 18) |
      (B64URL_VALUE[s.charCodeAt(i + 1)]! << 12) |
      (B64URL_VALUE[s.charCodeAt(i + 2)]! << 6) |
      B64URL_VALUE[s.charCodeAt(i + 3)]!;
    w.u8(v >> 16)
      .u8((v >> 8) & 0xff)
      .u8(v & 0xff);
  }
}

/** Decode one frame. Never throws. */
export function decodeFrame(frame: Uint8Array, cache?: RunCodecCache): Result<Message, DecodeError> {
  if (frame.length > MAX_FRAME_BYTES) return err({ type: 'too-large', message: `frame of ${frame.length} bytes` });
  const r = new Reader(frame);
  const typeByte = r.u8();
  const space = r.string(MAX_ID_BYTES);
  if (r.failed) return err({ type: 'malformed', message: 'bad frame header' });
  let message: Message | undefined;
  switch (typeByte) {
    case TYPE_BYTE.hello: {
      const version = r.uvarint();
      const flags = r.u8();
      const vector = readVector(r);
      message = { type: 'hello', space, version, reply: (flags & 1) === 1, vector, more: (flags & 2) === 2 };
      break;
    }
    case TYPE_BYTE.have: {
      const more = r.u8() === 1;
      message = { type: 'have', space, vector: readVector(r), more };
      break;
    }
    case TYPE_BYTE.facts:
      message = { type: 'facts', space, runs: readRuns(r, cache) };
      break;
    case TYPE_BYTE.ack:
      message = { type: 'ack', space, vector: readVector(r) };
      break;
    case TYPE_BYTE.gossip: {
      const n = r.uvarint();
      const statements: Statement[] = [];
      // A statement takes at least its signature.
      if (n > MAX_GOSSIP_STATEMENTS || n > r.remaining / SIGNATURE_BYTES) r.fail();
      for (let i = 0; i < n && !r.failed; i++) {
        const peer = r.string(MAX_ORIGIN_LENGTH) as PeerId;
        const seq = r.uvarint();
        const vector = readVector(r);
        statements.push({ peer, seq, vector, sig: r.raw(SIGNATURE_BYTES).slice() });
      }
      message = { type: 'gossip', space, statements };
      break;
    }
    case TYPE_BYTE.error: {
      const code = r.string(256);
      const text = r.string(MAX_ERROR_TEXT_BYTES);
      const retryAfter = r.uvarint();
      message = { type: 'error', space, code, message: text, retryAfter: retryAfter === 0 ? undefined : retryAfter };
      break;
    }
    case TYPE_BYTE['snapshot-offer']: {
      const blobId = toHex(r.raw(BLOB_ID_BYTES));
      const vector = readVector(r);
      const n = r.uvarint();
      const attestations: WireAttestation[] = [];
      if (n > MAX_OFFER_ATTESTATIONS) r.fail();
      for (let i = 0; i < n && !r.failed; i++) attestations.push(readAttestation(r));
      const h = r.uvarint();
      const history: string[] = [];
      if (h > MAX_HISTORY_HEADS) r.fail();
      for (let i = 0; i < h && !r.failed; i++) history.push(toHex(r.raw(BLOB_ID_BYTES)));
      message = { type: 'snapshot-offer', space, blobId, vector, attestations, history };
      break;
    }
    case TYPE_BYTE['attest-request']: {
      const root = toHex(r.raw(BLOB_ID_BYTES));
      message = { type: 'attest-request', space, root, attestation: readAttestation(r) };
      break;
    }
    case TYPE_BYTE.attestation: {
      const root = toHex(r.raw(BLOB_ID_BYTES));
      message = { type: 'attestation', space, root, attestation: readAttestation(r) };
      break;
    }
    case TYPE_BYTE['blob-request']:
      message = { type: 'blob-request', space, ids: readBlobIds(r) };
      break;
    case TYPE_BYTE.gone:
      message = { type: 'gone', space, ids: readBlobIds(r) };
      break;
    case TYPE_BYTE.blob: {
      const id = toHex(r.raw(BLOB_ID_BYTES));
      message = { type: 'blob', space, id, bytes: r.bytes(MAX_FRAME_BYTES).slice() };
      break;
    }
    case TYPE_BYTE.prune:
      message = { type: 'prune', space };
      break;
    case TYPE_BYTE.graft:
      message = { type: 'graft', space };
      break;
    default:
      return err({ type: 'malformed', message: `unknown message type ${typeByte}` });
  }
  if (!r.done) return err({ type: 'malformed', message: `malformed ${message.type} message` });
  return ok(message);
}

function readAttestation(r: Reader): WireAttestation {
  const attester = r.string(MAX_ORIGIN_LENGTH) as PeerId;
  return { attester, sig: r.raw(SIGNATURE_BYTES).slice() };
}

function readBlobIds(r: Reader): string[] {
  const n = r.uvarint();
  const ids: string[] = [];
  if (n > MAX_BLOB_REQUEST || n * BLOB_ID_BYTES > r.remaining) r.fail();
  for (let i = 0; i < n && !r.failed; i++) ids.push(toHex(r.raw(BLOB_ID_BYTES)));
  return ids;
}

function readRuns(r: Reader, cache: RunCodecCache | undefined): Run[] {
  const nRuns = r.uvarint();
  // A run takes at least 100 bytes (hash and signature).
  if (nRuns > r.remaining / (HASH_BYTES + SIGNATURE_BYTES)) {
    r.fail();
    return [];
  }
  const runs: Run[] = [];
  for (let i = 0; i < nRuns && !r.failed; i++) {
    const bytes = r.bytes(MAX_FRAME_BYTES);
    let run: Run | null | undefined;
    if (cache === undefined) run = decodeRun(bytes) ?? null;
    else {
      const key = toHex(sha256(bytes));
      run = cache.decoded.get(key);
      if (run === undefined) {
        const decoded = decodeRun(bytes) ?? null;
        run = cache.decoded.remember(key, decoded, decoded?.facts.length ?? 1);
      }
    }
    if (run === null) r.fail();
    else runs.push(run);
  }
  return runs;
}

/** Decode one run written by `encodeRun`; undefined when malformed. */
function decodeRun(bytes: Uint8Array): Run | undefined {
  const r = new Reader(bytes);
  const strings: string[] = [];
  const str = (): string => {
    const x = r.uvarint();
    let s: string | undefined;
    if (x === SREF_UTF8) s = r.string(MAX_ID_BYTES);
    else if (x === SREF_BASE64URL) s = readBase64url(r);
    else s = strings[x - SREF_EARLIER];
    if (s === undefined || r.failed) {
      r.fail();
      return '';
    }
    if (x < SREF_EARLIER) strings.push(s);
    return s;
  };
  const origin = str() as PeerId;
  const first = r.uvarint();
  const n = r.uvarint();
  // A fact takes at least 2 bytes (head, item).
  if (r.failed || n > r.remaining / 2) return undefined;
  const prev = r.u8() === 1 ? r.raw(HASH_BYTES).slice() : null;
  const hash = r.raw(HASH_BYTES).slice();
  const sig = r.raw(SIGNATURE_BYTES).slice();
  const facts: FactBody[] = new Array<FactBody>(n);
  let wall = 0;
  let logical = -1;
  let collection: string | undefined;
  let fields: string[] | undefined;
  let field: string | undefined;
  for (let j = 0; j < n && !r.failed; j++) {
    const head = r.u8();
    const type = CODE_TYPE[head & HEAD_TYPE];
    if (type === undefined || (head & ~HEAD_KNOWN) !== 0) return undefined;
    if ((head & HEAD_TICK) !== 0) logical++;
    else {
      wall += r.svarint();
      logical = r.uvarint();
    }
    const hlc = { wall, logical };
    if ((head & HEAD_SAME_COLLECTION) === 0) collection = str();
    else if (collection === undefined) return undefined;
    const item = str();
    const same = (head & HEAD_SAME_FIELDS) !== 0;
    if (type === 'delete') {
      if (same) return undefined;
      facts[j] = { type, hlc, collection, item };
      continue;
    }
    let data: JsonObject;
    if (type === 'create') {
      if (!same) {
        const nFields = r.uvarint();
        if (nFields > r.remaining / 2) return undefined;
        fields = new Array<string>(nFields);
        for (let k = 0; k < nFields; k++) fields[k] = '';
      } else if (fields === undefined) return undefined;
      const out: Record<string, JsonValue> = {};
      for (let k = 0; k < fields.length; k++) {
        if (!same) fields[k] = str();
        const name = fields[k]!;
        const value = readJson(r);
        // Assigning "__proto__" would set the prototype; a repeated field is not canonical.
        if (value === undefined || name === '__proto__' || Object.hasOwn(out, name)) return undefined;
        out[name] = value;
      }
      data = Object.freeze(out);
    } else {
      if (!same) field = str();
      else if (field === undefined) return undefined;
      const value = readJson(r);
      if (value === undefined || field === '__proto__') return undefined;
      data = Object.freeze({ [field]: value });
    }
    facts[j] = { type, hlc, collection, item, data };
  }
  if (!r.done) return undefined;
  return Object.freeze({ origin, first, prev, facts, hash, sig, bytes: bytes.length });
}
