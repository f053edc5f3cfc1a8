/**
 * Dense small integers for the origins of one space, handed out in the order origins are first
 * seen: the per-origin tables of a space (its sessions' vectors, its origin index) are arrays
 * indexed by them instead of maps keyed by PeerId.
 */
import type { PeerId } from '../facts/types.js';

/**
 * Numbers for origins, one per PeerId, shared on purpose by the replicas of a process that hosts many
 * (the simulator, through `PeerCache`): each replica's `OriginSlots` then finds an origin's slot
 * through an array indexed by this number instead of a map of its own.
 */
export class OriginNumbers {
  readonly #numberOf = new Map<PeerId, number>();

  /** The number of `origin`, handed out now if it has none. */
  numberOf(origin: PeerId): number {
    let n = this.#numberOf.get(origin);
    if (n === undefined) {
      n = this.#numberOf.size;
      this.#numberOf.set(origin, n);
    }
    return n;
  }

  /** The number of `origin`, if it has one. */
  find(origin: PeerId): number | undefined {
    return this.#numberOf.get(origin);
  }

  /** Numbers handed out so far. */
  get size(): number {
    return this.#numberOf.size;
  }
}

/**
 * Dense small integers for the origins of one space, its own: handed out in the order this replica
 * first sees origins (vectors go out in slot order, so the order must not depend on what a process
 * shares). Found through a map of its own, or — where replicas share `OriginNumbers` — through an
 * array of slots indexed by the shared number (4 B an origin instead of a map entry, ~36 B).
 */
export class OriginSlots {
  readonly #slotOf: Map<PeerId, number> | undefined;
  readonly #numbers: OriginNumbers | undefined;
  /** With shared numbers: slot + 1 by number (0: none yet). */
  #byNumber = new Int32Array(0);
  readonly #origins: PeerId[] = [];

  constructor(numbers?: OriginNumbers) {
    this.#numbers = numbers;
    this.#slotOf = numbers === undefined ? new Map() : undefined;
  }

  /** The slot of `origin`, handed out now if it has none. */
  slot(origin: PeerId): number {
    const numbers = this.#numbers;
    if (numbers === undefined) {
      let slot = this.#slotOf!.get(origin);
      if (slot === undefined) {
        slot = this.#origins.length;
        this.#origins.push(origin);
        this.#slotOf!.set(origin, slot);
      }
      return slot;
    }
    const n = numbers.numberOf(origin);
    if (n >= this.#byNumber.length) {
      // Grow by half at least: origins arrive one by one.
      const grown = new Int32Array(Math.max(n + 1, numbers.size, Math.floor(this.#byNumber.length * 1.5)));
      grown.set(this.#byNumber);
      this.#byNumber = grown;
    }
    const held = this.#byNumber[n]!;
    if (held !== 0) return held - 1;
    const slot = this.#origins.length;
    this.#origins.push(origin);
    this.#byNumber[n] = slot + 1;
    return slot;
  }

  /** The slot of `origin`, if it has one. */
  find(origin: PeerId): number | undefined {
    if (this.#numbers === undefined) return this.#slotOf!.get(origin);
    const n = this.#numbers.find(origin);
    const held = n === undefined || n >= this.#byNumber.length ? 0 : this.#byNumber[n]!;
    return held === 0 ? undefined : held - 1;
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
