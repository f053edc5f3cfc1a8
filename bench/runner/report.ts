/**
 * Turning rows into the printed report: Shoal's ratio to every other system, goals, and aligned
 * tables. Pure functions, so they are unit-tested (test/bench/report.test.ts).
 */
import type { BenchRow, RatioGoal } from '../harness.js';

/** The system every other one is compared with. */
export const SHOAL = 'shoal';

/** Printed above the tables so nobody has to guess which way a ratio points. */
export const RATIO_LEGEND =
  'Ratios are Shoal vs the other system, oriented so that >1× = Shoal better ' +
  '(other/shoal for times and bytes, shoal/other for throughput).';

/**
 * How many times better Shoal is than `other` on a metric: >1 means Shoal is better whichever way
 * the metric points. Undefined when the ratio means nothing (a missing, zero or negative value).
 */
export function ratio(
  shoal: number | undefined,
  other: number | undefined,
  better: 'lower' | 'higher',
): number | undefined {
  if (shoal === undefined || other === undefined) return undefined;
  if (!(shoal > 0 && other > 0) || !Number.isFinite(shoal) || !Number.isFinite(other)) return undefined;
  return better === 'lower' ? other / shoal : shoal / other;
}

/** Whether `value` meets `goal` (at most the goal for lower-is-better metrics, at least otherwise). */
export function meetsGoal(value: number, goal: number, better: 'lower' | 'higher'): boolean {
  return better === 'lower' ? value <= goal : value >= goal;
}

/**
 * Whether Shoal's ratio to every system in `goal.vs` is at least `goal.atLeast`; undefined while a
 * value is missing.
 */
export function meetsRatioGoal(
  goal: RatioGoal,
  shoal: number | undefined,
  valueOf: (system: string) => number | undefined,
  better: 'lower' | 'higher',
): boolean | undefined {
  const ratios = goal.vs.map((s) => ratio(shoal, valueOf(s), better));
  if (ratios.some((r) => r === undefined)) return undefined;
  return ratios.every((r) => r! >= goal.atLeast);
}

/** A ratio goal as `≥1.50× yjs, automerge`. */
export function formatRatioGoal(goal: RatioGoal): string {
  return `≥${formatRatio(goal.atLeast)} ${goal.vs.join(', ')}`;
}

/** A measured value with as many digits as are worth reading: 1,234 · 123 · 12.3 · 1.23 · 0.123. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return '0';
  return value.toPrecision(3);
}

/** A ratio as `2.31×`, `12.3×`, `150×`, or `—` when there is none. */
export function formatRatio(r: number | undefined): string {
  if (r === undefined) return '—';
  if (r >= 100) return `${r.toFixed(0)}×`;
  if (r >= 10) return `${r.toFixed(1)}×`;
  return `${r.toFixed(2)}×`;
}

/** Rows grouped by workload, workloads in the order they first appear. */
export function groupByWorkload(rows: readonly BenchRow[]): Map<string, BenchRow[]> {
  const groups = new Map<string, BenchRow[]>();
  for (const row of rows) {
    const group = groups.get(row.workload);
    if (group) group.push(row);
    else groups.set(row.workload, [row]);
  }
  return groups;
}

/** Shoal first (it is what the table is about), then the others in the order they appear. */
export function systemsOf(rows: readonly BenchRow[]): string[] {
  const others = [...new Set(rows.map((row) => row.system))].filter((s) => s !== SHOAL);
  return [SHOAL, ...others];
}

/** Pads cells into columns: the first `textColumns` left-aligned, the rest right-aligned. */
export function alignColumns(table: readonly (readonly string[])[], textColumns: number): string[] {
  const widths: number[] = [];
  for (const line of table) line.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return table.map((line) =>
    line
      .map((cell, i) => (i < textColumns ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * One workload's table: a line per metric with each system's value, Shoal's ratio to each other
 * system, the goal and whether Shoal meets it; then the rows' notes.
 */
export function renderWorkload(workload: string, rows: readonly BenchRow[]): string {
  const systems = systemsOf(rows);
  const others = systems.filter((s) => s !== SHOAL);
  const metrics = [...new Set(rows.map((row) => row.metric))];
  const header = ['metric', 'unit', ...systems, ...others.map((s) => `${SHOAL} vs ${s}`), 'goal', 'meets'];
  const lines = metrics.map((metric) => {
    const of = (system: string): BenchRow | undefined => rows.find((r) => r.metric === metric && r.system === system);
    const any = rows.find((r) => r.metric === metric)!;
    const shoal = of(SHOAL)?.value;
    const goal = rows.find((r) => r.metric === metric && r.goal !== undefined)?.goal;
    const goalRatio = rows.find((r) => r.metric === metric && r.goalRatio !== undefined)?.goalRatio;
    const meetsRatio =
      goalRatio === undefined ? undefined : meetsRatioGoal(goalRatio, shoal, (s) => of(s)?.value, any.better);
    const goalCells =
      goalRatio !== undefined
        ? [formatRatioGoal(goalRatio), meetsRatio === undefined ? '—' : meetsRatio ? 'yes' : 'NO']
        : [
            goal === undefined ? '—' : formatValue(goal),
            goal === undefined || shoal === undefined ? '—' : meetsGoal(shoal, goal, any.better) ? 'yes' : 'NO',
          ];
    return [
      metric,
      any.unit,
      ...systems.map((s) => {
        const value = of(s)?.value;
        return value === undefined ? '—' : formatValue(value);
      }),
      ...others.map((s) => formatRatio(ratio(shoal, of(s)?.value, any.better))),
      ...goalCells,
    ];
  });
  const notes = rows.filter((r) => r.note !== undefined).map((r) => `    ${r.system}, ${r.metric}: ${r.note}`);
  return [
    workload,
    ...alignColumns([header, ...lines], 2).map((line) => `  ${line}`),
    ...(notes.length ? ['  notes:', ...notes] : []),
  ].join('\n');
}

/** Every workload's table, separated by blank lines. */
export function renderReport(rows: readonly BenchRow[]): string {
  return [...groupByWorkload(rows)].map(([workload, group]) => renderWorkload(workload, group)).join('\n\n');
}

/**
 * Other processes competing for the cores stretch wall-clock times and the timings cannot correct
 * for that, so the report says so. The suite itself keeps about one core busy: a load above the
 * number of cores means something else wanted CPU time as well.
 */
export function busyWarning(maxLoad: number, cores: number): string | undefined {
  return maxLoad > cores
    ? `WARNING: the machine was busy (load average up to ${maxLoad.toFixed(1)} on ${cores} cores): other processes took CPU time, timings are inflated; rerun on an idle machine before quoting them`
    : undefined;
}
