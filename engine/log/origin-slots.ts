/**
 * Dense small integers for the origins of one space, handed out in the order origins are first
 * seen: the per-origin tables of a space (its sessions' vectors, its origin index) are arrays
 * indexed by them instead of maps keyed by PeerId.
 */
import type { PeerId } from '../facts/types.js';

/** Dense small integers for the origins of one space (its own, not shared across replicas). */
export class OriginSlots {
  readonly #slotOf = new Map<PeerId, number>();
  readonly #origins: PeerId[] = [];

  /** The slot of `origin`, handed out now if it has none. */
  slot(origin: PeerId): number {
    let slot = this.#slotOf.get(origin);
    if (slot === undefined) {
      slot = this.#origins.length;
      this.#origins.push(origin);
      this.#slotOf.set(origin, slot);
    }
    return slot;
  }

  /** The slot of `origin`, if it has one. */
  find(origin: PeerId): number | undefined {
    return this.#slotOf.get(origin);
  }

  originAt(slot: number): PeerId {
    return this.#origins[slot]!;
  }

  /** Slots handed out so far. */
  get size(): number {
    return this.#origins.length;
  }
}
