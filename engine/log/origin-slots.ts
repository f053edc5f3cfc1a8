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

/**
 * A map from origins to values over the slots of a space: a pointer per slot instead of a map entry
 * (~36 B an origin in V8, with its hash bucket and the doubling slack). Iterates in slot order.
 * Entries are never removed (an origin's chain tip only moves forward).
 */
export class SlotMap<V> implements ReadonlyMap<PeerId, V> {
  readonly #slots: OriginSlots;
  readonly #values: (V | undefined)[] = [];
  #size = 0;

  constructor(slots: OriginSlots) {
    this.#slots = slots;
  }

  get size(): number {
    return this.#size;
  }

  get(origin: PeerId): V | undefined {
    const slot = this.#slots.find(origin);
    return slot === undefined ? undefined : this.#values[slot];
  }

  has(origin: PeerId): boolean {
    return this.get(origin) !== undefined;
  }

  /** Set the value of `origin` (never undefined). */
  set(origin: PeerId, value: V): this {
    const slot = this.#slots.slot(origin);
    const values = this.#values;
    while (values.length <= slot) values.push(undefined);
    if (values[slot] === undefined) this.#size++;
    values[slot] = value;
    return this;
  }

  *entries(): MapIterator<[PeerId, V]> {
    const values = this.#values;
    for (let slot = 0; slot < values.length; slot++) {
      const value = values[slot];
      if (value !== undefined) yield [this.#slots.originAt(slot), value];
    }
  }

  *keys(): MapIterator<PeerId> {
    for (const [origin] of this.entries()) yield origin;
  }

  *values(): MapIterator<V> {
    for (const value of this.#values) if (value !== undefined) yield value;
  }

  [Symbol.iterator](): MapIterator<[PeerId, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, origin: PeerId, map: ReadonlyMap<PeerId, V>) => void): void {
    for (const [origin, value] of this.entries()) fn(value, origin, this);
  }
}
