/**
 * Hybrid logical clock (Kulkarni et al.): wall-clock milliseconds plus a logical counter. Readings
 * only grow, follow real time when clocks are sane and are always causally ordered: a fact stamped
 * after receiving another is stamped later. A remote reading more than `maxDrift` ahead of our
 * wall clock is refused, so one peer with a wild clock cannot drag everyone's stamps into the future.
 */
import { err, ok, type Result } from 'neverthrow';
import type { Env } from '../env.js';
import { factError, type FactError } from '../errors.js';
import type { Hlc } from './types.js';

/** Order of two readings: negative, zero or positive. */
export const compareHlc = (a: Hlc, b: Hlc): number => a.wall - b.wall || a.logical - b.logical;

/** A reading refused for clock drift, and how long until it would be accepted (ms). */
export type DriftError = FactError & { readonly retryAfter: number };

export class HlcClock {
  readonly #env: Env;
  readonly #maxDrift: number;
  #last: Hlc = { wall: 0, logical: 0 };

  constructor(env: Env, maxDrift: number) {
    this.#env = env;
    this.#maxDrift = maxDrift;
  }

  /** The latest reading issued or observed. */
  get last(): Hlc {
    return this.#last;
  }

  /** A new reading for a local event, later than every reading issued or observed. */
  tick(): Hlc {
    const now = Math.floor(this.#env.now());
    const last = this.#last;
    this.#last = now > last.wall ? { wall: now, logical: 0 } : { wall: last.wall, logical: last.logical + 1 };
    return this.#last;
  }

  /**
   * Refuse a remote reading too far ahead of our wall clock; the error says how long until it would
   * be accepted (`retryAfter`, ms).
   */
  check(remote: Hlc): Result<void, DriftError> {
    const ahead = remote.wall - this.#env.now();
    if (ahead > this.#maxDrift) {
      const error = factError('clock-drift', `clock ${ahead} ms ahead of ours (limit ${this.#maxDrift} ms)`);
      return err({ ...error, retryAfter: ahead - this.#maxDrift });
    }
    return ok(undefined);
  }

  /** Take in a reading from an accepted fact (or one replayed from the log). */
  observe(remote: Hlc): void {
    if (compareHlc(remote, this.#last) > 0) this.#last = { wall: remote.wall, logical: remote.logical };
  }
}
