/**
 * A suite as a table: each workload names its metrics once and maps each system to a function that
 * measures it. Adding a system to a workload is adding one entry to `systems`; the metric names,
 * units and goals stay shared, so every system's rows line up in the report.
 */
import type { BenchContext, BenchRow, RatioGoal, System } from './harness.js';

/** How one metric of a workload is reported. */
export interface MetricSpec {
  readonly metric: string;
  readonly unit: string;
  readonly better: 'lower' | 'higher';
  /** The goal from the issue, in `unit`. */
  readonly goal?: number;
  /** The goal from the issue as a ratio to other systems ("≥ 1.5× faster than Yjs"). */
  readonly goalRatio?: RatioGoal;
}

/** What a system's function returns: a value per metric (omit what does not apply) and notes. */
export interface Measured<K extends string> {
  readonly values: Partial<Record<K, number>>;
  readonly notes?: Partial<Record<K, string>>;
}

/** One workload: its metrics and, per system, the function that measures it. */
export interface Workload<K extends string> {
  readonly name: string;
  readonly metrics: Readonly<Record<K, MetricSpec>>;
  readonly systems: Partial<Record<System, (ctx: BenchContext) => Promise<Measured<K>>>>;
}

/**
 * Runs every system of every workload, one after another, and turns what they return into rows
 * (systems in declared order, each with its metrics in declared order).
 */
export async function runWorkloads(workloads: readonly Workload<string>[], ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const w of workloads) {
    for (const [system, measure] of Object.entries(w.systems)) {
      if (!measure) continue;
      ctx.log(`${w.name} — ${system}`);
      const measured = await measure(ctx);
      for (const [key, spec] of Object.entries(w.metrics)) {
        const value = measured.values[key];
        if (value === undefined) continue;
        const note = measured.notes?.[key];
        rows.push({
          workload: w.name,
          system,
          metric: spec.metric,
          value,
          unit: spec.unit,
          better: spec.better,
          ...(spec.goal === undefined ? {} : { goal: spec.goal }),
          ...(spec.goalRatio === undefined ? {} : { goalRatio: spec.goalRatio }),
          ...(note === undefined ? {} : { note }),
        });
      }
    }
  }
  return rows;
}
