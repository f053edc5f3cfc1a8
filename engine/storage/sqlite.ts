/**
 * `sqliteStorage(path)`: a peer's whole device state in one SQLite file (better-sqlite3 12.x), the
 * embedded default for Node peers. Every space's log, the blobs and the peer metadata live in the
 * same file, so one transaction can never leave them out of step.
 *
 * Durability: WAL journal with `synchronous=FULL`, so a write that resolved survives a crash and a
 * power loss. One `addEntries` call is one transaction, one fsync: the engine's group commit.
 *
 * Layout (≈ 90 bytes per fact on disk, hash included, for a typical update):
 * - `spaces(id, name, start)`: one row per space; `start` is the first sequence id held.
 * - `log_<id>(seq INTEGER PRIMARY KEY, origin, counter, fact, sig, snapshot, history, pending)`
 *   per space: `seq` is the rowid (stored in the b-tree key, appends fill pages completely),
 *   `origin` an integer into `origins`, `fact` the 32-byte hash followed by the rest of the fact
 *   (`writeEntryBody`), `sig` 64 bytes on the last fact of a run and NULL otherwise. Hash and body
 *   share one column because every BLOB read costs the driver an allocation: replay is bound by
 *   them. A partial index finds the latest snapshot without scanning.
 * - prev elision: a fact whose `prev` is the hash of the row just before it (the usual case: runs
 *   of one origin are appended together) is stored without it, its body says "no prev" although
 *   its counter is above 1; reading puts the previous row's hash back. `truncate` writes the prev
 *   back into the row that becomes the first, so every held row can always be decoded.
 * - `origins(id, origin)`, `meta(key, value)`, `blobs(parent, name, is_dir, content)`.
 *
 * The file is opened lazily on the first call, in exclusive locking mode: a second process (or a
 * second `sqliteStorage` on the same file) gets a "locked" storage error instead of two writers
 * interleaving one log. A file that is not a Shoal database, or is damaged, gives a storage error
 * at that first call, never a throw.
 *
 * better-sqlite3 is loaded with `createRequire` through `process.getBuiltinModule`, never imported
 * statically, so a browser bundle of the package root does not pull in a native module.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { err, errAsync, ok, okAsync, Result, type ResultAsync } from 'neverthrow';
import {
  checkBlobName,
  listingPage,
  removedDir,
  wrongKind,
  type BlobDir,
  type BlobDirEntries,
  type BlobName,
  type BlobStore,
  type DirQueryError,
  type GetDirError,
  type ReadBlobError,
  type RemoveBlobError,
  type WriteBlobError,
} from '../blobs/blob-store.js';
import {
  conflictError,
  describe,
  notFound,
  outOfRange,
  storageError,
  type StorageError,
  type StorageFailure,
} from '../errors.js';
import { equalBytes, Writer } from '../facts/bytes.js';
import { HASH_BYTES } from '../facts/codec.js';
import type { PeerId } from '../facts/types.js';
import { BLOB_PAGE_NAMES, LOG_PAGE_ENTRIES, SQLITE_BUSY_TIMEOUT_MS } from '../limits.js';
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
} from '../log/event-log.js';
import { bodyHasPrev, decodeEntryBody, writeEntryBody } from '../log/entry-codec.js';
import type { FactEntry } from '../log/fact-entry.js';
import { newerSnapshot, resolveQueryRange } from '../log/log-rules.js';
import { errorCode, nodeBuiltin } from './node.js';
import { checkStorable, closedStorage, metadataProblem } from './storable.js';
import type { Storage } from './storage.js';

/** The default `busyTimeoutMs`, re-exported beside the backend it configures. */
export { SQLITE_BUSY_TIMEOUT_MS };

/** `PRAGMA application_id` of a Shoal file ("SHOL"), so a foreign SQLite file is refused. */
const APPLICATION_ID = 0x53484f4c;

/** `PRAGMA user_version` of the current layout. */
const SCHEMA_VERSION = 1;

/** Options of `sqliteStorage`; the defaults are what a peer should use. */
export interface SqliteStorageInit {
  /** Most entries one log `query` returns. @default LOG_PAGE_ENTRIES */
  pageSize?: number;
  /** Wait for another connection's lock this long before failing. @default SQLITE_BUSY_TIMEOUT_MS */
  busyTimeoutMs?: number;
  /**
   * Cap on the file size in bytes (rounded down to whole pages); writes past it fail as "full",
   * like a full disk. @default no cap
   */
  maxSizeBytes?: number;
  /**
   * `'full'` fsyncs the WAL on every commit (a resolved write survives power loss); `'normal'` only
   * at checkpoints (survives a process crash, may lose the last commits on power loss).
   * @default 'full'
   */
  synchronous?: 'full' | 'normal';
}

type Db = BetterSqlite3.Database;
type Driver = typeof BetterSqlite3;

/** SQLite result-code prefixes, what each means for a caller and for a human. First match wins. */
const SQLITE_FAILURES: readonly (readonly [prefixes: readonly string[], reason: StorageFailure, what: string])[] = [
  [['SQLITE_FULL'], 'disk-full', 'the disk is full (or the database reached its size limit)'],
  [['SQLITE_BUSY', 'SQLITE_LOCKED'], 'locked', 'the database is locked by another connection or process'],
  [['SQLITE_CORRUPT', 'SQLITE_NOTADB'], 'corrupt', 'the database file is corrupt or not a database'],
  [['SQLITE_CANTOPEN'], 'other', 'the database file cannot be opened'],
  [['SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_AUTH'], 'permission', 'the database is read-only or not permitted'],
  [['SQLITE_IOERR'], 'io', 'an I/O error occurred'],
];

/** A readable storage error from what better-sqlite3 threw, by SQLite result code. */
export function sqliteError(file: string, doing: string, e: unknown): StorageError {
  const code = errorCode(e);
  const [, reason, what] = SQLITE_FAILURES.find(([prefixes]) => prefixes.some((p) => code.startsWith(p))) ?? [
    [],
    'other',
    'SQLite failed',
  ];
  return storageError(`sqlite ${file}: ${doing}: ${what} (${code || 'error'}: ${describe(e)})`, e, reason);
}

function loadDriver(): Result<Driver, StorageError> {
  const nodeModule = nodeBuiltin<typeof import('node:module')>('node:module');
  if (nodeModule === undefined)
    return err(storageError('sqliteStorage needs Node.js (better-sqlite3 is a native module)'));
  return Result.fromThrowable(
    () => nodeModule.createRequire(import.meta.url)('better-sqlite3') as Driver,
    (e) => storageError(`cannot load better-sqlite3: ${describe(e)}`, e),
  )();
}

/** better-sqlite3 throws; this is the edge where throws become StorageError values. */
function guard<T>(file: string, doing: string, fn: () => T): Result<T, StorageError> {
  return Result.fromThrowable(fn, (e) => sqliteError(file, doing, e))();
}

/** `ResultAsync` of a result already computed (SQLite is synchronous). */
const settle = <T, E>(r: Result<T, E>): ResultAsync<T, E> => (r.isOk() ? okAsync(r.value) : errAsync(r.error));

/** A plain Uint8Array view of a Buffer the driver returned (no copy; the driver gives each its own memory). */
const view = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

const factWriter = new Writer(1024);

/** The `fact` column: hash, then the body (`writeEntryBody`) of `entry`. */
function encodeFactColumn(entry: FactEntry): Uint8Array {
  const w = factWriter.reset();
  w.raw(entry.hash);
  writeEntryBody(w, entry);
  return w.finish();
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS spaces (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, start INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS origins (id INTEGER PRIMARY KEY, origin TEXT NOT NULL UNIQUE);
  CREATE TABLE IF NOT EXISTS blobs (
    id INTEGER PRIMARY KEY, parent TEXT NOT NULL, name TEXT NOT NULL, is_dir INTEGER NOT NULL, content BLOB,
    UNIQUE (parent, name));
`;

/** The open file: the connection plus what is cached of it. */
class Connection {
  readonly db: Db;
  readonly file: string;
  readonly pageSize: number;
  readonly logs = new Map<string, SqliteEventLog>();
  /** origin → id and id → origin; only committed rows are in here. */
  readonly originIds = new Map<string, number>();
  readonly origins: string[] = [];
  readonly #stmts = new Map<string, BetterSqlite3.Statement>();

  constructor(db: Db, file: string, pageSize: number) {
    this.db = db;
    this.file = file;
    this.pageSize = pageSize;
    for (const [id, origin] of db.prepare('SELECT id, origin FROM origins').raw(true).all() as [number, string][]) {
      this.originIds.set(origin, id);
      this.origins[id] = origin;
    }
  }

  /** A prepared statement, cached by its SQL. */
  stmt(sql: string): BetterSqlite3.Statement {
    let s = this.#stmts.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  guard<T>(doing: string, fn: () => T): Result<T, StorageError> {
    return guard(this.file, doing, fn);
  }
}

function open(driver: Driver, file: string, init: SqliteStorageInit): Result<Connection, StorageError> {
  let db: Db | undefined;
  const opened = guard(file, 'opening', () => {
    db = new driver(file, { timeout: init.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS });
    const d = db;
    // Exclusive: the lock taken by the first write below is held until close, so no second writer.
    d.pragma('locking_mode = EXCLUSIVE');
    const appId = d.pragma('application_id', { simple: true }) as number;
    const version = d.pragma('user_version', { simple: true }) as number;
    const tables = (d.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number) > 0;
    if (appId !== APPLICATION_ID && (appId !== 0 || tables)) return err(`${file} is not a Shoal database`);
    if (version > SCHEMA_VERSION) return err(`${file} was written by a newer Shoal (layout ${version})`);
    const mode = d.pragma('journal_mode = WAL', { simple: true }) as string;
    if (mode !== 'wal') return err(`${file}: cannot switch to WAL (journal mode ${mode})`);
    d.pragma(`synchronous = ${init.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    if (init.maxSizeBytes !== undefined) {
      const pageBytes = d.pragma('page_size', { simple: true }) as number;
      d.pragma(`max_page_count = ${Math.max(1, Math.floor(init.maxSizeBytes / pageBytes))}`);
    }
    d.transaction(() => {
      d.exec(SCHEMA);
      d.pragma(`application_id = ${APPLICATION_ID}`);
      d.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
    return ok(new Connection(d, file, init.pageSize ?? LOG_PAGE_ENTRIES));
  });
  const result = opened.andThen((r) => r.mapErr((message) => storageError(message)));
  if (result.isErr() && db !== undefined && db.open) {
    const d: Db = db;
    void guard(file, 'closing after a failed open', () => d.close());
  }
  return result;
}

/** The log of one space: table `log_<id>`. */
class SqliteEventLog implements EventLog<FactEntry> {
  readonly #storage: SqliteStorage;
  readonly #space: string;
  readonly #table: string;
  readonly #spaceId: number;
  #start: SequenceId;
  #head: SequenceId;
  /** Hash of the row at `head - 1` while that row is held (the predecessor for prev elision). */
  #lastHash: Uint8Array | undefined;

  constructor(storage: SqliteStorage, conn: Connection, space: string, spaceId: number, start: number) {
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
          if (decoded.isErr()) return err(`entry ${start}: ${decoded.error}`);
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
      if (decoded.isErr()) return err(this.#corrupt(c, `entry ${seq}: ${decoded.error}`));
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
    return storageError(
      `sqlite ${c.file}: corrupt log of space ${JSON.stringify(this.#space)}: ${message}`,
      undefined,
      'corrupt',
    );
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
    return this.#latestSnapshot(c).map((latest) => {
      const newer = newerSnapshot(latest, snapshotId);
      return newer === undefined ? value : { ...value, lastSnapshot: newer };
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Blobs: one row per blob or directory, keyed by (parent path, name). The root's path is '' and a
// child's is `${parent}/${name}`, so a directory's whole subtree is one index range.

class SqliteBlobDir implements BlobDir {
  readonly #storage: SqliteStorage;
  readonly #path: string;

  constructor(storage: SqliteStorage, path: string) {
    this.#storage = storage;
    this.#path = path;
  }

  readBlob(name: BlobName): ResultAsync<Uint8Array, ReadBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return settle(
      this.#with(`reading blob ${name}`, (c): Result<Uint8Array, ReadBlobError> => {
        const row = this.#node(c, this.#path, name);
        if (row === undefined) return err(notFound(`no blob ${name}`));
        if (row[0] === 1) return err(wrongKind(`${name} is a directory`));
        return ok(view(row[1] ?? new Uint8Array(0)));
      }),
    );
  }

  writeBlob(name: BlobName, content: Uint8Array): ResultAsync<void, WriteBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return settle(
      this.#with(`writing blob ${name}`, (c) =>
        c.db.transaction((): Result<void, WriteBlobError> => {
          const present = this.#checkPresent(c);
          if (present !== undefined) return err(present);
          if (this.#node(c, this.#path, name)?.[0] === 1) return err(wrongKind(`${name} is a directory`));
          c.stmt(
            'INSERT INTO blobs (parent, name, is_dir, content) VALUES (?, ?, 0, ?) ON CONFLICT (parent, name) DO UPDATE SET content = excluded.content',
          ).run(this.#path, name, content);
          return ok(undefined);
        })(),
      ),
    );
  }

  removeBlob(name: BlobName): ResultAsync<void, RemoveBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return settle(
      this.#with(`removing blob ${name}`, (c): Result<void, RemoveBlobError> => {
        if (this.#node(c, this.#path, name)?.[0] === 1) return err(wrongKind(`${name} is a directory`));
        c.stmt('DELETE FROM blobs WHERE parent = ? AND name = ? AND is_dir = 0').run(this.#path, name);
        return ok(undefined);
      }),
    );
  }

  getDir(name: BlobName): ResultAsync<BlobDir, GetDirError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return settle(
      this.#with(`opening directory ${name}`, (c) =>
        c.db.transaction((): Result<BlobDir, GetDirError> => {
          const row = this.#node(c, this.#path, name);
          if (row?.[0] === 0) return err(wrongKind(`${name} is a blob`));
          if (row === undefined) {
            const present = this.#checkPresent(c);
            if (present !== undefined) return err(present);
            c.stmt('INSERT INTO blobs (parent, name, is_dir) VALUES (?, ?, 1)').run(this.#path, name);
          }
          return ok(new SqliteBlobDir(this.#storage, `${this.#path}/${name}`));
        })(),
      ),
    );
  }

  query(continuation?: string): ResultAsync<BlobDirEntries, DirQueryError> {
    return settle(
      this.#with('listing a directory', (c) => {
        const rows = c
          .stmt('SELECT name, is_dir FROM blobs WHERE parent = ? AND name > ? ORDER BY name LIMIT ?')
          .raw(true)
          .all(this.#path, continuation ?? '', BLOB_PAGE_NAMES + 1) as [string, number][];
        return ok(listingPage(rows.map(([name, isDir]) => ({ name, dir: isDir === 1 }))));
      }),
    );
  }

  removeAll(): ResultAsync<void, StorageError> {
    return settle(
      this.#with('removing a directory', (c) => {
        // '0' follows '/' in byte order: [path/, path0) is exactly the subtree below this directory.
        c.stmt('DELETE FROM blobs WHERE parent = ? OR (parent >= ? AND parent < ?)').run(
          this.#path,
          `${this.#path}/`,
          `${this.#path}0`,
        );
        return ok(undefined);
      }),
    );
  }

  #node(c: Connection, parent: string, name: string): [number, Uint8Array | null] | undefined {
    return c.stmt('SELECT is_dir, content FROM blobs WHERE parent = ? AND name = ?').raw(true).get(parent, name) as
      [number, Uint8Array | null] | undefined;
  }

  /** An error when this directory was removed (by an ancestor's removeAll) since it was opened. */
  #checkPresent(c: Connection): StorageError | undefined {
    if (this.#path === '') return undefined;
    const cut = this.#path.lastIndexOf('/');
    const row = this.#node(c, this.#path.slice(0, cut), this.#path.slice(cut + 1));
    return row?.[0] === 1 ? undefined : removedDir(this.#path);
  }

  #with<T, E>(doing: string, fn: (c: Connection) => Result<T, E>): Result<T, E | StorageError> {
    return this.#storage
      .connection()
      .andThen((c) => c.guard(doing, () => fn(c)))
      .andThen((r) => r);
  }
}

// ---------------------------------------------------------------------------------------------

type State = { kind: 'idle' } | { kind: 'open'; conn: Connection } | { kind: 'closed' };

class SqliteStorage implements Storage {
  readonly name: string;
  readonly blobs: BlobStore;
  readonly #file: string;
  readonly #init: SqliteStorageInit;
  #state: State = { kind: 'idle' };

  constructor(file: string, init: SqliteStorageInit) {
    this.#file = file;
    this.#init = init;
    this.name = `sqlite:${file}`;
    const root = new SqliteBlobDir(this, '');
    this.blobs = { getRootDir: () => settle(this.connection().map(() => root as BlobDir)) };
  }

  /** The open connection, opening the file on first use. A failed open is retried on the next call. */
  connection(): Result<Connection, StorageError> {
    const state = this.#state;
    if (state.kind === 'open') return ok(state.conn);
    if (state.kind === 'closed') return err(closedStorage(this.name));
    const opened = loadDriver().andThen((driver) => open(driver, this.#file, this.#init));
    if (opened.isOk()) this.#state = { kind: 'open', conn: opened.value };
    return opened;
  }

  openLog(spaceId: string): ResultAsync<EventLog<FactEntry>, StorageError> {
    if (typeof spaceId !== 'string') return errAsync(storageError('space ids are strings'));
    return settle(
      this.connection().andThen((c) => {
        const cached = c.logs.get(spaceId);
        if (cached !== undefined) return ok(cached);
        return c
          .guard(`opening the log of space ${JSON.stringify(spaceId)}`, () =>
            c.db
              .transaction(() => {
                let row = c.stmt('SELECT id, start FROM spaces WHERE name = ?').raw(true).get(spaceId) as
                  [number, number] | undefined;
                if (row === undefined) {
                  const id = Number(
                    c.stmt('INSERT INTO spaces (name, start) VALUES (?, 0)').run(spaceId).lastInsertRowid,
                  );
                  row = [id, 0];
                }
                const table = `log_${row[0]}`;
                c.db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
                seq INTEGER PRIMARY KEY, origin INTEGER NOT NULL, counter INTEGER NOT NULL, fact BLOB NOT NULL,
                sig BLOB, snapshot TEXT, history TEXT, pending TEXT);
                CREATE INDEX IF NOT EXISTS ${table}_snapshots ON ${table} (seq) WHERE snapshot IS NOT NULL;`);
                return new SqliteEventLog(this, c, spaceId, row[0], row[1]);
              })
              .immediate(),
          )
          .map((log) => {
            c.logs.set(spaceId, log);
            return log;
          });
      }),
    );
  }

  getMeta(key: string): ResultAsync<Uint8Array | undefined, StorageError> {
    return settle(
      this.connection().andThen((c) =>
        c.guard(`reading metadata ${key}`, () => {
          const v = c.stmt('SELECT value FROM meta WHERE key = ?').pluck().get(key) as Uint8Array | undefined;
          return v === undefined ? undefined : view(v);
        }),
      ),
    );
  }

  setMeta(key: string, value: Uint8Array): ResultAsync<void, StorageError> {
    if (typeof key !== 'string' || !(value instanceof Uint8Array)) {
      return errAsync(storageError('metadata keys are strings and values are bytes'));
    }
    return settle(
      this.connection().andThen((c) =>
        c.guard(`writing metadata ${key}`, () => {
          c.stmt(
            'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
          ).run(key, value);
        }),
      ),
    );
  }

  deleteMeta(key: string): ResultAsync<void, StorageError> {
    return settle(
      this.connection().andThen((c) =>
        c.guard(`deleting metadata ${key}`, () => {
          c.stmt('DELETE FROM meta WHERE key = ?').run(key);
        }),
      ),
    );
  }

  close(): ResultAsync<void, StorageError> {
    const state = this.#state;
    this.#state = { kind: 'closed' };
    if (state.kind !== 'open') return okAsync(undefined);
    return settle(
      guard(this.#file, 'closing', () => {
        state.conn.db.close();
      }),
    );
  }
}

/**
 * Storage in one SQLite file at `path` (created when missing), opened on first use.
 *
 * @example
 * ```ts
 * const peer = await createPeer({ storage: sqliteStorage('./peer.db') });
 * ```
 */
export function sqliteStorage(path: string, init: SqliteStorageInit = {}): Storage {
  return new SqliteStorage(path, init);
}
