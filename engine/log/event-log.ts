/**
 * EventLog: an ordered, append-only log of entries with local sequence ids 0, 1, 2… (the order this
 * peer learned them), after InfiniSheet's event log (seeds 000/001). Entry data is immutable; the
 * metadata fields (`snapshot`, `history`, `pending`) may be set later and drive the snapshot and
 * history workflows. Every backend (memory, SQLite, IndexedDB) passes `runEventLogTests`.
 *
 * Entries are immutable values on both sides of the interface: a caller never mutates an entry it
 * passed to `addEntries` or got from `query`, and a log never mutates one it holds (`setMetadata`
 * replaces it). So a log may keep the objects it is given and hand the same objects out again — the
 * memory log does, which spares every write a copy.
 */
import type { ResultAsync } from 'neverthrow';
import type { ConflictError, OutOfRangeError, StorageError } from '../errors.js';

/** Local position of an entry: 0, 1, 2… Never reused, even after truncation. */
export type SequenceId = number;

/** Id of a blob in the blob store (snapshots, history). */
export type BlobId = string;

/** Name of a workflow triggered by writing it into an entry's `pending` field. */
export type WorkflowId = 'snapshot' | 'history';

/** Metadata of a log entry. In `setMetadata`, a key that is present (even `undefined`) is written. */
export interface LogMetadata {
  /** Root blob of a snapshot of everything *preceding* this entry. */
  snapshot?: BlobId | undefined;
  /** First blob of the history chain up to the previous entry. */
  history?: BlobId | undefined;
  /** A workflow to run for this entry; cleared when the workflow completes. */
  pending?: WorkflowId | undefined;
}

/** What every entry has: a discriminating `type` plus metadata. */
export interface LogEntry extends LogMetadata {
  readonly type: string;
}

/** The latest snapshot of a log: its entry's sequence id and root blob. */
export interface SnapshotValue {
  readonly sequenceId: SequenceId;
  readonly blobId: BlobId;
}

/** Entries returned by `query`. */
export interface QueryValue<T extends LogEntry> {
  /** Sequence id of `entries[0]`; the rest follow consecutively. */
  readonly startSequenceId: SequenceId;
  /** Sequence id after the last returned entry. */
  readonly endSequenceId: SequenceId;
  /** False when the log returned fewer entries than asked: query again from `endSequenceId`. */
  readonly isComplete: boolean;
  readonly entries: T[];
  /** The latest snapshot, when the caller passed a `snapshotId` and a newer snapshot exists. */
  readonly lastSnapshot?: SnapshotValue | undefined;
}

/** Result of `addEntry`/`addEntries`. */
export interface AddEntryValue {
  /** The latest snapshot, when the caller passed a `snapshotId` and a newer snapshot exists. */
  readonly lastSnapshot?: SnapshotValue | undefined;
}

export type AddEntryError = ConflictError | StorageError;
export type QueryError = OutOfRangeError | StorageError;
export type MetadataError = OutOfRangeError | StorageError;
export type TruncateError = OutOfRangeError | StorageError;

export interface EventLog<T extends LogEntry> {
  /**
   * Append `entry` at `sequenceId`, which must be the head (the next free id), else a
   * `conflict` error carrying the head. Resolves once the entry is durable.
   *
   * @param snapshotId - the sequence id of the snapshot the caller uses (-1 for none); when a newer
   *   snapshot exists it is returned as `lastSnapshot`.
   */
  addEntry(entry: T, sequenceId: SequenceId, snapshotId?: SequenceId): ResultAsync<AddEntryValue, AddEntryError>;

  /** Append `entries` atomically (all or none) starting at the head `sequenceId`: group commit. */
  addEntries(
    entries: readonly T[],
    sequenceId: SequenceId,
    snapshotId?: SequenceId,
  ): ResultAsync<AddEntryValue, AddEntryError>;

  /** Set some of an entry's metadata fields, atomically. Keys absent from `metadata` are untouched. */
  setMetadata(sequenceId: SequenceId, metadata: LogMetadata): ResultAsync<void, MetadataError>;

  /**
   * Entries from `start` (inclusive) to `end` (exclusive). May return fewer than asked (then
   * `isComplete` is false).
   *
   * @param start - a sequence id, `'start'` (the first entry held) or `'snapshot'` (the latest entry
   *   carrying a snapshot, or the first entry held when there is none).
   * @param end - a sequence id or `'end'` (the head).
   * @param snapshotId - as in `addEntry`.
   */
  query(
    start: SequenceId | 'snapshot' | 'start',
    end: SequenceId | 'end',
    snapshotId?: SequenceId,
  ): ResultAsync<QueryValue<T>, QueryError>;

  /** Remove every entry before `start`. Sequence ids are not reused. */
  truncate(start: SequenceId): ResultAsync<void, TruncateError>;
}
