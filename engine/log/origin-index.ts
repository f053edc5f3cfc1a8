/**
 * Where each origin's facts sit in the local log: counter → sequence id, for the facts still in the
 * log. Sessions use it to find where a remote's catch-up starts without scanning the log.
 *
 * An origin's facts mostly enter the log in stretches of consecutive sequence ids (a run, a batch
 * of its own writes), so each origin keeps stretches, not one sequence id per fact: a space of
 * 10,000 origins that wrote once each costs one short array per origin, and an author's million
 * own writes in a row cost one stretch.
 */
import type { PeerId } from '../facts/types.js';
import { OriginSlots } from './origin-slots.js';
import type { SequenceId } from './event-log.js';

/**
 * An origin's stretches, flat: `[counter₀, seq₀, counter₁, seq₁, …, end]`. Stretch k holds counters
 * counterₖ … counterₖ₊₁ − 1 (the last one: … end − 1) at seqₖ onwards.
 */
type Stretches = number[];

/** `#single[3·slot]` of an origin whose facts are in `#multi`. (0 there: none in the log; counters start at 1.) */
const MULTI = -1;

/**
 * Most origins have one stretch (a space of many origins that wrote a little): theirs is three
 * numbers in `#single`, at their slot (24 B an origin, no array or map entry of its own); an origin
 * with more stretches keeps them in `#multi`.
 */
export class OriginIndex {
  readonly #slots: OriginSlots;
  /**
   * Per slot: first counter, its sequence id, end (one past the last counter); or MULTI, or 0. 32-bit
   * integers (12 B an origin) until a counter or sequence id passes 2^31 − 1, doubles from then on.
   */
  #single: Int32Array | Float64Array = new Int32Array(0);
  readonly #multi = new Map<number, Stretches>();

  /** `slots`: the space's origin slots (see OriginSlots); an index of its own by default. */
  constructor(slots: OriginSlots = new OriginSlots()) {
    this.#slots = slots;
  }

  /**
   * Record that `origin`'s fact `counter` is at `seq`. Counters of one origin arrive in order; a jump
   * (the facts in between came in a snapshot, not through the log) starts the origin's entries anew.
   */
  add(origin: PeerId, counter: number, seq: SequenceId): void {
    const slot = this.#slots.slot(origin);
    if (3 * slot >= this.#single.length) this.#grow(slot);
    const single = this.#single;
    const at = 3 * slot;
    const first = single[at]!;
    if (first === MULTI) {
      const s = this.#multi.get(slot)!;
      const end = s[s.length - 1]!;
      if (counter > end) {
        this.#multi.delete(slot);
        this.#set(at, counter, seq);
        return;
      }
      if (counter !== end) return;
      const last = s.length - 3;
      if (s[last + 1]! + (end - s[last]!) === seq) s[s.length - 1] = end + 1;
      else {
        s[s.length - 1] = counter;
        s.push(seq, counter + 1);
      }
      return;
    }
    const end = single[at + 2]!;
    if (first === 0 || counter > end) {
      this.#set(at, counter, seq);
      return;
    }
    if (counter !== end) return;
    if (single[at + 1]! + (end - first) === seq) {
      this.#fit(end + 1);
      this.#single[at + 2] = end + 1;
    } else {
      this.#multi.set(slot, [first, single[at + 1]!, counter, seq, counter + 1]);
      single[at] = MULTI;
    }
  }

  /** The sequence id of a fact, if it is still in the log. */
  seqOf(origin: PeerId, counter: number): SequenceId | undefined {
    const slot = this.#slots.find(origin);
    if (slot === undefined || 3 * slot >= this.#single.length) return undefined;
    const at = 3 * slot;
    const first = this.#single[at]!;
    if (first !== MULTI) {
      if (first === 0 || counter < first || counter >= this.#single[at + 2]!) return undefined;
      return this.#single[at + 1]! + (counter - first);
    }
    const s = this.#multi.get(slot)!;
    if (counter < s[0]! || counter >= s[s.length - 1]!) return undefined;
    // The last stretch whose first counter is at most `counter`.
    let lo = 0;
    let hi = (s.length - 1) / 2 - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[2 * mid]! <= counter) lo = mid;
      else hi = mid - 1;
    }
    return s[2 * lo + 1]! + (counter - s[2 * lo]!);
  }

  /** The first counter of `origin` still in the log. */
  first(origin: PeerId): number | undefined {
    const slot = this.#slots.find(origin);
    return slot === undefined ? undefined : this.#firstAt(slot);
  }

  /** Per origin, the first counter still in the log. */
  starts(): Map<PeerId, number> {
    const out = new Map<PeerId, number>();
    for (let slot = 0; 3 * slot < this.#single.length; slot++) {
      const first = this.#firstAt(slot);
      if (first !== undefined) out.set(this.#slots.originAt(slot), first);
    }
    return out;
  }

  /** Forget entries before sequence id `seq` (the log was truncated there). */
  dropBefore(seq: SequenceId): void {
    this.#fit(seq); // what is written below is seq or less than a value held
    const single = this.#single;
    for (let at = 0; at < single.length; at += 3) {
      const first = single[at]!;
      if (first === 0 || first === MULTI) continue;
      const from = single[at + 1]!;
      if (from >= seq) continue;
      const end = single[at + 2]!;
      if (from + (end - first) <= seq) single[at] = 0;
      else {
        single[at] = first + (seq - from);
        single[at + 1] = seq;
      }
    }
    for (const [slot, s] of this.#multi) {
      // Sequence ids grow with counters: drop whole stretches below `seq`, then cut into the next.
      let k = 0;
      const stretches = (s.length - 1) / 2;
      while (k < stretches && s[2 * k + 1]! + (s[2 * k + 2]! - s[2 * k]!) <= seq) k++;
      if (k === stretches) {
        this.#multi.delete(slot);
        single[3 * slot] = 0;
        continue;
      }
      if (k === 0 && s[1]! >= seq) continue;
      const kept = s.slice(2 * k);
      if (kept[1]! < seq) {
        kept[0] = kept[0]! + (seq - kept[1]!);
        kept[1] = seq;
      }
      this.#multi.set(slot, kept);
    }
  }

  #firstAt(slot: number): number | undefined {
    if (3 * slot >= this.#single.length) return undefined;
    const first = this.#single[3 * slot]!;
    return first === 0 ? undefined : first === MULTI ? this.#multi.get(slot)![0] : first;
  }

  #set(at: number, counter: number, seq: SequenceId): void {
    this.#fit(Math.max(counter + 1, seq));
    this.#single[at] = counter;
    this.#single[at + 1] = seq;
    this.#single[at + 2] = counter + 1;
  }

  #grow(slot: number): void {
    // Grow by half at least: origins arrive one by one.
    const length = 3 * Math.max(slot + 1, this.#slots.size, Math.floor(this.#single.length / 2));
    this.#single = this.#copy(length, this.#single instanceof Float64Array);
  }

  /** Make `#single` hold `value` (doubles once it passes 32-bit integers). */
  #fit(value: number): void {
    if (value > 0x7fff_ffff && this.#single instanceof Int32Array) this.#single = this.#copy(this.#single.length, true);
  }

  #copy(length: number, wide: boolean): Int32Array | Float64Array {
    const copy = wide ? new Float64Array(length) : new Int32Array(length);
    copy.set(this.#single);
    return copy;
  }
}
