/**
 * The IndexedDB database of `idbStorage`: its stores, opening (and upgrading) it, and running one
 * transaction per call.
 *
 * Stores:
 * - `entries`: a space's log (./event-log.ts);
 * - `spaces`: space name → `{ id, start }`; `meta`: key → bytes;
 * - `blobs` and `dirs`: the BlobStore (./blob-store.ts).
 *
 * Durability: every write is one `readwrite` transaction opened with `durability: 'strict'` (the
 * browser flushes to disk before `complete`), and a call resolves only after `complete`.
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import { err, errAsync, okAsync, Result, ResultAsync } from 'neverthrow';
import { storageError, type StorageError } from '../../errors.js';
import { LOG_PAGE_ENTRIES } from '../../limits.js';
import { closedStorage } from '../storable.js';
import { idbError } from './errors.js';

/** Version of the database layout. */
const DB_VERSION = 1;

/** Options of `idbStorage`. */
export interface IdbStorageInit {
  /** Most entries one log `query` returns. @default LOG_PAGE_ENTRIES */
  pageSize?: number;
}

/** An entry in store `entries` (see ./event-log.ts). */
export interface EntryRecord {
  b: Uint8Array;
  s?: string;
  h?: string;
  p?: string;
  k?: [number, number];
}

/** The stores of a Shoal database. */
interface ShoalDb extends DBSchema {
  meta: { key: string; value: Uint8Array };
  spaces: { key: string; value: { id: number; start: number } };
  entries: { key: [number, number]; value: EntryRecord; indexes: { snapshots: [number, number] } };
  blobs: { key: [string, string]; value: Uint8Array };
  dirs: { key: [string, string]; value: 1 };
}

type Db = IDBPDatabase<ShoalDb>;
type Store = StoreNames<ShoalDb>;
export type Tx<S extends Store[], M extends IDBTransactionMode> = IDBPTransaction<ShoalDb, S, M>;

/**
 * Await `count` requests issued by `issue`. Each request gets a handler the moment it exists: when
 * a transaction aborts part way, later calls throw synchronously and the requests already issued
 * reject with AbortErrors that nobody would otherwise be listening for.
 */
export function requests<T>(count: number, issue: (i: number) => Promise<T>): Promise<T[]> {
  const issued: Promise<T>[] = [];
  for (let i = 0; i < count; i++) {
    const request = issue(i);
    request.catch(() => undefined);
    issued.push(request);
  }
  return Promise.all(issued);
}

/** Keys `[id, x]` for every x: one space's entries (or one directory's children). */
export const allOf = <K extends number | string>(id: K) => IDBKeyRange.bound([id], [id, []]);

/**
 * One IndexedDB database, opened on first use and reopened after the browser closed it, and the
 * transaction runner every call goes through.
 */
export class IdbDatabase {
  /** For messages: `indexeddb:<name>`. */
  readonly name: string;
  /** Most entries one log `query` returns. */
  readonly pageSize: number;
  readonly #dbName: string;
  #db: Promise<Result<Db, StorageError>> | undefined;
  #closed = false;

  constructor(dbName: string, init: IdbStorageInit) {
    this.#dbName = dbName;
    this.name = `indexeddb:${dbName}`;
    this.pageSize = init.pageSize ?? LOG_PAGE_ENTRIES;
  }

  /** The open database, opening it on first use. A failed open is retried on the next call. */
  open(): ResultAsync<Db, StorageError> {
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
    return this.open().andThen((db) => new ResultAsync(this.#run(db, stores, mode, doing, body)));
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

  /** Close the connection (waiting for running transactions); every later call fails as closed. */
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
