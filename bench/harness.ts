/**
 * The benchmark contract. A suite measures one workload on Shoal and, where the workload exists
 * there, on Yjs and Automerge in the same process and run, and returns rows. `bench/index.ts` prints
 * them as a table with Shoal's ratio to each other system and writes them as JSON.
 */

export type System = 'shoal' | 'yjs' | 'automerge' | 'automerge-repo' | (string & {});

export interface BenchRow {
  /** Workload name, e.g. "B3.1 merge, 1,540 writers, one key". */
  readonly workload: string;
  readonly system: System;
  /** What was measured, e.g. "time", "µs/update", "B/update on the wire". */
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  /** Whether smaller is better for this metric (times, bytes) or larger (throughput). */
  readonly better: 'lower' | 'higher';
  /** The goal from the issue, in the same unit, when there is one. */
  readonly goal?: number;
  /** A goal relative to other systems: Shoal's ratio (oriented, >1 = better) to each of `vs`. */
  readonly goalRatio?: RatioGoal;
  readonly note?: string;
}

/** "At least `atLeast`× better than each of `vs`", in the report's oriented ratio. */
export interface RatioGoal {
  readonly vs: readonly System[];
  readonly atLeast: number;
}

export interface BenchContext {
  /** Scale factor for quick runs (`--quick` = 0.1). Suites scale their sizes by it. */
  readonly scale: number;
  /** Progress line for long suites. */
  log(message: string): void;
}

export interface BenchSuite {
  readonly name: string;
  run(ctx: BenchContext): Promise<BenchRow[]>;
}

/** Wall time of `fn` in milliseconds (high resolution). */
export async function timeMs(fn: () => unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}
