/**
 * Hybrid logical clock (Kulkarni et al.): wall-clock milliseconds plus a logical counter. Readings
 * only grow, follow real time when clocks are sane and are always causally ordered: a fact stamped
 * after receiving another is stamped later. A remote reading more than `maxDrift` ahead of our
 * wall clock is refused, so one peer with a wild clock cannot drag everyone's stamps into the future.
 */
import { err, ok, type Result } from 'neverthrow';
import type { Env } from '../env.js';
import { factError, type FactError } from '../errors.js';
import { MAX_HLC_LOGICAL } from '../limits.js';
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

  /**
   * A new reading for a local event, later than every reading issued or observed. Never fails: when
   * the logical counter reaches MAX_HLC_LOGICAL within one millisecond, the reading moves on to the
   * next millisecond instead.
   */
  tick(): Hlc {
    const now = Math.floor(this.#env.now());
    const last = this.#last;
    if (now > last.wall) this.#last = { wall: now, logical: 0 };
    else if (last.logical >= MAX_HLC_LOGICAL) this.#last = { wall: last.wall + 1, logical: 0 };
    else this.#last = { wall: last.wall, logical: last.logical + 1 };
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

  /**
   * Take in a reading from an accepted fact (or one replayed from the log, or a snapshot's register).
   * A reading further ahead of our wall clock than `maxDrift` is not taken in: it cannot drag our
   * own stamps into the future, whatever a snapshot or an old log holds.
   */
  observe(remote: Hlc): void {
    if (remote.wall - this.#env.now() > this.#maxDrift) return;
    if (compareHlc(remote, this.#last) > 0) this.#last = { wall: remote.wall, logical: remote.logical };
  }
}
