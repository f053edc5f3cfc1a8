/**
 * Item records shared between the replicas of one process. A simulated network holds the same
 * items on every peer: without sharing, a thousand peers keep a thousand equal copies of every
 * record (a few hundred bytes each) and encode each of them again for every `stateHash()`.
 *
 * A record is a pure function of the record before it and the fact applied (`applyToRecord`), and
 * records are immutable, so the first replica to take a step computes it and the others reuse the
 * result. Nothing here decides what a replica accepts: a fact reaches `apply` only after that
 * replica verified it against its own chain tips, so a hostile peer gains nothing by feeding facts
 * to one replica that another would refuse.
 *
 * Only a caller that hosts many replicas passes one in on purpose (`PeerCache({ shareRegisters:
 * true })`, which `SimNetwork` does); it lives and dies with that caller, so one seed still gives one
 * run whatever ran before it.
 */
import { Writer } from '../facts/bytes.js';
import type { Fact, Hash } from '../facts/types.js';
import { applyToRecord, writeRecord, type ItemRecord } from './lww.js';

export class RegisterCache {
  /** Steps from a record with no registers yet, by the fact taken (its hash object). */
  readonly #fresh = new WeakMap<Hash, ItemRecord>();
  /** Steps from each record, by the fact taken (its hash object); gone with the record. */
  readonly #steps = new WeakMap<ItemRecord, WeakMap<Hash, ItemRecord>>();
  readonly #encodings = new WeakMap<ItemRecord, Uint8Array>();

  /**
   * `applyToRecord(record, fact)`, computed once for every replica. A fact is known by the object
   * of its hash: computed once from the fact's own bytes (by the writer, or by the chain of a
   * received run, which the replicas share), it stands for everything the step reads, and no two
   * facts share one. A fact that arrives as a different object (decoded again, replayed from
   * storage) only misses the cache.
   */
  apply(record: ItemRecord | undefined, fact: Fact): ItemRecord {
    let steps = record === undefined ? this.#fresh : this.#steps.get(record);
    if (steps === undefined) {
      steps = new WeakMap();
      this.#steps.set(record!, steps);
    }
    let next = steps.get(fact.hash);
    if (next === undefined) {
      next = applyToRecord(record, fact);
      steps.set(fact.hash, next);
    }
    return next;
  }

  /** `writeRecord` of a record, computed once for every replica. */
  encoding(record: ItemRecord): Uint8Array {
    let bytes = this.#encodings.get(record);
    if (bytes === undefined) {
      const w = new Writer(64);
      writeRecord(w, record);
      bytes = w.finish();
      this.#encodings.set(record, bytes);
    }
    return bytes;
  }
}
