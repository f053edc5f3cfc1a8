/**
 * `idbStorage(name)`: a browser peer's device state in one IndexedDB database (through `idb`).
 *
 * Durability: every write is one `readwrite` transaction opened with `durability: 'strict'` (the
 * browser flushes to disk before `complete`), and a call resolves only after `complete`. One
 * `addEntries` call is one transaction: the group commit.
 *
 * Consistency: each call reads the log's bounds (first entry held, head) inside the transaction
 * that acts on them, so pipelined appends behave like the in-memory log and two tabs on one
 * database cannot interleave a log without one of them getting a conflict.
 *
 * Stores:
 * - `entries`: key `[spaceId, seq]`, value `{ b: encodeEntry(fact), s?, h?, p? }` plus `k` (the key
 *   again) only when the entry carries a snapshot, so the `snapshots` index holds just those.
 * - `spaces`: space name → `{ id, start }`; `meta`: key → bytes.
 * - `blobs` and `dirs`: key `[parent path, name]`, the root's path being '' and a child's
 *   `${parent}/${name}`, so a directory's subtree is one key range.
 *
 * Errors (QuotaExceededError, a connection closed by the browser, a newer layout…) come back as
 * storage errors naming the cause; a failed transaction changes nothing.
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import { err, errAsync, ok, okAsync, Result, ResultAsync } from 'neverthrow';
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
import { BLOB_PAGE_NAMES, LOG_PAGE_ENTRIES } from '../limits.js';
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
import { decodeEntry, encodeEntry } from '../log/entry-codec.js';
import type { FactEntry } from '../log/fact-entry.js';
import { applyMetadata, newerSnapshot, resolveQueryRange } from '../log/log-rules.js';
import { checkStorable, closedStorage, metadataProblem } from './storable.js';
import type { Storage } from './storage.js';

/** Version of the database layout. */
const DB_VERSION = 1;

/** Options of `idbStorage`. */
export interface IdbStorageInit {
  /** Most entries one log `query` returns. @default LOG_PAGE_ENTRIES */
  pageSize?: number;
}

interface EntryRecord {
  b: Uint8Array;
  s?: string;
  h?: string;
  p?: string;
  k?: [number, number];
}

interface ShoalDb extends DBSchema {
  meta: { key: string; value: Uint8Array };
  spaces: { key: string; value: { id: number; start: number } };
  entries: { key: [number, number]; value: EntryRecord; indexes: { snapshots: [number, number] } };
  blobs: { key: [string, string]; value: Uint8Array };
  dirs: { key: [string, string]; value: 1 };
}

type Db = IDBPDatabase<ShoalDb>;
type Store = StoreNames<ShoalDb>;
type Tx<S extends Store[], M extends IDBTransactionMode> = IDBPTransaction<ShoalDb, S, M>;

/** DOMException names, what each means for a caller and for a human. */
const IDB_FAILURES: Readonly<Record<string, readonly [reason: StorageFailure, what: string]>> = {
  QuotaExceededError: ['quota-exceeded', 'the storage quota is exceeded'],
  InvalidStateError: ['other', 'the database connection is closed'],
  VersionError: ['other', 'the database was written by a newer Shoal'],
  UnknownError: ['io', 'the browser storage failed (I/O error)'],
  DataCloneError: ['other', 'the data cannot be stored'],
  DataError: ['other', 'the data cannot be stored'],
  AbortError: ['other', 'the transaction was aborted'],
  NotFoundError: ['corrupt', 'the database layout is damaged'],
};

/** A readable storage error from what IndexedDB reported, by DOMException name. */
export function idbError(database: string, doing: string, e: unknown): StorageError {
  const name = (e as { name?: unknown } | null)?.name;
  const [reason, what] =
    typeof name === 'string' && Object.hasOwn(IDB_FAILURES, name)
      ? IDB_FAILURES[name]!
      : (['other', 'IndexedDB failed'] as const);
  return storageError(
    `indexeddb ${database}: ${doing}: ${what} (${typeof name === 'string' ? name : 'error'}: ${describe(e)})`,
    e,
    reason,
  );
}

/**
 * Await `count` requests issued by `issue`. Each request gets a handler the moment it exists: when
 * a transaction aborts part way, later calls throw synchronously and the requests already issued
 * reject with AbortErrors that nobody would otherwise be listening for.
 */
function requests<T>(count: number, issue: (i: number) => Promise<T>): Promise<T[]> {
  const issued: Promise<T>[] = [];
  for (let i = 0; i < count; i++) {
    const request = issue(i);
    request.catch(() => undefined);
    issued.push(request);
  }
  return Promise.all(issued);
}

/** Keys `[id, x]` for every x: one space's entries (or one directory's children). */
const allOf = <K extends number | string>(id: K) => IDBKeyRange.bound([id], [id, []]);

class IdbStorage implements Storage {
  readonly name: string;
  readonly blobs: BlobStore;
  readonly #dbName: string;
  readonly pageSize: number;
  readonly #logs = new Map<string, IdbEventLog>();
  #db: Promise<Result<Db, StorageError>> | undefined;
  #closed = false;

  constructor(dbName: string, init: IdbStorageInit) {
    this.#dbName = dbName;
    this.name = `indexeddb:${dbName}`;
    this.pageSize = init.pageSize ?? LOG_PAGE_ENTRIES;
    const root = new IdbBlobDir(this, '');
    this.blobs = { getRootDir: () => this.#open().map(() => root as BlobDir) };
  }

  #open(): ResultAsync<Db, StorageError> {
    if (this.#closed) return errAsync(closedStorage(this.name));
    if (this.#db === undefined) {
      if (typeof indexedDB === 'undefined')
        return errAsync(storageError('idbStorage needs IndexedDB (a browser, or fake-indexeddb in Node)'));
      const opening = ResultAsync.fromPromise(
        openDB<ShoalDb>(this.#dbName, DB_VERSION, {
          upgrade(db) {
            db.createObjectStore('meta');
            db.createObjectStore('spaces');
            db.createObjectStore('entries').createIndex('snapshots', 'k');
            db.createObjectStore('blobs');
            db.createObjectStore('dirs');
          },
          // Another tab wants a newer layout: step aside rather than block it.
          blocking: () => void this.close(),
          // The browser closed the connection (storage cleared, crash): reopen on the next call.
          terminated: () => {
            this.#db = undefined;
          },
        }),
        (e) => idbError(this.#dbName, 'opening', e),
      );
      // A failed open is retried on the next call.
      this.#db = Promise.resolve(opening).then((r) => {
        if (r.isErr()) this.#db = undefined;
        return r;
      });
    }
    return new ResultAsync(this.#db);
  }

  /**
   * Run `body` in one transaction. The result is returned only after the transaction completed;
   * when `body` returns an error, a readwrite transaction is aborted so nothing it did remains.
   */
  tx<S extends Store[], M extends IDBTransactionMode, T, E>(
    stores: S,
    mode: M,
    doing: string,
    body: (tx: Tx<S, M>) => Promise<Result<T, E>>,
  ): ResultAsync<T, E | StorageError> {
    return this.#open().andThen((db) => new ResultAsync(this.#run(db, stores, mode, doing, body)));
  }

  async #run<S extends Store[], M extends IDBTransactionMode, T, E>(
    db: Db,
    stores: S,
    mode: M,
    doing: string,
    body: (tx: Tx<S, M>) => Promise<Result<T, E>>,
  ): Promise<Result<T, E | StorageError>> {
    const fail = (e: unknown) => idbError(this.#dbName, doing, e);
    const begun = Result.fromThrowable(
      () => db.transaction(stores, mode, mode === 'readwrite' ? { durability: 'strict' } : {}),
      fail,
    )();
    if (begun.isErr()) return err(begun.error);
    const tx = begun.value;
    // Settles once, never rejects: undefined when the transaction completed, else why not.
    const done = tx.done.then(
      () => undefined,
      (e: unknown) => tx.error ?? e ?? new Error('transaction failed'),
    );
    const outcome = await body(tx).then(
      (r) => ({ r }),
      (e: unknown) => ({ thrown: e }),
    );
    if ('thrown' in outcome || outcome.r.isErr()) {
      // Aborting a transaction that already ended throws; either way nothing it did remains.
      void Result.fromThrowable(
        () => tx.abort(),
        () => undefined,
      )();
      const failure = await done;
      // The transaction's own error (QuotaExceededError…) says more than the AbortError of a request.
      if ('thrown' in outcome) return err(fail(tx.error ?? failure ?? outcome.thrown));
      return outcome.r;
    }
    const failure = await done;
    return failure === undefined ? outcome.r : err(fail(failure));
  }

  openLog(spaceId: string): ResultAsync<EventLog<FactEntry>, StorageError> {
    if (typeof spaceId !== 'string') return errAsync(storageError('space ids are strings'));
    const cached = this.#logs.get(spaceId);
    if (cached !== undefined) return this.#open().map(() => cached);
    return this.tx(['spaces'], 'readwrite', `opening the log of space ${JSON.stringify(spaceId)}`, async (tx) => {
      const spaces = tx.objectStore('spaces');
      let record = await spaces.get(spaceId);
      if (record === undefined) {
        record = { id: (await spaces.count()) + 1, start: 0 };
        await spaces.put(record, spaceId);
      }
      return ok(record.id);
    }).map((id) => {
      let log = this.#logs.get(spaceId);
      if (log === undefined) {
        log = new IdbEventLog(this, spaceId, id);
        this.#logs.set(spaceId, log);
      }
      return log;
    });
  }

  getMeta(key: string): ResultAsync<Uint8Array | undefined, StorageError> {
    return this.tx(['meta'], 'readonly', `reading metadata ${key}`, async (tx) =>
      ok(await tx.objectStore('meta').get(key)),
    );
  }

  setMeta(key: string, value: Uint8Array): ResultAsync<void, StorageError> {
    if (typeof key !== 'string' || !(value instanceof Uint8Array)) {
      return errAsync(storageError('metadata keys are strings and values are bytes'));
    }
    return this.tx(['meta'], 'readwrite', `writing metadata ${key}`, async (tx) => {
      await tx.objectStore('meta').put(value.slice(), key);
      return ok(undefined);
    });
  }

  deleteMeta(key: string): ResultAsync<void, StorageError> {
    return this.tx(['meta'], 'readwrite', `deleting metadata ${key}`, async (tx) => {
      await tx.objectStore('meta').delete(key);
      return ok(undefined);
    });
  }

  close(): ResultAsync<void, StorageError> {
    this.#closed = true;
    const db = this.#db;
    this.#db = undefined;
    if (db === undefined) return okAsync(undefined);
    // IDBDatabase.close waits for running transactions by itself and cannot fail.
    return ResultAsync.fromSafePromise(db).map((r) => {
      if (r.isOk()) r.value.close();
    });
  }
}

type LogTx = Tx<['spaces', 'entries'], IDBTransactionMode>;

class IdbEventLog implements EventLog<FactEntry> {
  readonly #storage: IdbStorage;
  readonly #space: string;
  readonly #id: number;

  constructor(storage: IdbStorage, space: string, id: number) {
    this.#storage = storage;
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
    return this.#storage.tx(
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
    return this.#storage.tx(
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
    return this.#storage.tx(
      ['spaces', 'entries'],
      'readonly',
      'reading entries',
      async (tx): Promise<Result<QueryValue<FactEntry>, QueryError>> => {
        const bounds = await this.#bounds(tx);
        const latest = start === 'snapshot' || snapshotId !== undefined ? await this.#latestSnapshot(tx) : undefined;
        const range = resolveQueryRange(start, end, bounds.start, bounds.head, () => latest?.sequenceId);
        if (range.isErr()) return err(range.error);
        const from = range.value.start;
        const to = Math.min(range.value.end, from + this.#storage.pageSize);
        const records =
          to > from
            ? await tx.objectStore('entries').getAll(IDBKeyRange.bound([this.#id, from], [this.#id, to - 1]), to - from)
            : [];
        if (records.length !== to - from) return err(this.#corrupt(`entries ${from}..${to} are missing`));
        const entries: FactEntry[] = [];
        for (const [i, record] of records.entries()) {
          const decoded = decodeEntry(record.b);
          if (decoded.isErr()) return err(this.#corrupt(`entry ${from + i}: ${decoded.error}`));
          entries.push(
            applyMetadata(decoded.value, {
              snapshot: record.s,
              history: record.h,
              pending: record.p as LogMetadata['pending'],
            }),
          );
        }
        const value = { startSequenceId: from, endSequenceId: to, isComplete: to === range.value.end, entries };
        const newer = newerSnapshot(latest, snapshotId);
        return ok(newer === undefined ? value : { ...value, lastSnapshot: newer });
      },
    );
  }

  truncate(start: SequenceId): ResultAsync<void, TruncateError> {
    return this.#storage.tx(
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
    const newer = newerSnapshot(await this.#latestSnapshot(tx), snapshotId);
    return newer === undefined ? value : { ...value, lastSnapshot: newer };
  }

  #corrupt(message: string): StorageError {
    return storageError(
      `${this.#storage.name}: corrupt log of space ${JSON.stringify(this.#space)}: ${message}`,
      undefined,
      'corrupt',
    );
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

// ---------------------------------------------------------------------------------------------

type BlobTx = Tx<['blobs', 'dirs'], IDBTransactionMode>;

class IdbBlobDir implements BlobDir {
  readonly #storage: IdbStorage;
  readonly #path: string;

  constructor(storage: IdbStorage, path: string) {
    this.#storage = storage;
    this.#path = path;
  }

  readBlob(name: BlobName): ResultAsync<Uint8Array, ReadBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return this.#storage.tx(
      ['blobs', 'dirs'],
      'readonly',
      `reading blob ${name}`,
      async (tx): Promise<Result<Uint8Array, ReadBlobError>> => {
        const content = await tx.objectStore('blobs').get([this.#path, name]);
        if (content !== undefined) return ok(content);
        const isDir = (await tx.objectStore('dirs').count([this.#path, name])) > 0;
        return err(isDir ? wrongKind(`${name} is a directory`) : notFound(`no blob ${name}`));
      },
    );
  }

  writeBlob(name: BlobName, content: Uint8Array): ResultAsync<void, WriteBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    const bytes = content.slice();
    return this.#storage.tx(
      ['blobs', 'dirs'],
      'readwrite',
      `writing blob ${name}`,
      async (tx): Promise<Result<void, WriteBlobError>> => {
        const gone = await this.#checkPresent(tx);
        if (gone !== undefined) return err(gone);
        if ((await tx.objectStore('dirs').count([this.#path, name])) > 0)
          return err(wrongKind(`${name} is a directory`));
        await tx.objectStore('blobs').put(bytes, [this.#path, name]);
        return ok(undefined);
      },
    );
  }

  removeBlob(name: BlobName): ResultAsync<void, RemoveBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return this.#storage.tx(
      ['blobs', 'dirs'],
      'readwrite',
      `removing blob ${name}`,
      async (tx): Promise<Result<void, RemoveBlobError>> => {
        if ((await tx.objectStore('dirs').count([this.#path, name])) > 0)
          return err(wrongKind(`${name} is a directory`));
        await tx.objectStore('blobs').delete([this.#path, name]);
        return ok(undefined);
      },
    );
  }

  getDir(name: BlobName): ResultAsync<BlobDir, GetDirError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return this.#storage.tx(
      ['blobs', 'dirs'],
      'readwrite',
      `opening directory ${name}`,
      async (tx): Promise<Result<BlobDir, GetDirError>> => {
        if ((await tx.objectStore('blobs').count([this.#path, name])) > 0) return err(wrongKind(`${name} is a blob`));
        if ((await tx.objectStore('dirs').count([this.#path, name])) === 0) {
          const gone = await this.#checkPresent(tx);
          if (gone !== undefined) return err(gone);
          await tx.objectStore('dirs').put(1, [this.#path, name]);
        }
        return ok(new IdbBlobDir(this.#storage, `${this.#path}/${name}`));
      },
    );
  }

  query(continuation?: string): ResultAsync<BlobDirEntries, DirQueryError> {
    const range =
      continuation === undefined
        ? allOf(this.#path)
        : IDBKeyRange.bound([this.#path, continuation], [this.#path, []], true, false);
    return this.#storage.tx(['blobs', 'dirs'], 'readonly', 'listing a directory', async (tx) => {
      // The first page+1 names of each kind hold the first page+1 names overall.
      const [blobKeys, dirKeys] = await requests(2, (i) =>
        tx.objectStore(i === 0 ? 'blobs' : 'dirs').getAllKeys(range, BLOB_PAGE_NAMES + 1),
      );
      const names = [
        ...(blobKeys ?? []).map((k) => ({ name: k[1], dir: false })),
        ...(dirKeys ?? []).map((k) => ({ name: k[1], dir: true })),
      ].sort((a, b) => (a.name < b.name ? -1 : 1));
      return ok(listingPage(names));
    });
  }

  removeAll(): ResultAsync<void, StorageError> {
    return this.#storage.tx(['blobs', 'dirs'], 'readwrite', 'removing a directory', async (tx) => {
      // '0' follows '/': [path/, path0) is the subtree below this directory.
      const below = IDBKeyRange.bound([`${this.#path}/`], [`${this.#path}0`], false, true);
      await requests(4, (i) =>
        tx.objectStore(i < 2 ? 'blobs' : 'dirs').delete(i % 2 === 0 ? allOf(this.#path) : below),
      );
      return ok(undefined);
    });
  }

  /** An error when this directory was removed (by an ancestor's removeAll) since it was opened. */
  async #checkPresent(tx: BlobTx): Promise<StorageError | undefined> {
    if (this.#path === '') return undefined;
    const cut = this.#path.lastIndexOf('/');
    const present = (await tx.objectStore('dirs').count([this.#path.slice(0, cut), this.#path.slice(cut + 1)])) > 0;
    return present ? undefined : removedDir(this.#path);
  }
}

/**
 * Storage in the IndexedDB database `name` (one per peer), opened on first use.
 *
 * @example
 * ```ts
 * const peer = await createPeer({ storage: idbStorage('shoal-peer') });
 * ```
 */
export function idbStorage(name: string, init: IdbStorageInit = {}): Storage {
  return new IdbStorage(name, init);
}
