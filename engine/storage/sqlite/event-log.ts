/**
 * The log of one space in `sqliteStorage`: table `log_<id>`.
 *
 * Layout (≈ 90 bytes per fact on disk, hash included, for a typical update):
 * - `log_<id>(seq INTEGER PRIMARY KEY, origin, counter, fact, sig, snapshot, history, pending)`:
 *   `seq` is the rowid (stored in the b-tree key, appends fill pages completely), `origin` an
 *   integer into `origins`, `fact` the 32-byte hash followed by the rest of the fact
 *   (`writeEntryBody`), `sig` 64 bytes on the last fact of a run and NULL otherwise. Hash and body
 *   share one column because every BLOB read costs the driver an allocation: replay is bound by
 *   them. A partial index finds the latest snapshot without scanning.
 * - prev elision: a fact whose `prev` is the hash of the row just before it (the usual case: runs
 *   of one origin are appended together) is stored without it, its body says "no prev" although
 *   its counter is above 1; reading puts the previous row's hash back. `truncate` writes the prev
 *   back into the row that becomes the first, so every held row can always be decoded.
 *
 * One `addEntries` call is one transaction, one fsync: the engine's group commit.
 */
import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from 'neverthrow';
import { conflictError, outOfRange, storageError, type StorageError } from '../../errors.js';
import { equalBytes, Writer } from '../../facts/bytes.js';
import { HASH_BYTES } from '../../facts/codec.js';
import type { PeerId } from '../../facts/types.js';
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
import { bodyHasPrev, decodeEntryBody, writeEntryBody } from '../../log/entry-codec.js';
import type { FactEntry } from '../../log/fact-entry.js';
import { resolveQueryRange, withLastSnapshot } from '../../log/log-rules.js';
import { checkStorable, corruptLog, metadataProblem } from '../storable.js';
import { settle, view, type Connection, type ConnectionSource } from './database.js';

const factWriter = new Writer(1024);

/** The `fact` column: hash, then the body (`writeEntryBody`) of `entry`. */
function encodeFactColumn(entry: FactEntry): Uint8Array {
  const w = factWriter.reset();
  w.raw(entry.hash);
  writeEntryBody(w, entry);
  return w.finish();
}

/** Create the log table of space row `id` (and its snapshot index) unless it exists. */
export function createLogTable(c: Connection, id: number): void {
  const table = `log_${id}`;
  c.db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
    seq INTEGER PRIMARY KEY, origin INTEGER NOT NULL, counter INTEGER NOT NULL, fact BLOB NOT NULL,
    sig BLOB, snapshot TEXT, history TEXT, pending TEXT);
    CREATE INDEX IF NOT EXISTS ${table}_snapshots ON ${table} (seq) WHERE snapshot IS NOT NULL;`);
}

/** The log of one space: table `log_<id>`. */
export class SqliteEventLog implements EventLog<FactEntry> {
  readonly #storage: ConnectionSource;
  readonly #space: string;
  readonly #table: string;
  readonly #spaceId: number;
  #start: SequenceId;
  #head: SequenceId;
  /** Hash of the row at `head - 1` while that row is held (the predecessor for prev elision). */
  #lastHash: Uint8Array | undefined;

  constructor(storage: ConnectionSource, conn: Connection, space: string, spaceId: number, start: number) {
    this.#storage = storage;
    this.#space = space;
    this.#spaceId = spaceId;
    this.#table = `log_${spaceId}`;
    this.#start = start;
    const last = conn
      .stmt(`SELECT seq, substr(fact, 1, ${HASH_BYTES}) FROM ${this.#table} ORDER BY seq DESC LIMIT 1`)
      .raw(true)
      .get() as [number, Uint8Array] | undefined;
    this.#head = last === undefined ? start : last[0] + 1;
    this.#lastHash = last === undefined ? undefined : view(last[1]);
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

    const insert = c.stmt(`INSERT INTO ${this.#table} VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    const insertOrigin = c.stmt('INSERT INTO origins (origin) VALUES (?)');
    const newOrigins: [string, number][] = [];
    const written = c.guard(`appending ${entries.length} entries to space ${JSON.stringify(this.#space)}`, () =>
      c.db.transaction(() => {
        let predecessor = this.#lastHash;
        let seq = sequenceId;
        for (const entry of entries) {
          let originId = c.originIds.get(entry.origin) ?? newOrigins.find(([o]) => o === entry.origin)?.[1];
          if (originId === undefined) {
            originId = Number(insertOrigin.run(entry.origin).lastInsertRowid);
            newOrigins.push([entry.origin, originId]);
          }
          const elide = entry.prev !== null && predecessor !== undefined && equalBytes(entry.prev, predecessor);
          const fact = encodeFactColumn(elide ? { ...entry, prev: null } : entry);
          insert.run(
            seq,
            originId,
            entry.counter,
            fact,
            entry.sig ?? null,
            entry.snapshot ?? null,
            entry.history ?? null,
            entry.pending ?? null,
          );
          predecessor = entry.hash;
          seq++;
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
    this.#lastHash = entries[entries.length - 1]!.hash;
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
    const update = c.stmt(
      `UPDATE ${this.#table} SET snapshot = CASE WHEN @s THEN @snapshot ELSE snapshot END,
        history = CASE WHEN @h THEN @history ELSE history END,
        pending = CASE WHEN @p THEN @pending ELSE pending END WHERE seq = @seq`,
    );
    return settle(
      c.guard(`setting metadata of entry ${sequenceId}`, () => {
        update.run({
          s: 'snapshot' in metadata ? 1 : 0,
          snapshot: metadata.snapshot ?? null,
          h: 'history' in metadata ? 1 : 0,
          history: metadata.history ?? null,
          p: 'pending' in metadata ? 1 : 0,
          pending: metadata.pending ?? null,
          seq: sequenceId,
        });
      }),
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
    const done = c.guard(`truncating space ${JSON.stringify(this.#space)} at ${start}`, () =>
      c.db.transaction(() => {
        // The row that becomes the first loses its predecessor: give it back its prev.
        const first = c.stmt(`SELECT origin, counter, fact FROM ${this.#table} WHERE seq = ?`).raw(true).get(start) as
          [number, number, Uint8Array] | undefined;
        if (first !== undefined && first[1] > 1 && !bodyHasPrev(first[2].subarray(HASH_BYTES))) {
          const prev = c
            .stmt(`SELECT substr(fact, 1, ${HASH_BYTES}) FROM ${this.#table} WHERE seq = ?`)
            .pluck()
            .get(start - 1) as Uint8Array | undefined;
          if (prev === undefined) return err(`entry ${start} has no stored prev and no predecessor`);
          const stored = view(first[2]);
          const decoded = decodeEntryBody(
            stored.subarray(HASH_BYTES),
            c.origins[first[0]] as PeerId,
            first[1],
            stored.subarray(0, HASH_BYTES),
            undefined,
          );
          if (decoded.isErr()) return err(`entry ${start}: ${decoded.error.message}`);
          const fact = encodeFactColumn({ ...decoded.value, prev: view(prev) });
          c.stmt(`UPDATE ${this.#table} SET fact = ? WHERE seq = ?`).run(fact, start);
        }
        c.stmt(`DELETE FROM ${this.#table} WHERE seq < ?`).run(start);
        c.stmt('UPDATE spaces SET start = ? WHERE id = ?').run(start, this.#spaceId);
        return ok(undefined);
      })(),
    );
    const result = done.andThen((r) =>
      r.mapErr((m) => storageError(`sqlite ${c.file}: corrupt log: ${m}`, undefined, 'corrupt')),
    );
    if (result.isOk()) {
      this.#start = start;
      if (start === this.#head) this.#lastHash = undefined;
    }
    return settle(result);
  }

  /** Rows [from, to) decoded; the row before `from` (when held) supplies an elided prev. */
  #read(c: Connection, from: SequenceId, to: SequenceId): Result<FactEntry[], StorageError> {
    if (to <= from) return ok([]);
    const lower = from > this.#start ? from - 1 : from;
    const rows = c.guard('reading entries', () =>
      c
        .stmt(
          `SELECT seq, origin, counter, fact, sig, snapshot, history, pending FROM ${this.#table} WHERE seq >= ? AND seq < ? ORDER BY seq`,
        )
        .raw(true)
        .all(lower, to),
    );
    if (rows.isErr()) return err(rows.error);
    const out: FactEntry[] = [];
    let predecessor: Uint8Array | undefined;
    let expected = lower;
    for (const row of rows.value as [
      number,
      number,
      number,
      Uint8Array,
      Uint8Array | null,
      string | null,
      string | null,
      string | null,
    ][]) {
      const [seq, originId, counter, stored, sig, snapshot, history, pending] = row;
      // Two plain views on the driver's buffer (allocation is what replay pays for).
      const hash = new Uint8Array(stored.buffer, stored.byteOffset, HASH_BYTES);
      if (seq !== expected) return err(this.#corrupt(c, `entry ${expected} is missing`));
      expected++;
      if (seq < from) {
        predecessor = hash;
        continue;
      }
      const origin = c.origins[originId];
      if (origin === undefined) return err(this.#corrupt(c, `entry ${seq} names unknown origin ${originId}`));
      const body = new Uint8Array(stored.buffer, stored.byteOffset + HASH_BYTES, stored.byteLength - HASH_BYTES);
      const decoded = decodeEntryBody(body, origin as PeerId, counter, hash, sig === null ? undefined : view(sig));
      if (decoded.isErr()) return err(this.#corrupt(c, `entry ${seq}: ${decoded.error.message}`));
      const entry = decoded.value as { -readonly [K in keyof FactEntry]: FactEntry[K] };
      if (entry.prev === null && counter > 1) {
        if (predecessor === undefined)
          return err(this.#corrupt(c, `entry ${seq} has no stored prev and no predecessor`));
        entry.prev = predecessor;
      }
      if (snapshot !== null) entry.snapshot = snapshot;
      if (history !== null) entry.history = history;
      if (pending !== null) entry.pending = pending as FactEntry['pending'];
      out.push(entry as FactEntry);
      predecessor = hash;
    }
    if (expected !== to) return err(this.#corrupt(c, `entries ${expected}..${to} are missing`));
    return ok(out);
  }

  #corrupt(c: Connection, message: string): StorageError {
    return corruptLog(`sqlite ${c.file}`, this.#space, message);
  }

  #latestSnapshot(c: Connection): Result<SnapshotValue | undefined, StorageError> {
    return c.guard('finding the latest snapshot', () => {
      const row = c
        .stmt(`SELECT seq, snapshot FROM ${this.#table} WHERE snapshot IS NOT NULL ORDER BY seq DESC LIMIT 1`)
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
