/** What a suite's child process sends the runner over the IPC channel. */
import type { BenchRow } from '../harness.js';

/** The child's one message: the suite's rows. A failure is a non-zero exit with the error on stderr. */
export interface RowsMessage {
  readonly type: 'rows';
  readonly rows: BenchRow[];
}

/** Whether `value` is a well-formed {@link BenchRow} (it crossed a process boundary). */
export function isBenchRow(value: unknown): value is BenchRow {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.workload === 'string' &&
    typeof r.system === 'string' &&
    typeof r.metric === 'string' &&
    typeof r.value === 'number' &&
    typeof r.unit === 'string' &&
    (r.better === 'lower' || r.better === 'higher') &&
    (r.goal === undefined || typeof r.goal === 'number') &&
    (r.note === undefined || typeof r.note === 'string')
  );
}

/** Whether `value` is a {@link RowsMessage}. */
export function isRowsMessage(value: unknown): value is RowsMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return m.type === 'rows' && Array.isArray(m.rows) && m.rows.every(isBenchRow);
}
