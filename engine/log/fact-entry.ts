/**
 * What a space's event log holds: a fact, its signature when it ends a run, and workflow metadata.
 */
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
