/**
 * What a space's event log holds: a fact, its signature when it ends a run, and workflow metadata.
 */
import { equalBytes } from '../facts/bytes.js';
import type { Fact } from '../facts/types.js';
import type { LogMetadata } from './event-log.js';

/** An entry of a space's log: a fact, its signature when it ends a run, and workflow metadata. */
export type FactEntry = Fact &
  LogMetadata & {
    /** Ed25519 signature by `origin` over `hash`, present on the last fact of each run. */
    readonly sig?: Uint8Array | undefined;
  };

/** The fact of an entry, without its signature and log metadata. */
export function factOf(entry: FactEntry): Fact {
  const { snapshot: _s, history: _h, pending: _p, sig: _g, ...fact } = entry;
  return fact;
}

/**
 * The log entry of a verified run's last fact with the run's signature, made once for every replica
 * that shares this table. Replicas of one process (the simulator) that each accept the same decoded
 * run would otherwise each keep their own copy of it, ~150 B per replica per run.
 *
 * Sound for the same reason as the other shared tables (engine/peer/cache.ts): the entry is a pure
 * function of the fact object and the signature bytes, both already checked by the replica asking
 * (a hit compares the bytes), and the entry is immutable.
 */
export class SignedEntryCache {
  readonly #entries = new WeakMap<Fact, FactEntry>();

  /** `{ ...fact, sig }`, the same object for the same fact and signature bytes. */
  signed(fact: Fact, sig: Uint8Array): FactEntry {
    const held = this.#entries.get(fact);
    if (held?.sig !== undefined && (held.sig === sig || equalBytes(held.sig, sig))) return held;
    const entry: FactEntry = { ...fact, sig };
    this.#entries.set(fact, entry);
    return entry;
  }
}
