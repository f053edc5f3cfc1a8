/**
 * Where each origin's facts sit in the local log: counter → sequence id, for the facts still in the
 * log. Sessions use it to find where a remote's catch-up starts without scanning the log.
 */
import type { PeerId } from '../facts/types.js';
import type { SequenceId } from './event-log.js';

interface Entries {
  /** Counter of `seqs[0]`. */
  first: number;
  seqs: SequenceId[];
}

export class OriginIndex {
  readonly #byOrigin = new Map<PeerId, Entries>();

  /** Record that `origin`'s fact `counter` is at `seq`. Counters of one origin arrive in order. */
  add(origin: PeerId, counter: number, seq: SequenceId): void {
    const entries = this.#byOrigin.get(origin);
    if (entries === undefined) {
      this.#byOrigin.set(origin, { first: counter, seqs: [seq] });
      return;
    }
    if (counter === entries.first + entries.seqs.length) entries.seqs.push(seq);
  }

  /** The sequence id of a fact, if it is still in the log. */
  seqOf(origin: PeerId, counter: number): SequenceId | undefined {
    const entries = this.#byOrigin.get(origin);
    return entries === undefined ? undefined : entries.seqs[counter - entries.first];
  }

  /** The first counter of `origin` still in the log. */
  first(origin: PeerId): number | undefined {
    return this.#byOrigin.get(origin)?.first;
  }

  /** Per origin, the first counter still in the log. */
  starts(): Map<PeerId, number> {
    const out = new Map<PeerId, number>();
    for (const [origin, entries] of this.#byOrigin) out.set(origin, entries.first);
    return out;
  }

  /** Forget entries before sequence id `seq` (the log was truncated there). */
  dropBefore(seq: SequenceId): void {
    for (const [origin, entries] of this.#byOrigin) {
      let cut = 0;
      while (cut < entries.seqs.length && entries.seqs[cut]! < seq) cut++;
      if (cut === 0) continue;
      if (cut === entries.seqs.length) this.#byOrigin.delete(origin);
      else {
        entries.seqs = entries.seqs.slice(cut);
        entries.first += cut;
      }
    }
  }
}
