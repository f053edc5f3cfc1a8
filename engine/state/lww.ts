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
import { writeJson } from '../facts/json.js';
import type { Fact, JsonValue } from '../facts/types.js';
import { compareStamps, stampOf, type Stamp } from './stamp.js';

export interface Register<V> {
  readonly value: V;
  readonly stamp: Stamp;
}

/** Registers of one item. */
export interface ItemRecord {
  exists: Register<boolean> | undefined;
  reset: Stamp | undefined;
  readonly fields: Map<string, Register<JsonValue>>;
}

const newer = (a: Stamp, b: Stamp | undefined): boolean => b === undefined || compareStamps(a, b) > 0;

export class LwwState {
  readonly #collections = new Map<string, Map<string, ItemRecord>>();
  #hash: string | undefined;
  #items = 0;

  /** Number of items with any register (visible or not). */
  get itemCount(): number {
    return this.#items;
  }

  /** Apply one fact. Returns whether any register changed. */
  apply(fact: Fact): boolean {
    const stamp = stampOf(fact);
    const record = this.#record(fact.collection, fact.item);
    let changed = false;
    switch (fact.type) {
      case 'create':
        if (newer(stamp, record.exists?.stamp)) {
          record.exists = { value: true, stamp };
          changed = true;
        }
        if (newer(stamp, record.reset)) {
          record.reset = stamp;
          for (const [field, reg] of record.fields)
            if (compareStamps(reg.stamp, stamp) < 0) record.fields.delete(field);
          changed = true;
        }
        for (const field of Object.keys(fact.data)) {
          changed = this.#setField(record, field, { value: fact.data[field]!, stamp }) || changed;
        }
        break;
      case 'update': {
        const field = Object.keys(fact.data)[0]!;
        changed = this.#setField(record, field, { value: fact.data[field]!, stamp });
        break;
      }
      case 'delete':
        if (newer(stamp, record.exists?.stamp)) {
          record.exists = { value: false, stamp };
          changed = true;
        }
        break;
    }
    if (changed) this.#hash = undefined;
    return changed;
  }

  /** Merge another item's registers into this state (snapshots, state merge). */
  mergeRecord(collection: string, item: string, other: ItemRecord): boolean {
    const record = this.#record(collection, item);
    let changed = false;
    if (other.exists !== undefined && newer(other.exists.stamp, record.exists?.stamp)) {
      record.exists = other.exists;
      changed = true;
    }
    if (other.reset !== undefined && newer(other.reset, record.reset)) {
      const reset = other.reset;
      record.reset = reset;
      for (const [field, reg] of record.fields) if (compareStamps(reg.stamp, reset) < 0) record.fields.delete(field);
      changed = true;
    }
    for (const [field, reg] of other.fields) changed = this.#setField(record, field, reg) || changed;
    if (changed) this.#hash = undefined;
    return changed;
  }

  /** Merge every register of `other` into this state. */
  merge(other: LwwState): void {
    for (const [collection, items] of other.#collections) {
      for (const [item, record] of items) this.mergeRecord(collection, item, record);
    }
  }

  /** The registers of an item, if it has any. Read-only for callers. */
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
    this.#hash ??= hashState(this);
    return this.#hash;
  }

  #record(collection: string, item: string): ItemRecord {
    let items = this.#collections.get(collection);
    if (items === undefined) {
      items = new Map();
      this.#collections.set(collection, items);
    }
    let record = items.get(item);
    if (record === undefined) {
      record = { exists: undefined, reset: undefined, fields: new Map() };
      items.set(item, record);
      this.#items++;
    }
    return record;
  }

  #setField(record: ItemRecord, field: string, reg: Register<JsonValue>): boolean {
    if (record.reset !== undefined && compareStamps(reg.stamp, record.reset) < 0) return false;
    if (!newer(reg.stamp, record.fields.get(field)?.stamp)) return false;
    record.fields.set(field, reg);
    return true;
  }
}

/** Write a stamp (shared with the snapshot encoding). */
export function writeStamp(w: Writer, s: Stamp): void {
  w.uvarint(s.wall).uvarint(s.logical).string(s.origin).uvarint(s.counter);
}

const sorted = <T>(entries: Iterable<[string, T]>): [string, T][] =>
  [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

const FLUSH_BYTES = 64 * 1024;

function hashState(state: LwwState): string {
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
      for (const [field, reg] of fields) {
        w.string(field);
        writeStamp(w, reg.stamp);
        writeJson(w, reg.value);
      }
      flush(false);
    }
  }
  flush(true);
  return toHex(h.digest());
}
