/**
 * Repeated timing for suites: an untimed setup, the timed run, an untimed check that the run did the
 * work (which also keeps the result alive, so nothing can be optimised away), then the median.
 */
import { timeMs } from './harness.js';

/** Options of {@link sample}. `S` is what setup prepares, `R` what the timed run returns. */
export interface SampleOptions<S, R> {
  /** Untimed, before every run: a fresh replica, a fresh document. */
  readonly setup: () => S;
  /** The measured work. */
  readonly run: (state: S) => R | Promise<R>;
  /** Untimed, after every run: throws if the result is wrong. */
  readonly check: (result: R) => void | Promise<void>;
  /** Untimed, after the check: free what the run made (Automerge documents live in WASM memory). */
  readonly dispose?: (result: R) => void;
  /**
   * Untimed warm-up before the measured runs (JIT, WASM tier-up, lazy initialisation).
   * @default one full setup + run + check + dispose
   */
  readonly warmup?: () => void | Promise<void>;
  /** @default 3 */
  readonly minRuns?: number;
  /** @default 9 */
  readonly maxRuns?: number;
  /** Stop adding runs (past `minRuns`) once the measured runs took this long in total, in ms. @default 5000 */
  readonly budgetMs?: number;
}

/** Timings of the measured runs, in ms. */
export interface Samples {
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly runs: number;
}

/** The median of `values` (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Collects garbage if the process was started with `--expose-gc` (the runner does that). */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Warm up once, then time `run` at least `minRuns` times and at most `maxRuns` times (fewer when
 * the runs are slow, see `budgetMs`), collecting garbage before each run so that garbage left by
 * setup or the previous run is not collected on the clock.
 */
export async function sample<S, R>(options: SampleOptions<S, R>): Promise<Samples> {
  const { setup, run, check, dispose, minRuns = 3, maxRuns = 9, budgetMs = 5000 } = options;
  const once = async (): Promise<number> => {
    const state = setup();
    collectGarbage();
    let result: R | undefined;
    const ms = await timeMs(async () => {
      result = await run(state);
    });
    await check(result as R);
    dispose?.(result as R);
    return ms;
  };

  if (options.warmup) await options.warmup();
  else await once();

  const times: number[] = [];
  let total = 0;
  while (times.length < maxRuns && (times.length < minRuns || total < budgetMs)) {
    const ms = await once();
    times.push(ms);
    total += ms;
  }
  return { medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), runs: times.length };
}

/** "median of 5 runs (min–max 480–520 ms)", for a row's note. */
export function describeSamples(samples: Samples): string {
  const round = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3));
  return `median of ${samples.runs} runs (min–max ${round(samples.minMs)}–${round(samples.maxMs)} ms)`;
}
