import { describe, expect, it } from 'vitest';
import type { BenchRow } from '../../bench/harness.js';
import {
  alignColumns,
  busyWarning,
  formatRatio,
  formatValue,
  groupByWorkload,
  meetsGoal,
  ratio,
  renderWorkload,
  systemsOf,
} from '../../bench/runner/report.js';

const row = (system: string, metric: string, value: number, extra: Partial<BenchRow> = {}): BenchRow => ({
  workload: 'w',
  system,
  metric,
  value,
  unit: 'ms',
  better: 'lower',
  ...extra,
});

describe('ratio: >1 means Shoal is better, whichever way the metric points', () => {
  it('divides the other by Shoal when lower is better', () => {
    expect(ratio(10, 30, 'lower')).toBe(3);
    expect(ratio(30, 10, 'lower')).toBeCloseTo(1 / 3);
  });
  it('divides Shoal by the other when higher is better', () => {
    expect(ratio(30, 10, 'higher')).toBe(3);
    expect(ratio(10, 30, 'higher')).toBeCloseTo(1 / 3);
  });
  it('has no ratio for missing, zero, negative or infinite values', () => {
    expect(ratio(undefined, 1, 'lower')).toBeUndefined();
    expect(ratio(1, undefined, 'lower')).toBeUndefined();
    expect(ratio(0, 1, 'lower')).toBeUndefined();
    expect(ratio(1, 0, 'higher')).toBeUndefined();
    expect(ratio(-1, 1, 'lower')).toBeUndefined();
    expect(ratio(Infinity, 1, 'higher')).toBeUndefined();
  });
});

describe('meetsGoal', () => {
  it('is at most the goal for lower-is-better metrics, at least for higher-is-better', () => {
    expect(meetsGoal(5, 5, 'lower')).toBe(true);
    expect(meetsGoal(6, 5, 'lower')).toBe(false);
    expect(meetsGoal(5, 5, 'higher')).toBe(true);
    expect(meetsGoal(4, 5, 'higher')).toBe(false);
  });
});

describe('formatting', () => {
  it('shows values with digits worth reading', () => {
    expect(formatValue(1234567.8)).toBe('1,234,568');
    expect(formatValue(123.4)).toBe('123');
    expect(formatValue(12.34)).toBe('12.3');
    expect(formatValue(1.234)).toBe('1.23');
    expect(formatValue(0.012345)).toBe('0.0123');
    expect(formatValue(0)).toBe('0');
    expect(formatValue(-12.34)).toBe('-12.3');
  });
  it('shows ratios with a × and a dash when there is none', () => {
    expect(formatRatio(2.314)).toBe('2.31×');
    expect(formatRatio(0.456)).toBe('0.46×');
    expect(formatRatio(12.34)).toBe('12.3×');
    expect(formatRatio(150.4)).toBe('150×');
    expect(formatRatio(undefined)).toBe('—');
  });
  it('left-aligns text columns and right-aligns the rest', () => {
    expect(
      alignColumns(
        [
          ['a', 'bb', '1'],
          ['ccc', 'd', '22'],
        ],
        2,
      ),
    ).toEqual(['a    bb   1', 'ccc  d   22']);
  });
});

describe('tables', () => {
  it('groups rows by workload in order of first appearance', () => {
    const rows = [
      row('yjs', 'm', 1, { workload: 'b' }),
      row('yjs', 'm', 1, { workload: 'a' }),
      row('shoal', 'm', 1, { workload: 'b' }),
    ];
    expect([...groupByWorkload(rows).keys()]).toEqual(['b', 'a']);
    expect(groupByWorkload(rows).get('b')).toHaveLength(2);
  });
  it('puts Shoal first even when it has no rows yet', () => {
    expect(systemsOf([row('yjs', 'm', 1), row('automerge', 'm', 1), row('shoal', 'm', 1)])).toEqual([
      'shoal',
      'yjs',
      'automerge',
    ]);
    expect(systemsOf([row('yjs', 'm', 1)])).toEqual(['shoal', 'yjs']);
  });
  it('prints values, oriented ratios, the goal and whether Shoal meets it', () => {
    const text = renderWorkload('w', [
      row('shoal', 'time', 10, { goal: 20 }),
      row('yjs', 'time', 40, { goal: 20, note: 'median of 5' }),
      row('automerge', 'time', 5, { goal: 20 }),
      row('shoal', 'rate', 100, { better: 'higher', unit: 'ops/s', goal: 200 }),
      row('yjs', 'rate', 50, { better: 'higher', unit: 'ops/s', goal: 200 }),
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toBe('w');
    expect(lines[1]!.trim().split(/\s{2,}/)).toEqual([
      'metric',
      'unit',
      'shoal',
      'yjs',
      'automerge',
      'shoal vs yjs',
      'shoal vs automerge',
      'goal',
      'meets',
    ]);
    expect(lines[2]!.trim().split(/\s{2,}/)).toEqual([
      'time',
      'ms',
      '10.0',
      '40.0',
      '5.00',
      '4.00×',
      '0.50×',
      '20.0',
      'yes',
    ]);
    expect(lines[3]!.trim().split(/\s{2,}/)).toEqual(['rate', 'ops/s', '100', '50.0', '—', '2.00×', '—', '200', 'NO']);
    expect(text).toContain('yjs, time: median of 5');
  });
  it('prints a ratio goal and meets it only when Shoal beats every named system by that much', () => {
    const goalRatio = { vs: ['yjs', 'automerge'], atLeast: 1.5 };
    const text = renderWorkload('w', [
      row('shoal', 'time', 10, { goalRatio }),
      row('yjs', 'time', 40, { goalRatio }),
      row('automerge', 'time', 14, { goalRatio }),
      row('shoal', 'size', 10, { goalRatio }),
      row('yjs', 'size', 40, { goalRatio }),
      row('automerge', 'size', 16, { goalRatio }),
    ]);
    const lines = text.split('\n');
    expect(
      lines[2]!
        .trim()
        .split(/\s{2,}/)
        .slice(-2),
    ).toEqual(['≥1.50× yjs, automerge', 'NO']);
    expect(
      lines[3]!
        .trim()
        .split(/\s{2,}/)
        .slice(-2),
    ).toEqual(['≥1.50× yjs, automerge', 'yes']);
    const missing = renderWorkload('w', [
      row('shoal', 'time', 10, { goalRatio }),
      row('yjs', 'time', 40, { goalRatio }),
    ]);
    expect(
      missing
        .split('\n')[2]!
        .trim()
        .split(/\s{2,}/)
        .slice(-2),
    ).toEqual(['≥1.50× yjs, automerge', '—']);
  });
  it('shows dashes for ratios and goals while Shoal has no rows', () => {
    const line = renderWorkload('w', [row('yjs', 'time', 40)]).split('\n')[2]!;
    expect(line.trim().split(/\s{2,}/)).toEqual(['time', 'ms', '—', '40.0', '—', '—', '—']);
  });
});

describe('busyWarning', () => {
  it('warns when the load average exceeded the cores, and only then', () => {
    expect(busyWarning(1.4, 2)).toBeUndefined();
    expect(busyWarning(2, 2)).toBeUndefined();
    expect(busyWarning(6.56, 2)).toContain('load average up to 6.6 on 2 cores');
  });
});
