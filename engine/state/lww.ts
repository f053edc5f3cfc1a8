/**
 * The materialized state of a space: last-writer-wins registers, a pure function of the *set* of
 * accepted facts (any order, any duplication: same registers, same `hash()`).
 *
 * Per item:
 * - `exists`: LWW of creates (true) and deletes (false). An item is visible iff it is true, so a
 *   delete wins over concurrent field updates and a later create restores.
 * - `reset`: the stamp of the newest create. A create is a whole object: fields older than it are
 *   gone for good (dropped at once, since no later fact can bring them back).
 * - `fields`: per field, the value with the greatest stamp among facts at or after `reset`.
 *
 * Registers carry their stamps, so two states (or a state and a snapshot) merge register by
 * register: commutative, associative, idempotent.
 */
import { toHex, Writer } from '../facts/bytes.js';
import { sha256Stream } from '../facts/hash.js';
import { sortByKey, writeJson } from '../facts/json.js';
import { updatedField, type Fact, type JsonObject, type JsonValue, type UpdateFact } from '../facts/types.js';
import type { RegisterCache } from './register-cache.js';
import { compareStamps, compareToFact, stampOf, type Stamp } from './stamp.js';

export interface Register<V> {
  readonly value: V;
  readonly stamp: Stamp;
}

/**
 * Registers of one item. Where records are shared between replicas (see `RegisterCache`) they are
 * immutable: a fact that changes an item gives it a new record. A state that shares none changes
 * its own records in place (readers get frozen views, never records), so an update costs O(1)
 * however many fields the item has.
 */
export interface ItemRecord {
  readonly exists: Register<boolean> | undefined;
  readonly reset: Stamp | undefined;
  readonly fields: ReadonlyMap<string, Register<JsonValue>>;
}

const newer = (a: Stamp, b: Stamp | undefined): boolean => b === undefined || compareStamps(a, b) > 0;

/**
 * The fields of a record its create made, read as registers only when something asks: until then
 * the create's (frozen) data and stamp stand for them. A newcomer's catch-up creates most items it
 * applies and reads none of them: a field map and a register per field for each of a million items
 * cost ~1.5 µs of allocation each, and as much again in garbage collection, for nothing. Read or
 * updated, it builds its registers once (the same objects every time after).
 */
class CreatedFields implements ReadonlyMap<string, Register<JsonValue>> {
  readonly #data: JsonObject;
  readonly #stamp: Stamp;
  #registers: Map<string, Register<JsonValue>> | undefined;

  constructor(data: JsonObject, stamp: Stamp) {
    this.#data = data;
    this.#stamp = stamp;
  }

  /** The registers as a map of their own (a state that owns the record changes it in place). */
  toMap(): Map<string, Register<JsonValue>> {
    if (this.#registers === undefined) {
      const registers = new Map<string, Register<JsonValue>>();
      const data = this.#data;
      const keys = Object.keys(data);
      for (let i = 0; i < keys.length; i++) registers.set(keys[i]!, { value: data[keys[i]!]!, stamp: this.#stamp });
      this.#registers = registers;
    }
    return this.#registers;
  }

  get size(): number {
    return this.#registers?.size ?? Object.keys(this.#data).length;
  }

  get(field: string): Register<JsonValue> | undefined {
    return this.toMap().get(field);
  }

  has(field: string): boolean {
    return this.toMap().has(field);
  }

  forEach(
    callback: (value: Register<JsonValue>, key: string, map: ReadonlyMap<string, Register<JsonValue>>) => void,
    thisArg?: unknown,
  ): void {
    for (const [key, value] of this.toMap()) callback.call(thisArg, value, key, this);
  }

  entries(): MapIterator<[string, Register<JsonValue>]> {
    return this.toMap().entries();
  }

  keys(): MapIterator<string> {
    return this.toMap().keys();
  }

  values(): MapIterator<Register<JsonValue>> {
    return this.toMap().values();
  }

  [Symbol.iterator](): MapIterator<[string, Register<JsonValue>]> {
    return this.toMap().entries();
  }
}

/** `fields` as a map a state that owns its record may change in place. */
const ownFields = (fields: ReadonlyMap<string, Register<JsonValue>>): Map<string, Register<JsonValue>> =>
  fields instanceof CreatedFields ? new Map(fields.toMap()) : (fields as Map<string, Register<JsonValue>>);

/** `fields` without the registers older than `reset` (a create replaced the object). */
function fieldsSince(fields: ReadonlyMap<string, Register<JsonValue>>, reset: Stamp): Map<string, Register<JsonValue>> {
  const kept = new Map<string, Register<JsonValue>>();
  for (const [field, reg] of fields) if (compareStamps(reg.stamp, reset) >= 0) kept.set(field, reg);
  return kept;
}

/**
 * A record being built from an older one: its field map is copied on the first change, so a fact
 * that changes nothing allocates nothing.
 */
class Draft {
  exists: Register<boolean> | undefined;
  reset: Stamp | undefined;
  fields: ReadonlyMap<string, Register<JsonValue>>;
  #own: Map<string, Register<JsonValue>> | undefined;
  changed: boolean;

  /**
   * @param owned the record's field map belongs to the caller alone (a state that shares no
   *   records): it is changed in place rather than copied, so an update of an item with many fields
   *   costs O(1), not O(fields).
   */
  constructor(record: ItemRecord | undefined, owned = false) {
    this.exists = record?.exists;
    this.reset = record?.reset;
    // A new item is a change in itself: it starts holding registers.
    this.#own = record === undefined ? new Map() : owned ? ownFields(record.fields) : undefined;
    this.fields = this.#own ?? record!.fields;
    this.changed = record === undefined;
  }

  setExists(reg: Register<boolean>): void {
    if (!newer(reg.stamp, this.exists?.stamp)) return;
    this.exists = reg;
    this.changed = true;
  }

  setReset(stamp: Stamp): void {
    if (!newer(stamp, this.reset)) return;
    this.reset = stamp;
    this.#own = fieldsSince(this.fields, stamp);
    this.fields = this.#own;
    this.changed = true;
  }

  setField(field: string, reg: Register<JsonValue>): void {
    if (this.reset !== undefined && compareStamps(reg.stamp, this.reset) < 0) return;
    if (!newer(reg.stamp, this.fields.get(field)?.stamp)) return;
    if (this.#own === undefined) {
      this.#own = new Map(this.fields);
      this.fields = this.#own;
    }
    this.#own.set(field, reg);
    this.changed = true;
  }

  /** The new record, or `record` itself when nothing changed (a new item always changes). */
  done(record: ItemRecord | undefined): ItemRecord {
    return this.changed ? { exists: this.exists, reset: this.reset, fields: this.fields } : record!;
  }

  /** Write the changes into `record` itself (a record its state owns alone); whether there were any. */
  doneInPlace(record: OwnedRecord): boolean {
    if (!this.changed) return false;
    record.exists = this.exists;
    record.reset = this.reset;
    record.fields = this.fields;
    return true;
  }
}

/** A record a state that shares none changes in place (see `Draft`'s `owned`). */
type OwnedRecord = { -readonly [K in keyof ItemRecord]: ItemRecord[K] };

/** Take the registers of `fact` into `draft`. */
function step(draft: Draft, fact: Fact): void {
  const stamp = stampOf(fact);
  switch (fact.type) {
    case 'create':
      draft.setExists({ value: true, stamp });
      draft.setReset(stamp);
      for (const field of Object.keys(fact.data)) draft.setField(field, { value: fact.data[field]!, stamp });
      break;
    case 'update': {
      const field = updatedField(fact);
      draft.setField(field, { value: fact.data[field]!, stamp });
      break;
    }
    case 'delete':
      draft.setExists({ value: false, stamp });
      break;
  }
}

/**
 * The registers of an item after `fact`: a pure function of the record (undefined: the item has
 * none yet) and the fact. Returns `record` itself when the fact changes nothing; never mutates it.
 */
export function applyToRecord(record: ItemRecord | undefined, fact: Fact): ItemRecord {
  if (record === undefined) return firstRecord(fact);
  const draft = new Draft(record);
  step(draft, fact);
  return draft.done(record);
}

/**
 * The registers of an item after its first fact: what `step` on an empty draft makes, built
 * directly (a catch-up creates most items it applies: no draft, no second field map).
 */
function firstRecord(fact: Fact): ItemRecord {
  const stamp = stampOf(fact);
  switch (fact.type) {
    case 'create':
      return { exists: { value: true, stamp }, reset: stamp, fields: new CreatedFields(fact.data, stamp) };
    case 'update': {
      const fields = new Map<string, Register<JsonValue>>();
      const field = updatedField(fact);
      fields.set(field, { value: fact.data[field]!, stamp });
      return { exists: undefined, reset: undefined, fields };
    }
    case 'delete':
      return { exists: { value: false, stamp }, reset: undefined, fields: new Map() };
  }
}

/** The registers of `record` merged with those of `other`, register by register; never mutates. */
function mergeRecords(record: ItemRecord | undefined, other: ItemRecord): ItemRecord {
  const draft = new Draft(record);
  if (other.exists !== undefined) draft.setExists(other.exists);
  if (other.reset !== undefined) draft.setReset(other.reset);
  for (const [field, reg] of other.fields) draft.setField(field, reg);
  return draft.done(record);
}

export class LwwState {
  readonly #collections = new Map<string, Map<string, ItemRecord>>();
  readonly #registers: RegisterCache | undefined;
  #hash: string | undefined;
  #items = 0;

  /**
   * @param registers records shared on purpose with other replicas of the same process (the
   *   simulator's); without it, this state computes each record itself.
   */
  constructor(registers?: RegisterCache) {
    this.#registers = registers;
  }

  /** Number of items with any register (visible or not). */
  get itemCount(): number {
    return this.#items;
  }

  /** Apply one fact. Returns whether any register changed. */
  apply(fact: Fact): boolean {
    const items = this.#itemsOf(fact.collection);
    const before = items.get(fact.item);
    if (this.#registers !== undefined || before === undefined) {
      return this.#set(items, fact.item, before, this.#registers?.apply(before, fact) ?? applyToRecord(before, fact));
    }
    // Records nobody else holds change in place: no copy of an item's fields per update.
    if (fact.type === 'update') return this.#updateInPlace(before, fact);
    const draft = new Draft(before, true);
    step(draft, fact);
    if (!draft.doneInPlace(before)) return false;
    this.#hash = undefined;
    return true;
  }

  /** Merge another item's registers into this state (snapshots, state merge). */
  mergeRecord(collection: string, item: string, other: ItemRecord): boolean {
    const items = this.#itemsOf(collection);
    const before = items.get(item);
    return this.#set(items, item, before, mergeRecords(before, other));
  }

  /** Merge every register of `other` into this state. */
  merge(other: LwwState): void {
    for (const [collection, items] of other.#collections) {
      for (const [item, record] of items) this.mergeRecord(collection, item, record);
    }
  }

  /** The registers of an item, if it has any. */
  record(collection: string, item: string): ItemRecord | undefined {
    return this.#collections.get(collection)?.get(item);
  }

  /** Items of a collection (visible or not), in insertion order. */
  items(collection: string): IterableIterator<[string, ItemRecord]> {
    return (this.#collections.get(collection) ?? new Map<string, ItemRecord>()).entries();
  }

  /** Every (collection, items) pair. */
  collections(): IterableIterator<[string, ReadonlyMap<string, ItemRecord>]> {
    return this.#collections.entries();
  }

  /**
   * SHA-256 (hex) over the canonical encoding of every register, in sorted order. Same set of
   * facts ⇒ same hash, whatever the order they arrived in. Cached until the next change.
   */
  hash(): string {
    this.#hash ??= hashState(this, this.#registers);
    return this.#hash;
  }

  /**
   * `step` of an update on a record this state owns alone, without a draft: the hot path of every
   * write that lands (the same rule as `Draft.setField`).
   */
  #updateInPlace(record: ItemRecord, fact: UpdateFact): boolean {
    const field = updatedField(fact);
    let fields = record.fields as Map<string, Register<JsonValue>>;
    if (!(fields instanceof Map)) {
      fields = ownFields(fields);
      (record as OwnedRecord).fields = fields;
    }
    const held = fields.get(field)?.stamp;
    // Compare before making the stamp: most facts a replica takes win, but a stale one allocates nothing.
    if (held !== undefined && compareToFact(held, fact) >= 0) return false;
    if (record.reset !== undefined && compareToFact(record.reset, fact) > 0) return false;
    fields.set(field, { value: fact.data[field]!, stamp: stampOf(fact) });
    this.#hash = undefined;
    return true;
  }

  #itemsOf(collection: string): Map<string, ItemRecord> {
    let items = this.#collections.get(collection);
    if (items === undefined) {
      items = new Map();
      this.#collections.set(collection, items);
    }
    return items;
  }

  /** Store `after` as the item's record; whether it changed (a new item always does). */
  #set(items: Map<string, ItemRecord>, item: string, before: ItemRecord | undefined, after: ItemRecord): boolean {
    if (after === before) return false;
    if (before === undefined) this.#items++;
    items.set(item, after);
    this.#hash = undefined;
    // A new item whose first merge brought no register is stored, but nothing changed.
    return before !== undefined || after.exists !== undefined || after.reset !== undefined || after.fields.size > 0;
  }
}

/** Write a stamp (shared with the snapshot encoding). */
export function writeStamp(w: Writer, s: Stamp): void {
  w.uvarint(s.wall).uvarint(s.logical).string(s.origin).uvarint(s.counter);
}

const entryKey = <T>(entry: [string, T]): string => entry[0];

/** `entries` as an array sorted by key (UTF-16 code-unit order; keys are distinct). */
export const sorted = <T>(entries: Iterable<[string, T]>): [string, T][] => sortByKey([...entries], entryKey);

const FLUSH_BYTES = 64 * 1024;

/**
 * The canonical encoding of one item's registers, as `hash()` feeds it (after the item's id).
 * Exported for `RegisterCache`, which keeps it per shared record.
 */
export function writeRecord(w: Writer, record: ItemRecord): void {
  if (record.exists === undefined) w.u8(0);
  else {
    w.u8(record.exists.value ? 2 : 1);
    writeStamp(w, record.exists.stamp);
  }
  if (record.reset === undefined) w.u8(0);
  else {
    w.u8(1);
    writeStamp(w, record.reset);
  }
  const fields = sorted(record.fields.entries());
  w.uvarint(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i]!;
    w.string(entry[0]);
    writeStamp(w, entry[1].stamp);
    writeJson(w, entry[1].value);
  }
}

function hashState(state: LwwState, registers: RegisterCache | undefined): string {
  const h = sha256Stream();
  const w = new Writer(FLUSH_BYTES * 2);
  const flush = (force: boolean): void => {
    if (force || w.length >= FLUSH_BYTES) {
      h.update(w.view());
      w.reset();
    }
  };
  for (const [collection, items] of sorted(state.collections())) {
    w.u8(1).string(collection);
    for (const [item, record] of sorted(items.entries())) {
      w.u8(2).string(item);
      if (registers === undefined) writeRecord(w, record);
      else w.raw(registers.encoding(record));
      flush(false);
    }
  }
  flush(true);
  return toHex(h.digest());
}
