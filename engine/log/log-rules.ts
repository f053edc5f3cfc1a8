/**
 * The parts of EventLog semantics every backend shares, so memory, SQLite and IndexedDB agree on
 * the edge cases by construction (and the conformance suite checks the rest).
 */
import { err, ok, type Result } from 'neverthrow';
import { outOfRange, type OutOfRangeError } from '../errors.js';
import type { LogEntry, LogMetadata, SequenceId, SnapshotValue } from './event-log.js';

/**
 * Resolve `query` arguments against a log holding `[first, head)`. `latestSnapshot` is asked only
 * for `'snapshot'`. The end is clamped to the head; a start before `first` (truncated) or after the
 * head, or an end before the start, is out of range.
 */
export function resolveQueryRange(
  start: SequenceId | 'snapshot' | 'start',
  end: SequenceId | 'end',
  first: SequenceId,
  head: SequenceId,
  latestSnapshot: () => SequenceId | undefined,
): Result<{ start: SequenceId; end: SequenceId }, OutOfRangeError> {
  const from = start === 'start' ? first : start === 'snapshot' ? (latestSnapshot() ?? first) : start;
  const to = end === 'end' ? head : Math.min(end, head);
  if (!Number.isInteger(from) || !Number.isInteger(to)) return err(outOfRange('sequence ids are integers'));
  if (from < first) return err(outOfRange(`entry ${from} was truncated (log starts at ${first})`));
  if (from > head) return err(outOfRange(`entry ${from} is past the head ${head}`));
  if (to < from) return err(outOfRange(`end ${to} is before start ${from}`));
  return ok({ start: from, end: to });
}

/**
 * `value` with `lastSnapshot: latest` when the caller (using snapshot `snapshotId`, -1 for none)
 * should switch to it; `value` itself when it should not or passed no `snapshotId`.
 */
export function withLastSnapshot<V extends object>(
  value: V,
  latest: SnapshotValue | undefined,
  snapshotId: SequenceId | undefined,
): V & { lastSnapshot?: SnapshotValue } {
  if (latest === undefined || snapshotId === undefined || latest.sequenceId <= snapshotId) return value;
  return { ...value, lastSnapshot: latest };
}

/** A copy of `entry` with `metadata` applied: present keys are written, `undefined` clears. */
export function applyMetadata<T extends LogEntry>(entry: T, metadata: LogMetadata): T {
  const next = { ...entry } as Record<string, unknown>;
  for (const key of ['snapshot', 'history', 'pending'] as const) {
    if (!(key in metadata)) continue;
    const value = metadata[key];
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  return next as T;
}
