/**
 * Env: the engine's only window on time, timers and randomness. Real by default; the simulator
 * (`SimNetwork`) hands every peer a virtual one, which is what makes one seed replay one run exactly.
 * Nothing else in `engine/` may read `Date.now`, `setTimeout` or `Math.random`.
 */
import { RANDOM_POOL_BYTES } from './limits.js';

/** A scheduled callback. */
export interface Timer {
  /** Cancel the callback if it has not run. Idempotent. */
  cancel(): void;
}

export interface Env {
  /** Wall clock in milliseconds since the Unix epoch (virtual in simulation). It may jump (NTP). */
  now(): number;
  /**
   * Milliseconds on a clock that never goes back, from any origin: what intervals (timeouts,
   * retransmission, hold-backs) are measured with, so a wall clock corrected backwards cannot stall
   * them. @default a clock that follows `now()` but never goes back
   */
  monotonic?(): number;
  /** Run `fn` once after `ms` milliseconds. */
  setTimer(ms: number, fn: () => void): Timer;
  /** `length` uniformly random bytes (cryptographically strong in the real Env). */
  randomBytes(length: number): Uint8Array;
  /** A uniformly random float in [0, 1). */
  random(): number;
}

/** The real Env: system clock, host timers, `crypto.getRandomValues`. */
export function realEnv(): Env {
  let pool = new Uint8Array(0);
  let used = 0;
  const fill = (bytes: Uint8Array) => {
    // getRandomValues fills at most 65,536 bytes per call.
    for (let offset = 0; offset < bytes.length; offset += 65_536) {
      globalThis.crypto.getRandomValues(bytes.subarray(offset, Math.min(bytes.length, offset + 65_536)));
    }
  };
  return {
    now: () => Date.now(),
    monotonic: () => performance.now(),
    setTimer(ms, fn) {
      const handle = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(handle) };
    },
    randomBytes(length) {
      if (length > RANDOM_POOL_BYTES / 4) {
        const bytes = new Uint8Array(length);
        fill(bytes);
        return bytes;
      }
      if (used + length > pool.length) {
        pool = new Uint8Array(RANDOM_POOL_BYTES);
        fill(pool);
        used = 0;
      }
      // A copy: the pool's bytes are never handed out twice.
      const out = pool.slice(used, used + length);
      used += length;
      return out;
    },
    random: () => Math.random(),
  };
}

/** The monotonic clock of `env` (see `Env.monotonic`). */
export function monotonicClock(env: Env): () => number {
  if (env.monotonic !== undefined) return () => env.monotonic!();
  let last = Number.NEGATIVE_INFINITY;
  return () => (last = Math.max(last, env.now()));
}

/**
 * Timers owned by one peer, so closing (or crashing) the peer cancels every one of them.
 * The engine always schedules through a TimerScope, never through `env.setTimer` directly.
 */
export class TimerScope {
  readonly #env: Env;
  readonly #live = new Set<Timer>();
  #closed = false;

  constructor(env: Env) {
    this.#env = env;
  }

  /** Schedule `fn`; a no-op once the scope is closed. */
  after(ms: number, fn: () => void): Timer {
    if (this.#closed) return { cancel: () => {} };
    const timer: Timer = this.#env.setTimer(ms, () => {
      this.#live.delete(timer);
      if (!this.#closed) fn();
    });
    this.#live.add(timer);
    return {
      cancel: () => {
        timer.cancel();
        this.#live.delete(timer);
      },
    };
  }

  /** Cancel everything and refuse new timers. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#live) timer.cancel();
    this.#live.clear();
  }
}
