/**
 * The log of one space in `idbStorage`. Store `entries`: key `[spaceId, seq]`, value
 * `{ b: encodeEntry(fact), s?, h?, p? }` plus `k` (the key again) only when the entry carries a
 * snapshot, so the `snapshots` index holds just those.
 *
 * Consistency: each call reads the log's bounds (first entry held, head) inside the transaction
 * that acts on them, so pipelined appends behave like the in-memory log and two tabs on one
 * database cannot interleave a log without one of them getting a conflict. One `addEntries` call
 * is one transaction: the group commit.
 */
import { err, ok, type Result, type ResultAsync } from 'neverthrow';
import { conflictError, outOfRange, storageError, type StorageError } from '../../errors.js';
import type {
  AddEntryError,
  AddEntryValue,
  EventLog,
  LogMetadata,
  MetadataError,
  QueryError,
  QueryValue,
  SequenceId,
  SnapshotValue,
  TruncateError,
} from '../../log/event-log.js';
import { decodeEntry, encodeEntry } from '../../log/entry-codec.js';
import type { FactEntry } from '../../log/fact-entry.js';
import { applyMetadata, resolveQueryRange, withLastSnapshot } from '../../log/log-rules.js';
import { checkStorable, corruptLog, metadataProblem } from '../storable.js';
import { allOf, requests, type EntryRecord, type IdbDatabase, type Tx } from './database.js';

type LogTx = Tx<['spaces', 'entries'], IDBTransactionMode>;

/** The log of one space: its entries in store `entries`, its bounds in `spaces`. */
export class IdbEventLog implements EventLog<FactEntry> {
  readonly #db: IdbDatabase;
  readonly #space: string;
  readonly #id: number;

  constructor(db: IdbDatabase, space: string, id: number) {
    this.#db = db;
    this.#space = space;
    this.#id = id;
  }

  addEntry(
    entry: FactEntry,
    sequenceId: SequenceId,
    snapshotId?: SequenceId,
  ): ResultAsync<AddEntryValue, AddEntryError> {
    return this.addEntries([entry], sequenceId, snapshotId);
  }

  addEntries(
    entries: readonly FactEntry[],
    sequenceId: SequenceId,
    snapshotId?: SequenceId,
  ): ResultAsync<AddEntryValue, AddEntryError> {
    const bad = checkStorable(entries);
    const records = bad === undefined ? entries.map((e, i) => this.#record(e, sequenceId + i)) : [];
    return this.#db.tx(
      ['spaces', 'entries'],
      'readwrite',
      `appending ${entries.length} entries to space ${JSON.stringify(this.#space)}`,
      async (tx): Promise<Result<AddEntryValue, AddEntryError>> => {
        const { head } = await this.#bounds(tx);
        if (sequenceId !== head) return err(conflictError(`sequence id ${sequenceId} is not the head ${head}`, head));
        if (bad !== undefined) return err(bad);
        const store = tx.objectStore('entries');
        await requests(records.length, (i) => store.put(records[i]!, [this.#id, sequenceId + i]));
        return ok(await this.#withSnapshot(tx, {}, snapshotId));
      },
    );
  }

  setMetadata(sequenceId: SequenceId, metadata: LogMetadata): ResultAsync<void, MetadataError> {
    const problem = metadataProblem(metadata);
    return this.#db.tx(
      ['spaces', 'entries'],
      'readwrite',
      `setting metadata of entry ${sequenceId}`,
      async (tx): Promise<Result<void, MetadataError>> => {
        const { start, head } = await this.#bounds(tx);
        if (!Number.isInteger(sequenceId) || sequenceId < start || sequenceId >= head) {
          return err(outOfRange(`no entry ${sequenceId} (log holds ${start}..${head})`));
        }
        if (problem !== undefined) return err(storageError(`cannot store metadata: ${problem}`));
        const store = tx.objectStore('entries');
        const key: [number, number] = [this.#id, sequenceId];
        const record = await store.get(key);
        if (record === undefined) return err(this.#corrupt(`entry ${sequenceId} is missing`));
        const meta = applyMetadata(
          { type: 'x', snapshot: record.s, history: record.h, pending: record.p as LogMetadata['pending'] },
          metadata,
        );
        await store.put(withMeta({ b: record.b }, meta, key), key);
        return ok(undefined);
      },
    );
  }

  query(
    start: SequenceId | 'snapshot' | 'start',
    end: SequenceId | 'end',
    snapshotId?: SequenceId,
  ): ResultAsync<QueryValue<FactEntry>, QueryError> {
    return this.#db.tx(
      ['spaces', 'entries'],
      'readonly',
      'reading entries',
      async (tx): Promise<Result<QueryValue<FactEntry>, QueryError>> => {
        const bounds = await this.#bounds(tx);
        const latest = start === 'snapshot' || snapshotId !== undefined ? await this.#latestSnapshot(tx) : undefined;
        const range = resolveQueryRange(start, end, bounds.start, bounds.head, () => latest?.sequenceId);
        if (range.isErr()) return err(range.error);
        const from = range.value.start;
        const to = Math.min(range.value.end, from + this.#db.pageSize);
        const records =
          to > from
            ? await tx.objectStore('entries').getAll(IDBKeyRange.bound([this.#id, from], [this.#id, to - 1]), to - from)
            : [];
        if (records.length !== to - from) return err(this.#corrupt(`entries ${from}..${to} are missing`));
        const entries: FactEntry[] = [];
        for (const [i, record] of records.entries()) {
          const decoded = decodeEntry(record.b);
          if (decoded.isErr()) return err(this.#corrupt(`entry ${from + i}: ${decoded.error.message}`));
          entries.push(
            applyMetadata(decoded.value, {
              snapshot: record.s,
              history: record.h,
              pending: record.p as LogMetadata['pending'],
            }),
          );
        }
        const value = { startSequenceId: from, endSequenceId: to, isComplete: to === range.value.end, entries };
        return ok(withLastSnapshot(value, latest, snapshotId));
      },
    );
  }

  truncate(start: SequenceId): ResultAsync<void, TruncateError> {
    return this.#db.tx(
      ['spaces', 'entries'],
      'readwrite',
      `truncating at ${start}`,
      async (tx): Promise<Result<void, TruncateError>> => {
        const bounds = await this.#bounds(tx);
        if (!Number.isInteger(start) || start > bounds.head)
          return err(outOfRange(`cannot truncate at ${start}: the head is ${bounds.head}`));
        if (start <= bounds.start) return ok(undefined);
        await tx
          .objectStore('entries')
          .delete(IDBKeyRange.bound([this.#id, bounds.start], [this.#id, start], false, true));
        await tx.objectStore('spaces').put({ id: this.#id, start }, this.#space);
        return ok(undefined);
      },
    );
  }

  #record(entry: FactEntry, seq: number): EntryRecord {
    return withMeta({ b: encodeEntry(entry) }, entry, [this.#id, seq]);
  }

  /** First entry held and head, read inside `tx`. */
  async #bounds(tx: LogTx): Promise<{ start: number; head: number }> {
    const record = await tx.objectStore('spaces').get(this.#space);
    const start = record?.start ?? 0;
    const last = await tx.objectStore('entries').openKeyCursor(allOf(this.#id), 'prev');
    return { start, head: last === null ? start : last.primaryKey[1] + 1 };
  }

  async #latestSnapshot(tx: LogTx): Promise<SnapshotValue | undefined> {
    const cursor = await tx.objectStore('entries').index('snapshots').openCursor(allOf(this.#id), 'prev');
    if (cursor === null || cursor.value.s === undefined) return undefined;
    return { sequenceId: cursor.primaryKey[1], blobId: cursor.value.s };
  }

  async #withSnapshot<V extends object>(
    tx: LogTx,
    value: V,
    snapshotId: SequenceId | undefined,
  ): Promise<V & { lastSnapshot?: SnapshotValue }> {
    if (snapshotId === undefined) return value;
    return withLastSnapshot(value, await this.#latestSnapshot(tx), snapshotId);
  }

  #corrupt(message: string): StorageError {
    return corruptLog(this.#db.name, this.#space, message);
  }
}

/** `record` with the metadata of `meta`; `k` only when there is a snapshot (for the index). */
function withMeta(record: EntryRecord, meta: LogMetadata, key: [number, number]): EntryRecord {
  if (meta.snapshot !== undefined) {
    record.s = meta.snapshot;
    record.k = key;
  }
  if (meta.history !== undefined) record.h = meta.history;
  if (meta.pending !== undefined) record.p = meta.pending;
  return record;
}
