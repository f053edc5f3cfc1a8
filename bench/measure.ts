/**
 * Repeated timing for suites: an untimed setup, the timed run, an untimed check that the run did the
 * work (which also keeps the result alive, so nothing can be optimised away), then the median.
 */
import { readFileSync } from 'node:fs';
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
  /** Median time the measuring thread was on a CPU during a run (Linux only). */
  readonly onCpuMedianMs?: number;
  /** Share of the measured wall time the thread was runnable but waiting for a CPU (Linux only). */
  readonly waitShare?: number;
}

/** Time the calling thread has spent on a CPU and waiting in the run queue, in ns. */
export interface ThreadSchedstat {
  readonly cpuNs: number;
  readonly waitNs: number;
}

/**
 * The calling thread's scheduler statistics from `/proc/thread-self/schedstat` (Linux), or undefined
 * elsewhere. Wall-clock times on a machine that other processes keep busy include the time this
 * thread waited for a CPU; these counters say how much that was.
 */
export function threadSchedstat(): ThreadSchedstat | undefined {
  try {
    const [cpu, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return cpu === undefined || wait === undefined ? undefined : { cpuNs: Number(cpu), waitNs: Number(wait) };
  } catch {
    return undefined; // not Linux: no scheduler statistics, wall time only
  }
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
  const onCpuMs: number[] = [];
  let waitNs = 0;
  const once = async (): Promise<number> => {
    const state = setup();
    collectGarbage();
    let result: R | undefined;
    const before = threadSchedstat();
    const ms = await timeMs(async () => {
      result = await run(state);
    });
    const after = threadSchedstat();
    if (before && after) {
      onCpuMs.push((after.cpuNs - before.cpuNs) / 1e6);
      waitNs += after.waitNs - before.waitNs;
    }
    await check(result as R);
    dispose?.(result as R);
    return ms;
  };

  if (options.warmup) await options.warmup();
  else await once();
  onCpuMs.length = 0;
  waitNs = 0;

  const times: number[] = [];
  let total = 0;
  while (times.length < maxRuns && (times.length < minRuns || total < budgetMs)) {
    const ms = await once();
    times.push(ms);
    total += ms;
  }
  const stats =
    onCpuMs.length === times.length ? { onCpuMedianMs: median(onCpuMs), waitShare: waitNs / 1e6 / total } : {};
  return {
    medianMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    runs: times.length,
    ...stats,
  };
}

/**
 * "median of 5 runs (min–max 480–520 ms; on CPU 470 ms, 2 % waiting for a CPU)", for a row's note.
 * A large waiting share means other processes inflated the wall time; the on-CPU median is then the
 * better estimate of the time on an idle machine (for single-threaded work like the merge suite's).
 */
export function describeSamples(samples: Samples): string {
  const round = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3));
  const cpu =
    samples.onCpuMedianMs === undefined || samples.waitShare === undefined
      ? ''
      : `; on CPU ${round(samples.onCpuMedianMs)} ms, ${(samples.waitShare * 100).toFixed(0)} % waiting for a CPU`;
  return `median of ${samples.runs} runs (min–max ${round(samples.minMs)}–${round(samples.maxMs)} ms${cpu})`;
}
