/**
 * Canonical fact encoding (for hashing): every field of the fact plus the space id, deterministic —
 * same fact, same bytes, same hash, on every run and platform (test vectors in
 * test/engine/facts.test.ts):
 *
 *   u8 version(1) · str space · str origin · uvarint counter · uvarint wall · uvarint logical ·
 *   u8 type(1 create, 2 update, 3 delete) · str collection · str item ·
 *   data (create: object; update: str field + value; delete: nothing) ·
 *   prev (u8 0 | u8 1 + 32 bytes)
 *
 * The data part and the type codes are shared with the at-rest encoding of log entries
 * (engine/log/entry-codec.ts) so both accept exactly the same facts. The wire encoding of runs
 * (deltas, string tables) lives in engine/sync/codec.ts.
 */
import { err, ok, type Result } from 'neverthrow';
import { factError, invalidInput, type FactError, type InvalidInputError } from '../errors.js';
import { MAX_HLC_LOGICAL, MAX_ID_BYTES, MAX_ID_LENGTH, MAX_ORIGIN_LENGTH, MAX_VALUE_BYTES } from '../limits.js';
import { equalBytes, Reader, Writer } from './bytes.js';
import { DigestSlab, sha256 } from './hash.js';
import { checkKey, readJson, readObject, writeJson, writeObject } from './json.js';
import type { Fact, FactType, Hash, Hlc, JsonObject, JsonValue, PeerId, UnhashedFact } from './types.js';

const CANONICAL_VERSION = 1;
export const HASH_BYTES = 32;
export const SIGNATURE_BYTES = 64;

const TYPE_CODE: Record<FactType, number> = { create: 1, update: 2, delete: 3 };
const CODE_TYPE: readonly (FactType | undefined)[] = [undefined, 'create', 'update', 'delete'];

/** Why a fact or a caller's input breaks the model: over a limit, or otherwise malformed. */
export interface Problem {
  readonly type: 'malformed' | 'too-large';
  readonly message: string;
}

const malformed = (message: string): Problem => ({ type: 'malformed', message });

/** Why `id` cannot be a space id, collection name or item id, or undefined. */
export function checkId(id: unknown, what: string): Problem | undefined {
  if (typeof id !== 'string') return malformed(`${what} must be a string`);
  if (id.length === 0) return malformed(`${what} must not be empty`);
  if (id.length > MAX_ID_LENGTH)
    return { type: 'too-large', message: `${what} is longer than ${MAX_ID_LENGTH} characters` };
  if (!id.isWellFormed()) return malformed(`${what} has a lone surrogate`);
  return undefined;
}

/**
 * Why `name` cannot be a field name, or undefined. `id` is reserved: views add it to every item.
 */
export function checkFieldName(name: unknown): Problem | undefined {
  const problem = checkId(name, 'field name');
  if (problem !== undefined) return problem;
  if (name === 'id') return malformed('the field name "id" is reserved (an item\'s id is its key)');
  const keyProblem = checkKey(name as string);
  return keyProblem === undefined ? undefined : malformed(keyProblem);
}

/**
 * A reused buffer for canonical encodings that keeps the prefix every fact of one origin in one space
 * shares (`u8 version · str space · str origin`) in place: the facts of a run, or of one writer, are
 * encoded one after the other, and the origin (a 52-character PeerId) is most of that prefix.
 *
 * Not state: every use starts with `begin` and ends (hash or copy) before any await, so nothing
 * written in one call is read in another; the prefix is checked against its strings on every use.
 */
class CanonicalWriter {
  readonly #writer = new Writer(1024);
  #space: string | undefined;
  #origin: string | undefined;
  #prefixLength = 0;

  /** The buffer holding the prefix of `origin`'s facts in `space`, ready for the rest of a fact. */
  begin(space: string, origin: string): Writer {
    const w = this.#writer;
    if (space === this.#space && origin === this.#origin) return w.truncate(this.#prefixLength);
    w.reset().u8(CANONICAL_VERSION).string(space).string(origin);
    this.#space = space;
    this.#origin = origin;
    this.#prefixLength = w.length;
    return w;
  }
}

/** Where canonical encodings of facts from elsewhere (and of `sealFact`) are built. */
const scratch = new CanonicalWriter();

/**
 * Write the data part of a fact, validating it. Returns the problem, or undefined.
 * Shared by the canonical and at-rest encodings so both accept exactly the same facts.
 */
function writeData(w: Writer, type: FactType, data: unknown): Problem | undefined {
  if (type === 'delete') return data === undefined ? undefined : malformed('a delete carries no data');
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return malformed(`${type} data must be an object`);
  const start = w.length;
  if (type === 'create') {
    for (const key of Object.keys(data)) {
      const problem = checkFieldName(key);
      if (problem !== undefined) return problem;
    }
    const problem = writeObject(w, data as Record<string, unknown>);
    if (problem !== undefined) return malformed(problem);
  } else {
    const keys = Object.keys(data);
    if (keys.length !== 1) return malformed(`an update sets exactly one field (got ${keys.length})`);
    const field = keys[0]!;
    return writeField(w, field, (data as Record<string, unknown>)[field]);
  }
  return sizeProblem(w, start);
}

/** The data part of an update setting `field` to `value`, validated: the problem, or undefined. */
function writeField(w: Writer, field: string, value: unknown): Problem | undefined {
  const start = w.length;
  const nameProblem = checkFieldName(field);
  if (nameProblem !== undefined) return nameProblem;
  w.string(field);
  const problem = writeJson(w, value, field);
  if (problem !== undefined) return malformed(problem);
  return sizeProblem(w, start);
}

/** Whether the data written since `start` is over MAX_VALUE_BYTES. */
function sizeProblem(w: Writer, start: number): Problem | undefined {
  return w.length - start > MAX_VALUE_BYTES
    ? { type: 'too-large', message: `value larger than ${MAX_VALUE_BYTES} bytes` }
    : undefined;
}

function readData(r: Reader, type: FactType): JsonObject | undefined | null {
  if (type === 'delete') return undefined;
  const start = r.position;
  let data: JsonObject | undefined;
  if (type === 'create') {
    data = readObject(r);
    if (data !== undefined) for (const key of Object.keys(data)) if (checkFieldName(key) !== undefined) r.fail();
  } else {
    const field = r.string(MAX_ID_BYTES);
    if (checkFieldName(field) !== undefined) r.fail();
    const value = readJson(r);
    data = value === undefined ? undefined : Object.freeze({ [field]: value });
  }
  if (r.failed || data === undefined || r.position - start > MAX_VALUE_BYTES) {
    r.fail();
    return null;
  }
  return data;
}

/** Problems with the identifying fields of a fact, or undefined. */
function checkHeader(f: UnhashedFact): Problem | undefined {
  if (typeof f.origin !== 'string' || f.origin.length === 0 || f.origin.length > MAX_ORIGIN_LENGTH) {
    return malformed('bad origin');
  }
  if (!Number.isSafeInteger(f.counter) || f.counter < 1) return malformed('counter must be a positive integer');
  if (!Number.isSafeInteger(f.hlc.wall) || f.hlc.wall < 0) return malformed('hlc.wall must be a non-negative integer');
  if (!Number.isSafeInteger(f.hlc.logical) || f.hlc.logical < 0 || f.hlc.logical > MAX_HLC_LOGICAL) {
    return malformed(`hlc.logical must be an integer from 0 to ${MAX_HLC_LOGICAL}`);
  }
  if (TYPE_CODE[f.type] === undefined) return malformed('unknown fact type');
  const problem = checkId(f.collection, 'collection name') ?? checkId(f.item, 'item id');
  if (problem !== undefined) return problem;
  if (f.counter === 1 ? f.prev !== null : f.prev === null || f.prev.length !== HASH_BYTES) {
    return malformed('prev must be null exactly for counter 1, else a 32-byte hash');
  }
  return undefined;
}

/**
 * The canonical encoding of `fact` in `space`, validated. The returned view is only valid until the
 * next call: hash it or copy it at once.
 */
function canonical(space: string, f: UnhashedFact): Result<Uint8Array, Problem> {
  const written = writeCanonical(space, f);
  return written instanceof Writer ? ok(written.view()) : err(written);
}

/** The canonical encoding of `fact` in `space`, validated, in the shared scratch buffer; or the problem. */
function writeCanonical(space: string, f: UnhashedFact): Writer | Problem {
  const problem = checkHeader(f);
  if (problem !== undefined) return problem;
  const w = scratch.begin(space, f.origin).uvarint(f.counter);
  w.uvarint(f.hlc.wall).uvarint(f.hlc.logical).u8(TYPE_CODE[f.type]).string(f.collection).string(f.item);
  const dataProblem = writeData(w, f.type, (f as { data?: unknown }).data);
  if (dataProblem !== undefined) return dataProblem;
  if (f.prev === null) w.u8(0);
  else w.u8(1).raw(f.prev);
  return w;
}

/**
 * Hashes of facts from elsewhere that `hashFact` computes (every fact of a catch-up): carved from
 * shared slabs as local writes' are, rather than a buffer each.
 */
const receivedDigests = new DigestSlab();

/**
 * `computeHash` without a Result per fact: the hash of `fact` in `space`, or why it breaks the
 * model. For the receive path (engine/facts/run.ts `chainOf`), which hashes every fact it takes.
 */
export function hashFact(space: string, fact: UnhashedFact): Hash | Problem {
  const written = writeCanonical(space, fact);
  return written instanceof Writer ? receivedDigests.digest(written.view()) : written;
}

/** Canonical bytes of a fact (a copy), for test vectors and tools. */
export function canonicalBytes(space: string, fact: UnhashedFact): Result<Uint8Array, InvalidInputError> {
  return canonical(space, fact)
    .map((bytes) => bytes.slice())
    .mapErr((p) => invalidInput(p.message));
}

/** SHA-256 of the canonical encoding: the fact's hash. Fails on a fact that breaks the model. */
export function computeHash(space: string, fact: UnhashedFact): Result<Hash, Problem> {
  return canonical(space, fact).map(sha256);
}

/**
 * Build a fact from a draft: validate, hash, and deep-copy the caller's data (canonical, frozen) so
 * later mutation of the caller's object cannot reach the log or the state. For test vectors, tools
 * and facts authored outside a space; a space's own writes go through {@link LocalFactSealer}.
 */
export function sealFact(space: string, draft: UnhashedFact): Result<Fact, InvalidInputError> {
  const problem = checkHeader(draft);
  if (problem !== undefined) return err(invalidInput(problem.message));
  const w = scratch.begin(space, draft.origin).uvarint(draft.counter);
  w.uvarint(draft.hlc.wall).uvarint(draft.hlc.logical).u8(TYPE_CODE[draft.type]);
  w.string(draft.collection).string(draft.item);
  const dataStart = w.length;
  const dataProblem = writeData(w, draft.type, (draft as { data?: unknown }).data);
  if (dataProblem !== undefined) return err(invalidInput(dataProblem.message));
  const dataEnd = w.length;
  if (draft.prev === null) w.u8(0);
  else w.u8(1).raw(draft.prev);
  const bytes = w.view();
  const hash = sha256(bytes);
  if (draft.type === 'delete') return ok({ ...draft, hash });
  const data = readData(new Reader(bytes, dataStart, dataEnd), draft.type);
  if (data === null || data === undefined) return err(invalidInput('data does not round-trip'));
  return ok({ ...draft, data, hash });
}

/** The fields of a local write the caller chooses; the sealer's owner supplies the rest. */
export interface LocalWrite {
  readonly type: FactType;
  readonly collection: string;
  readonly item: string;
  /** create: the object; update: `{ field: value }` with one key; delete: undefined. */
  readonly data: JsonObject | undefined;
}

/**
 * Seals the facts one origin writes in one space: the hot path of every local write. The canonical
 * prefix (version, space, origin) is encoded once, each fact is encoded into one reused buffer and
 * hashed in one shot into a {@link DigestSlab}, and an update that sets a primitive value takes its
 * canonical copy without a decode (the value is its own canonical form, -0 aside).
 *
 * The caller vouches for what it makes itself: the counter follows the chain, `hlc` comes from its
 * clock, `prev` is its chain tip, and `collection` and `item` passed {@link checkId}. The data — the
 * part an app hands over — is validated here, exactly as {@link sealFact} does.
 */
export class LocalFactSealer {
  readonly #space: string;
  readonly #origin: PeerId;
  /** Its own buffer: the prefix of this origin's facts stays in it from one write to the next. */
  readonly #canonical = new CanonicalWriter();
  readonly #digests = new DigestSlab();
  #size = 0;

  constructor(space: string, origin: PeerId) {
    this.#space = space;
    this.#origin = origin;
  }

  /** Canonical size in bytes of the fact sealed last (the author sizes its signed runs by it). */
  get size(): number {
    return this.#size;
  }

  /** Seal `write` as fact `counter` of this origin, stamped `hlc`, chained to `prev`. */
  seal(write: LocalWrite, counter: number, hlc: Hlc, prev: Hash | null): Result<Fact, InvalidInputError> {
    const { type, collection, item, data } = write;
    const w = this.#header(type, collection, item, counter, hlc);
    const dataStart = w.length;
    const dataProblem = writeData(w, type, data);
    if (dataProblem !== undefined) return err(invalidInput(dataProblem.message));
    const dataEnd = w.length;
    const hash = this.#finish(w, prev);
    const origin = this.#origin;
    if (type === 'delete') return ok({ origin, counter, hlc, type, collection, item, prev, hash });
    const copy =
      (type === 'update' ? primitiveCopy(data!) : undefined) ??
      readData(new Reader(w.view(), dataStart, dataEnd), type);
    if (copy === null || copy === undefined) return err(invalidInput('data does not round-trip'));
    return ok({ origin, counter, hlc, type, collection, item, data: copy, prev, hash } as Fact);
  }

  /**
   * Seal an update of one field: `seal` of `{ type: 'update', data: { [field]: value } }` without
   * the caller building that object (what `Collection.update` does on every write).
   */
  sealField(
    collection: string,
    item: string,
    field: string,
    value: JsonValue,
    counter: number,
    hlc: Hlc,
    prev: Hash | null,
  ): Result<Fact, InvalidInputError> {
    const w = this.#header('update', collection, item, counter, hlc);
    const dataStart = w.length;
    const problem = writeField(w, field, value);
    if (problem !== undefined) return err(invalidInput(problem.message));
    const dataEnd = w.length;
    const hash = this.#finish(w, prev);
    const copy =
      typeof value === 'object' && value !== null
        ? readData(new Reader(w.view(), dataStart, dataEnd), 'update')
        : fieldObject(field, value);
    if (copy === null || copy === undefined) return err(invalidInput('data does not round-trip'));
    return ok({ origin: this.#origin, counter, hlc, type: 'update', collection, item, data: copy, prev, hash });
  }

  /** The reused buffer holding the canonical encoding of a fact up to its data. */
  #header(type: FactType, collection: string, item: string, counter: number, hlc: Hlc): Writer {
    const w = this.#canonical.begin(this.#space, this.#origin);
    w.uvarint(counter).uvarint(hlc.wall).uvarint(hlc.logical).u8(TYPE_CODE[type]).string(collection).string(item);
    return w;
  }

  /** End the encoding with `prev` and hash it. */
  #finish(w: Writer, prev: Hash | null): Hash {
    if (prev === null) w.u8(0);
    else w.u8(1).raw(prev);
    const bytes = w.view();
    this.#size = bytes.length;
    return this.#digests.digest(bytes);
  }
}

/**
 * The canonical, frozen copy of an update's `{ field: value }` when the value is a primitive
 * (already validated by `writeData`), or undefined for a value that needs a decode.
 */
function primitiveCopy(data: JsonObject): JsonObject | undefined {
  for (const field in data) {
    const value = data[field]!;
    return typeof value === 'object' && value !== null ? undefined : fieldObject(field, value);
  }
  return undefined;
}

/**
 * `{ field: value }` frozen, for a primitive value (validated): the value is its own canonical form,
 * with -0 as 0 as the encoding has it.
 */
function fieldObject(field: string, value: null | boolean | number | string): JsonObject {
  const data: JsonObject = {};
  data[field] = value === 0 ? 0 : value; // -0 === 0: both become 0
  return Object.freeze(data);
}

/**
 * Check a fact that came from elsewhere (a peer, storage): well-formed and its hash recomputes.
 * Signature, chain and counter checks need context and live in engine/facts/verify.ts.
 */
export function checkFact(space: string, fact: Fact): Result<Fact, FactError> {
  const at = { origin: fact.origin, counter: fact.counter };
  const bytes = canonical(space, fact);
  if (bytes.isErr()) return err(factError(bytes.error.type, bytes.error.message, at));
  const hash = sha256(bytes.value);
  if (!equalBytes(hash, fact.hash)) {
    return err(factError('bad-hash', 'hash does not match the fact', at));
  }
  return ok(fact);
}

/** The data part of a fact, for the at-rest encoding (engine/log/entry-codec.ts). */
export { readData as readFactData, writeData as writeFactData, TYPE_CODE, CODE_TYPE };
