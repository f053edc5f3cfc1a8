/**
 * The in-memory EventLog: the reference implementation every other backend is checked against.
 * Entries are copied on the way in (unless frozen) and replaced (never mutated) when their metadata
 * changes, so an entry a caller got from `query` never changes under it.
 */
import { errAsync, okAsync, type ResultAsync } from 'neverthrow';
import { conflictError, outOfRange } from '../errors.js';
import { LOG_PAGE_ENTRIES } from '../limits.js';
import type {
  AddEntryError,
  AddEntryValue,
  EventLog,
  LogEntry,
  LogMetadata,
  MetadataError,
  QueryError,
  QueryValue,
  SequenceId,
  SnapshotValue,
  TruncateError,
} from './event-log.js';
import { applyMetadata, resolveQueryRange, withLastSnapshot } from './log-rules.js';

export interface MemoryEventLogInit {
  /** Most entries one `query` returns. @default LOG_PAGE_ENTRIES */
  pageSize?: number;
}

export class MemoryEventLog<T extends LogEntry> implements EventLog<T> {
  #start: SequenceId = 0;
  #entries: T[] = [];
  /** The latest entry carrying a snapshot, kept up to date on every change. */
  #snapshot: SnapshotValue | undefined;
  readonly #pageSize: number;

  constructor(init: MemoryEventLogInit = {}) {
    this.#pageSize = init.pageSize ?? LOG_PAGE_ENTRIES;
  }

  get #end(): SequenceId {
    return this.#start + this.#entries.length;
  }

  addEntry(entry: T, sequenceId: SequenceId, snapshotId?: SequenceId): ResultAsync<AddEntryValue, AddEntryError> {
    return this.addEntries([entry], sequenceId, snapshotId);
  }

  addEntries(
    entries: readonly T[],
    sequenceId: SequenceId,
    snapshotId?: SequenceId,
  ): ResultAsync<AddEntryValue, AddEntryError> {
    if (sequenceId !== this.#end) {
      return errAsync(conflictError(`sequence id ${sequenceId} is not the head ${this.#end}`, this.#end));
    }
    for (const entry of entries) {
      if (entry.snapshot !== undefined) this.#snapshot = { sequenceId: this.#end, blobId: entry.snapshot };
      // A shallow copy: the caller keeps its object, the log its own. A frozen entry cannot change
      // under the log, so it is kept as is: facts decoded once and shared by the replicas of a
      // simulated network are then held once, not once per replica.
      this.#entries.push(Object.isFrozen(entry) ? entry : { ...entry });
    }
    return okAsync(this.#withSnapshot({}, snapshotId));
  }

  setMetadata(sequenceId: SequenceId, metadata: LogMetadata): ResultAsync<void, MetadataError> {
    const index = sequenceId - this.#start;
    const entry = this.#entries[index];
    if (entry === undefined || !Number.isInteger(sequenceId)) {
      return errAsync(outOfRange(`no entry ${sequenceId} (log holds ${this.#start}..${this.#end})`));
    }
    this.#entries[index] = applyMetadata(entry, metadata);
    if ('snapshot' in metadata) this.#snapshot = this.#findLatestSnapshot();
    return okAsync(undefined);
  }

  query(
    start: SequenceId | 'snapshot' | 'start',
    end: SequenceId | 'end',
    snapshotId?: SequenceId,
  ): ResultAsync<QueryValue<T>, QueryError> {
    const range = resolveQueryRange(start, end, this.#start, this.#end, () => this.#snapshot?.sequenceId);
    if (range.isErr()) return errAsync(range.error);
    const from = range.value.start;
    const to = Math.min(range.value.end, from + this.#pageSize);
    const entries = this.#entries.slice(from - this.#start, to - this.#start);
    return okAsync(
      this.#withSnapshot(
        { startSequenceId: from, endSequenceId: to, isComplete: to === range.value.end, entries },
        snapshotId,
      ),
    );
  }

  truncate(start: SequenceId): ResultAsync<void, TruncateError> {
    if (!Number.isInteger(start) || start > this.#end) {
      return errAsync(outOfRange(`cannot truncate at ${start}: the head is ${this.#end}`));
    }
    if (start > this.#start) {
      this.#entries = this.#entries.slice(start - this.#start);
      this.#start = start;
      if (this.#snapshot !== undefined && this.#snapshot.sequenceId < start)
        this.#snapshot = this.#findLatestSnapshot();
    }
    return okAsync(undefined);
  }

  #findLatestSnapshot(): SnapshotValue | undefined {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const blobId = this.#entries[i]!.snapshot;
      if (blobId !== undefined) return { sequenceId: this.#start + i, blobId };
    }
    return undefined;
  }

  #withSnapshot<V extends object>(value: V, snapshotId: SequenceId | undefined): V & { lastSnapshot?: SnapshotValue } {
    return withLastSnapshot(value, this.#snapshot, snapshotId);
  }
}
