/**
 * Compact per-origin counters for the vectors a session keeps per link (what the remote holds, what
 * we sent it, what we told it, what it brought us).
 *
 * A space of 10,000 origins on a peer with a few links keeps a dozen such vectors: as `Map`s they
 * cost ~50 B an origin each (the map entry, its hash bucket and the doubling slack), as a typed array
 * indexed by the origin's slot 1 to 8 B: a vector starts with a byte per origin and widens (16 bits,
 * 31 bits, then doubles) when a counter no longer fits, so the many vectors of a large space whose
 * origins wrote a little cost a byte an origin each. Slots are small integers handed out by the
 * space's `OriginSlots` in the order origins are first seen, so every vector of one space indexes the
 * same way.
 */
import type { PeerId } from '../facts/types.js';
import { OriginSlots } from '../log/origin-slots.js';

export { OriginSlots };

/** Arrays grow to at least the number of slots, rounded up to this many (origins). */
const SLOT_CHUNK = 64;

/** The counters' storage: as narrow as the largest counter held allows. */
type Counters = Uint8Array | Uint16Array | Uint32Array | Float64Array;

/**
 * A vector (origin → counter) over the slots of one space. A counter of 0 is no entry, as `?? 0`
 * reads an absent one; it reads as a `ReadonlyMap` so code that takes vectors takes it too.
 */
export class CounterVector implements ReadonlyMap<PeerId, number> {
  readonly #slots: OriginSlots;
  #counters: Counters;
  /** The largest counter `#counters` holds as it is (a whole number up to it, or any number once doubles). */
  #max = 0xff;
  #size = 0;

  constructor(slots: OriginSlots, from?: ReadonlyMap<PeerId, number>) {
    this.#slots = slots;
    this.#counters = new Uint8Array(0);
    if (from !== undefined) this.advance(from);
  }

  get size(): number {
    return this.#size;
  }

  /** Bytes the counters take (memory accounting and tests). */
  get byteLength(): number {
    return this.#counters.byteLength;
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
    if (!this.#fits(counter)) this.#widen(counter);
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
      if (!this.#fits(counter)) this.#widen(counter);
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

  /** `counter` can be stored as it is in `#counters` (whole numbers ≤ 2^31 - 1 in the integer arrays). */
  #fits(counter: number): boolean {
    return this.#max === Infinity || (counter >= 0 && counter <= this.#max && (counter | 0) === counter);
  }

  #grow(slot: number): void {
    // Origins arrive one by one: grow by half at least, or a space of n origins copies each vector
    // n / SLOT_CHUNK times.
    const length = Math.max(slot + 1, this.#slots.size, Math.floor(this.#counters.length * 1.5));
    this.#counters = this.#copy(Math.ceil(length / SLOT_CHUNK) * SLOT_CHUNK);
  }

  /** Store counters in a wider array, one that holds `counter`. */
  #widen(counter: number): void {
    const whole = Number.isInteger(counter) && counter >= 0;
    this.#max = whole && counter <= 0xffff ? 0xffff : whole && counter <= 0x7fff_ffff ? 0x7fff_ffff : Infinity;
    this.#counters = this.#copy(this.#counters.length);
  }

  /** `#counters` copied into an array of `length` counters of the width `#max` says. */
  #copy(length: number): Counters {
    const max = this.#max;
    const copy =
      max === 0xff
        ? new Uint8Array(length)
        : max === 0xffff
          ? new Uint16Array(length)
          : max === 0x7fff_ffff
            ? new Uint32Array(length)
            : new Float64Array(length);
    copy.set(this.#counters);
    return copy;
  }
}
