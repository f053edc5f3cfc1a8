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
import type { SequenceId } from './event-log.js';

/**
 * An origin's stretches, flat: `[counter₀, seq₀, counter₁, seq₁, …, end]`. Stretch k holds counters
 * counterₖ … counterₖ₊₁ − 1 (the last one: … end − 1) at seqₖ onwards.
 */
type Stretches = number[];

export class OriginIndex {
  readonly #byOrigin = new Map<PeerId, Stretches>();

  /**
   * Record that `origin`'s fact `counter` is at `seq`. Counters of one origin arrive in order; a jump
   * (the facts in between came in a snapshot, not through the log) starts the origin's entries anew.
   */
  add(origin: PeerId, counter: number, seq: SequenceId): void {
    const s = this.#byOrigin.get(origin);
    const end = s === undefined ? 0 : s[s.length - 1]!;
    if (s === undefined || counter > end) {
      this.#byOrigin.set(origin, [counter, seq, counter + 1]);
      return;
    }
    if (counter !== end) return;
    const last = s.length - 3;
    if (s[last + 1]! + (end - s[last]!) === seq) s[s.length - 1] = end + 1;
    else {
      s[s.length - 1] = counter;
      s.push(seq, counter + 1);
    }
  }

  /** The sequence id of a fact, if it is still in the log. */
  seqOf(origin: PeerId, counter: number): SequenceId | undefined {
    const s = this.#byOrigin.get(origin);
    if (s === undefined || counter < s[0]! || counter >= s[s.length - 1]!) return undefined;
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
    return this.#byOrigin.get(origin)?.[0];
  }

  /** Per origin, the first counter still in the log. */
  starts(): Map<PeerId, number> {
    const out = new Map<PeerId, number>();
    for (const [origin, s] of this.#byOrigin) out.set(origin, s[0]!);
    return out;
  }

  /** Forget entries before sequence id `seq` (the log was truncated there). */
  dropBefore(seq: SequenceId): void {
    for (const [origin, s] of this.#byOrigin) {
      // Sequence ids grow with counters: drop whole stretches below `seq`, then cut into the next.
      let k = 0;
      const stretches = (s.length - 1) / 2;
      while (k < stretches && s[2 * k + 1]! + (s[2 * k + 2]! - s[2 * k]!) <= seq) k++;
      if (k === stretches) {
        this.#byOrigin.delete(origin);
        continue;
      }
      if (k === 0 && s[1]! >= seq) continue;
      const kept = s.slice(2 * k);
      if (kept[1]! < seq) {
        kept[0] = kept[0]! + (seq - kept[1]!);
        kept[1] = seq;
      }
      this.#byOrigin.set(origin, kept);
    }
  }
}
