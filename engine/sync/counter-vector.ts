/**
 * Compact per-origin counters for the vectors a session keeps per link (what the remote holds, what
 * we sent it, what we told it, what it brought us).
 *
 * A space of 10,000 origins on a peer with a few links keeps a dozen such vectors: as `Map`s they
 * cost ~50 B an origin each (the map entry, its hash bucket and the doubling slack), as a
 * `Float64Array` indexed by the origin's slot 8 B. Slots are small integers handed out by the
 * space's `OriginSlots` in the order origins are first seen, so every vector of one space indexes the
 * same way.
 */
import type { PeerId } from '../facts/types.js';

/** Arrays grow to at least the number of slots, rounded up to this many (origins). */
const SLOT_CHUNK = 64;

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
 * A vector (origin → counter) over the slots of one space. A counter of 0 is no entry, as `?? 0`
 * reads an absent one; it reads as a `ReadonlyMap` so code that takes vectors takes it too.
 */
export class CounterVector implements ReadonlyMap<PeerId, number> {
  readonly #slots: OriginSlots;
  #counters: Float64Array;
  #size = 0;

  constructor(slots: OriginSlots, from?: ReadonlyMap<PeerId, number>) {
    this.#slots = slots;
    this.#counters = new Float64Array(0);
    if (from !== undefined) this.advance(from);
  }

  get size(): number {
    return this.#size;
  }

  /** The counter of `origin`, undefined when none (0). */
  get(origin: PeerId): number | undefined {
    const slot = this.#slots.find(origin);
    if (slot === undefined || slot >= this.#counters.length) return undefined;
    const counter = this.#counters[slot]!;
    return counter === 0 ? undefined : counter;
  }

  /** The counter of `origin`, 0 when none. */
  counter(origin: PeerId): number {
    return this.get(origin) ?? 0;
  }

  has(origin: PeerId): boolean {
    return this.get(origin) !== undefined;
  }

  /** Set the counter of `origin` (0 removes it). */
  set(origin: PeerId, counter: number): this {
    const slot = this.#slots.slot(origin);
    if (slot >= this.#counters.length) {
      if (counter === 0) return this;
      this.#grow(slot);
    }
    const before = this.#counters[slot]!;
    if (before === 0 && counter !== 0) this.#size++;
    else if (before !== 0 && counter === 0) this.#size--;
    this.#counters[slot] = counter;
    return this;
  }

  /** Raise each counter to `from`'s where that is higher. */
  advance(from: ReadonlyMap<PeerId, number>): void {
    for (const [origin, counter] of from) {
      if (!(counter > 0)) continue;
      const slot = this.#slots.slot(origin);
      if (slot >= this.#counters.length) this.#grow(slot);
      const before = this.#counters[slot]!;
      if (counter <= before) continue;
      if (before === 0) this.#size++;
      this.#counters[slot] = counter;
    }
  }

  *entries(): MapIterator<[PeerId, number]> {
    const counters = this.#counters;
    for (let slot = 0; slot < counters.length; slot++) {
      const counter = counters[slot]!;
      if (counter !== 0) yield [this.#slots.originAt(slot), counter];
    }
  }

  *keys(): MapIterator<PeerId> {
    for (const [origin] of this.entries()) yield origin;
  }

  *values(): MapIterator<number> {
    for (const [, counter] of this.entries()) yield counter;
  }

  [Symbol.iterator](): MapIterator<[PeerId, number]> {
    return this.entries();
  }

  forEach(fn: (counter: number, origin: PeerId, map: ReadonlyMap<PeerId, number>) => void): void {
    for (const [origin, counter] of this.entries()) fn(counter, origin, this);
  }

  #grow(slot: number): void {
    // Origins arrive one by one: grow by half at least, or a space of n origins copies each vector
    // n / SLOT_CHUNK times.
    const length = Math.max(slot + 1, this.#slots.size, Math.floor(this.#counters.length * 1.5));
    const grown = new Float64Array(Math.ceil(length / SLOT_CHUNK) * SLOT_CHUNK);
    grown.set(this.#counters);
    this.#counters = grown;
  }
}
