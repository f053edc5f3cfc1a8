/**
 * The log of one space in `sqliteStorage`: tables `batch_<id>` and `entry_meta_<id>`.
 *
 * Layout (≈ 80 bytes per fact on disk, hash included, for a typical update in big batches):
 * - `batch_<id>(first INTEGER PRIMARY KEY, count, entries)`: one row per `addEntries` call (the
 *   engine's group commit) holding entries `[first, first + count)` encoded back to back
 *   (./batch-codec.ts). `first` is the rowid, so the row holding a sequence id is one b-tree
 *   descent (`first <= seq ORDER BY first DESC LIMIT 1`). One row per batch instead of one per
 *   entry is what makes append, replay and catch-up fast: SQLite steps, the driver allocates and
 *   the b-tree grows once per batch, not once per fact. A batch above `ROW_MAX_ENTRIES` or
 *   `ROW_TARGET_BYTES` is split into several rows of the same transaction.
 * - `entry_meta_<id>(seq INTEGER PRIMARY KEY, snapshot, history, pending)`: the metadata of the few
 *   entries that have some (it changes, the entries do not); a partial index finds the latest
 *   snapshot without scanning. A row whose fields are all cleared is deleted.
 * - The rows cover `[start, head)` exactly, with no gap: `start` is in `spaces`, the head is the end
 *   of the last row. `truncate` cutting inside a row replaces it, in the same transaction, by a
 *   row holding only its kept tail (the first kept record written again with its prev), so a
 *   crash leaves either the old log or the truncated one.
 *
 * One `addEntries` call is one transaction, one fsync: the engine's group commit.
 *
 * Replay reads pages of at most `pageSize` entries: each page fetches only the rows it overlaps, and
 * the row a page ends inside is kept (one row, `#cursor`) for the next page, so a sequential replay
 * fetches and walks every row once and memory stays bounded by a page plus one row.
 */
import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from 'neverthrow';
import { conflictError, outOfRange, storageError, type StorageError } from '../../errors.js';
import { StringTable, Writer } from '../../facts/bytes.js';
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
import type { FactEntry } from '../../log/fact-entry.js';
import { resolveQueryRange, withLastSnapshot } from '../../log/log-rules.js';
import { checkStorable, corruptLog, metadataProblem } from '../storable.js';
import { RowCursor, writeRecord } from './batch-codec.js';
import { settle, view, type Connection, type ConnectionSource } from './database.js';
import { ROW_MAX_ENTRIES, ROW_TARGET_BYTES } from './log-tables.js';

/** Where rows are encoded. Not state: every use starts with `reset()` and ends before any return. */
const rowWriter = new Writer(64 * 1024);
const recordWriter = new Writer(1024);

type Row = [first: number, count: number, entries: Uint8Array];
type MetaRow = [seq: number, snapshot: string | null, history: string | null, pending: string | null];

/** The log of one space: tables `batch_<id>` and `entry_meta_<id>`. */
export class SqliteEventLog implements EventLog<FactEntry> {
  readonly #storage: ConnectionSource;
  readonly #space: string;
  readonly #spaceId: number;
  readonly #batches: string;
  readonly #meta: string;
  #start: SequenceId;
  #head: SequenceId;
  /** The row the last page ended inside, positioned at that page's end (see the file comment). */
  #cursor: RowCursor | undefined;
  /** Names met while decoding rows, shared by every cursor of this log (see `StringTable`). */
  readonly #strings = new StringTable();

  constructor(storage: ConnectionSource, conn: Connection, space: string, spaceId: number, start: number) {
    this.#storage = storage;
    this.#space = space;
    this.#spaceId = spaceId;
    this.#batches = `batch_${spaceId}`;
    this.#meta = `entry_meta_${spaceId}`;
    this.#start = start;
    const end = conn.stmt(`SELECT first + count FROM ${this.#batches} ORDER BY first DESC LIMIT 1`).pluck().get() as
      number | undefined;
    this.#head = end ?? start;
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
    const conn = this.#storage.connection();
    if (conn.isErr()) return errAsync(conn.error);
    const c = conn.value;
    if (sequenceId !== this.#head) {
      return errAsync(conflictError(`sequence id ${sequenceId} is not the head ${this.#head}`, this.#head));
    }
    const bad = checkStorable(entries);
    if (bad !== undefined) return errAsync(bad);
    if (entries.length === 0) return settle(this.#withSnapshot(c, {}, snapshotId));

    const insertRow = c.stmt(`INSERT INTO ${this.#batches} (first, count, entries) VALUES (?, ?, ?)`);
    const insertMeta = c.stmt(`INSERT INTO ${this.#meta} (seq, snapshot, history, pending) VALUES (?, ?, ?, ?)`);
    const insertOrigin = c.stmt('INSERT INTO origins (origin) VALUES (?)');
    const newOrigins = new Map<string, number>();
    const originId = (origin: string): number => {
      let id = c.originIds.get(origin) ?? newOrigins.get(origin);
      if (id === undefined) {
        id = Number(insertOrigin.run(origin).lastInsertRowid);
        newOrigins.set(origin, id);
      }
      return id;
    };
    const written = c.guard(`appending ${entries.length} entries to space ${JSON.stringify(this.#space)}`, () =>
      c.db.transaction(() => {
        const w = rowWriter.reset();
        let first = sequenceId;
        let predecessor: Uint8Array | undefined;
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i]!;
          writeRecord(w, recordWriter, entry, originId(entry.origin), predecessor);
          predecessor = entry.hash;
          const seq = sequenceId + i;
          if (entry.snapshot !== undefined || entry.history !== undefined || entry.pending !== undefined) {
            insertMeta.run(seq, entry.snapshot ?? null, entry.history ?? null, entry.pending ?? null);
          }
          const count = seq + 1 - first;
          if (i === entries.length - 1 || count >= ROW_MAX_ENTRIES || w.length >= ROW_TARGET_BYTES) {
            insertRow.run(first, count, w.view());
            w.reset();
            first = seq + 1;
            predecessor = undefined;
          }
        }
      })(),
    );
    if (written.isErr()) return errAsync(written.error);
    // Committed: only now does the in-memory view move.
    for (const [origin, id] of newOrigins) {
      c.originIds.set(origin, id);
      c.origins[id] = origin;
    }
    this.#head += entries.length;
    return settle(this.#withSnapshot(c, {}, snapshotId));
  }

  setMetadata(sequenceId: SequenceId, metadata: LogMetadata): ResultAsync<void, MetadataError> {
    const conn = this.#storage.connection();
    if (conn.isErr()) return errAsync(conn.error);
    if (!Number.isInteger(sequenceId) || sequenceId < this.#start || sequenceId >= this.#head) {
      return errAsync(outOfRange(`no entry ${sequenceId} (log holds ${this.#start}..${this.#head})`));
    }
    const problem = metadataProblem(metadata);
    if (problem !== undefined) return errAsync(storageError(`cannot store metadata: ${problem}`));
    const c = conn.value;
    const upsert = c.stmt(
      `INSERT INTO ${this.#meta} (seq, snapshot, history, pending) VALUES (@seq, @snapshot, @history, @pending)
        ON CONFLICT (seq) DO UPDATE SET snapshot = CASE WHEN @s THEN @snapshot ELSE snapshot END,
        history = CASE WHEN @h THEN @history ELSE history END,
        pending = CASE WHEN @p THEN @pending ELSE pending END`,
    );
    const dropEmpty = c.stmt(
      `DELETE FROM ${this.#meta} WHERE seq = ? AND snapshot IS NULL AND history IS NULL AND pending IS NULL`,
    );
    return settle(
      c.guard(`setting metadata of entry ${sequenceId}`, () =>
        c.db.transaction(() => {
          upsert.run({
            s: 'snapshot' in metadata ? 1 : 0,
            snapshot: metadata.snapshot ?? null,
            h: 'history' in metadata ? 1 : 0,
            history: metadata.history ?? null,
            p: 'pending' in metadata ? 1 : 0,
            pending: metadata.pending ?? null,
            seq: sequenceId,
          });
          dropEmpty.run(sequenceId);
        })(),
      ),
    );
  }

  query(
    start: SequenceId | 'snapshot' | 'start',
    end: SequenceId | 'end',
    snapshotId?: SequenceId,
  ): ResultAsync<QueryValue<FactEntry>, QueryError> {
    const conn = this.#storage.connection();
    if (conn.isErr()) return errAsync(conn.error);
    const c = conn.value;
    let latest: Result<SnapshotValue | undefined, StorageError> | undefined;
    const latestSnapshot = () => (latest ??= this.#latestSnapshot(c));
    const range = resolveQueryRange(
      start,
      end,
      this.#start,
      this.#head,
      () => latestSnapshot().unwrapOr(undefined)?.sequenceId,
    );
    if (range.isErr()) return errAsync(range.error);
    if (latest?.isErr() === true) return errAsync(latest.error);
    const from = range.value.start;
    const to = Math.min(range.value.end, from + c.pageSize);
    const entries = this.#read(c, from, to);
    if (entries.isErr()) return errAsync(entries.error);
    const value = {
      startSequenceId: from,
      endSequenceId: to,
      isComplete: to === range.value.end,
      entries: entries.value,
    };
    return settle(this.#withSnapshot(c, value, snapshotId));
  }

  truncate(start: SequenceId): ResultAsync<void, TruncateError> {
    const conn = this.#storage.connection();
    if (conn.isErr()) return errAsync(conn.error);
    if (!Number.isInteger(start) || start > this.#head) {
      return errAsync(outOfRange(`cannot truncate at ${start}: the head is ${this.#head}`));
    }
    if (start <= this.#start) return okAsync(undefined);
    const c = conn.value;
    // Rows change below: a kept cursor could point into a row that is gone.
    this.#cursor = undefined;
    const done = c.guard(`truncating space ${JSON.stringify(this.#space)} at ${start}`, () =>
      c.db.transaction((): Result<void, string> => {
        const holding = c
          .stmt(`SELECT first, count, entries FROM ${this.#batches} WHERE first < ? ORDER BY first DESC LIMIT 1`)
          .raw(true)
          .get(start) as Row | undefined;
        if (holding !== undefined && holding[0] + holding[1] > start) {
          // The cut falls inside this row: write its tail as a row of its own, starting at `start`.
          const cursor = new RowCursor(holding[0], holding[1], view(holding[2]), c.origins, this.#strings);
          const kept = cursor.skipTo(start).andThen(() => cursor.read());
          if (kept.isErr()) return err(kept.error);
          const originId = c.originIds.get(kept.value.origin);
          if (originId === undefined) return err(`entry ${start} names an origin that is not stored`);
          const w = rowWriter.reset();
          writeRecord(w, recordWriter, kept.value, originId, undefined);
          w.raw(cursor.rest);
          c.stmt(`INSERT INTO ${this.#batches} (first, count, entries) VALUES (?, ?, ?)`).run(
            start,
            holding[0] + holding[1] - start,
            w.view(),
          );
        }
        c.stmt(`DELETE FROM ${this.#batches} WHERE first < ?`).run(start);
        c.stmt(`DELETE FROM ${this.#meta} WHERE seq < ?`).run(start);
        c.stmt('UPDATE spaces SET start = ? WHERE id = ?').run(start, this.#spaceId);
        return ok(undefined);
      })(),
    );
    const result = done.andThen((r) => r.mapErr((m) => this.#corrupt(c, m)));
    if (result.isOk()) this.#start = start;
    return settle(result);
  }

  /** Entries [from, to), decoded from the rows that hold them, with their metadata. */
  #read(c: Connection, from: SequenceId, to: SequenceId): Result<FactEntry[], StorageError> {
    if (to <= from) return ok([]);
    const out: FactEntry[] = [];
    let cursor = this.#cursor;
    this.#cursor = undefined;
    // The kept row serves when this page starts where the last one ended (a sequential replay).
    if (cursor !== undefined && cursor.next !== from) cursor = undefined;
    let next = from;
    if (cursor !== undefined) {
      const read = this.#drain(c, cursor, to, out);
      if (read.isErr()) return err(read.error);
      next = cursor.first + cursor.count;
      if (!cursor.done) this.#cursor = cursor;
      if (next >= to) return this.#withMeta(c, from, to, out);
    }
    // The row holding `next` starts at or before it; rows after it up to `to` follow.
    const rows = c.guard(
      'reading entries',
      () =>
        c
          .stmt(
            `SELECT first, count, entries FROM ${this.#batches} WHERE first < @to AND first >=
            (SELECT first FROM ${this.#batches} WHERE first <= @next ORDER BY first DESC LIMIT 1) ORDER BY first`,
          )
          .raw(true)
          .all({ next, to }) as Row[],
    );
    if (rows.isErr()) return err(rows.error);
    for (const [first, count, blob] of rows.value) {
      if (first > next || first + count <= next) {
        return err(this.#corrupt(c, `entries ${next}..${Math.min(first, to)} are missing`));
      }
      const cursor = new RowCursor(first, count, view(blob), c.origins, this.#strings);
      const skipped = cursor.skipTo(next);
      if (skipped.isErr()) return err(this.#corrupt(c, skipped.error));
      const read = this.#drain(c, cursor, to, out);
      if (read.isErr()) return err(read.error);
      next = first + count;
      if (!cursor.done) this.#cursor = cursor;
    }
    if (out.length !== to - from) return err(this.#corrupt(c, `entries ${from + out.length}..${to} are missing`));
    return this.#withMeta(c, from, to, out);
  }

  /** Decode records from `cursor` into `out` until `to` or the end of its row. */
  #drain(c: Connection, cursor: RowCursor, to: SequenceId, out: FactEntry[]): Result<void, StorageError> {
    return cursor.readInto(to, out).mapErr((m) => this.#corrupt(c, m));
  }

  /** `entries` (the entries `[from, to)`) with the metadata stored for them. */
  #withMeta(c: Connection, from: SequenceId, to: SequenceId, entries: FactEntry[]): Result<FactEntry[], StorageError> {
    const rows = c.guard(
      'reading entry metadata',
      () =>
        c
          .stmt(`SELECT seq, snapshot, history, pending FROM ${this.#meta} WHERE seq >= ? AND seq < ?`)
          .raw(true)
          .all(from, to) as MetaRow[],
    );
    if (rows.isErr()) return err(rows.error);
    for (const [seq, snapshot, history, pending] of rows.value) {
      const entry = entries[seq - from] as { -readonly [K in keyof FactEntry]: FactEntry[K] } | undefined;
      if (entry === undefined) continue;
      if (snapshot !== null) entry.snapshot = snapshot;
      if (history !== null) entry.history = history;
      if (pending !== null) entry.pending = pending as FactEntry['pending'];
    }
    return ok(entries);
  }

  #corrupt(c: Connection, message: string): StorageError {
    return corruptLog(`sqlite ${c.file}`, this.#space, message);
  }

  #latestSnapshot(c: Connection): Result<SnapshotValue | undefined, StorageError> {
    return c.guard('finding the latest snapshot', () => {
      const row = c
        .stmt(`SELECT seq, snapshot FROM ${this.#meta} WHERE snapshot IS NOT NULL ORDER BY seq DESC LIMIT 1`)
        .raw(true)
        .get() as [number, string] | undefined;
      return row === undefined ? undefined : { sequenceId: row[0], blobId: row[1] };
    });
  }

  #withSnapshot<V extends object>(
    c: Connection,
    value: V,
    snapshotId: SequenceId | undefined,
  ): Result<V & { lastSnapshot?: SnapshotValue }, StorageError> {
    if (snapshotId === undefined) return ok(value);
    return this.#latestSnapshot(c).map((latest) => withLastSnapshot(value, latest, snapshotId));
  }
}
