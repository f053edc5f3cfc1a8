/**
 * Re-dial delays: exponential, capped and jittered, so a peer that keeps failing is tried less and
 * less often, and many peers that lost the same link do not all knock again in the same instant.
 */

/** How a transport spaces out its attempts to reach a peer again. */
export interface BackoffInit {
  /**
   * Delay before the first retry, in milliseconds.
   *
   * @default 500
   */
  readonly initialMs?: number;
  /**
   * Longest delay between two attempts, in milliseconds.
   *
   * @default 30000
   */
  readonly maxMs?: number;
  /**
   * Growth of the delay per consecutive failure.
   *
   * @default 2
   */
  readonly factor?: number;
}

export const DEFAULT_BACKOFF_INITIAL_MS = 500; // ms
export const DEFAULT_BACKOFF_MAX_MS = 30_000; // ms
export const DEFAULT_BACKOFF_FACTOR = 2;

/**
 * Delay before attempt number `attempt` (0 for the first retry), in milliseconds: the capped
 * exponential, then "equal jitter" (between half and all of it), which keeps a floor under the delay
 * while still spreading peers apart.
 *
 * @param random - a uniform sample in [0, 1), e.g. `env.random()`
 */
export function backoffDelay(attempt: number, init: BackoffInit, random: number): number {
  const initial = init.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
  const max = init.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
  const factor = init.factor ?? DEFAULT_BACKOFF_FACTOR;
  const capped = Math.min(max, initial * Math.pow(factor, Math.max(0, attempt)));
  return Math.round(capped / 2 + (capped / 2) * random);
}
