/**
 * `idbStorage(name)`: a browser peer's device state in one IndexedDB database (through `idb`).
 *
 * Durability: every write is one `readwrite` transaction opened with `durability: 'strict'` (the
 * browser flushes to disk before `complete`), and a call resolves only after `complete`. One
 * `addEntries` call is one transaction: the group commit.
 *
 * Errors (QuotaExceededError, a connection closed by the browser, a newer layout…) come back as
 * storage errors naming the cause; a failed transaction changes nothing.
 *
 * Files: ./database.ts (stores, opening, transactions), ./event-log.ts (a space's log),
 * ./blob-store.ts (blobs and directories), ./errors.ts (DOMException names as storage errors).
 */
import { errAsync, ok, type ResultAsync } from 'neverthrow';
import type { BlobDir, BlobStore } from '../../blobs/blob-store.js';
import { storageError, type StorageError } from '../../errors.js';
import type { EventLog } from '../../log/event-log.js';
import type { FactEntry } from '../../log/fact-entry.js';
import type { Storage } from '../storage.js';
import { IdbBlobDir } from './blob-store.js';
import { IdbDatabase, type IdbStorageInit } from './database.js';
import { IdbEventLog } from './event-log.js';

export type { IdbStorageInit } from './database.js';

class IdbStorage implements Storage {
  readonly name: string;
  readonly blobs: BlobStore;
  readonly #db: IdbDatabase;
  readonly #logs = new Map<string, IdbEventLog>();

  constructor(dbName: string, init: IdbStorageInit) {
    this.#db = new IdbDatabase(dbName, init);
    this.name = this.#db.name;
    const root = new IdbBlobDir(this.#db, '');
    this.blobs = { getRootDir: () => this.#db.open().map(() => root as BlobDir) };
  }

  openLog(spaceId: string): ResultAsync<EventLog<FactEntry>, StorageError> {
    if (typeof spaceId !== 'string') return errAsync(storageError('space ids are strings'));
    const cached = this.#logs.get(spaceId);
    if (cached !== undefined) return this.#db.open().map(() => cached);
    return this.#db
      .tx(['spaces'], 'readwrite', `opening the log of space ${JSON.stringify(spaceId)}`, async (tx) => {
        const spaces = tx.objectStore('spaces');
        let record = await spaces.get(spaceId);
        if (record === undefined) {
          record = { id: (await spaces.count()) + 1, start: 0 };
          await spaces.put(record, spaceId);
        }
        return ok(record.id);
      })
      .map((id) => {
        let log = this.#logs.get(spaceId);
        if (log === undefined) {
          log = new IdbEventLog(this.#db, spaceId, id);
          this.#logs.set(spaceId, log);
        }
        return log;
      });
  }

  getMeta(key: string): ResultAsync<Uint8Array | undefined, StorageError> {
    return this.#db.tx(['meta'], 'readonly', `reading metadata ${key}`, async (tx) =>
      ok(await tx.objectStore('meta').get(key)),
    );
  }

  setMeta(key: string, value: Uint8Array): ResultAsync<void, StorageError> {
    if (typeof key !== 'string' || !(value instanceof Uint8Array)) {
      return errAsync(storageError('metadata keys are strings and values are bytes'));
    }
    return this.#db.tx(['meta'], 'readwrite', `writing metadata ${key}`, async (tx) => {
      await tx.objectStore('meta').put(value.slice(), key);
      return ok(undefined);
    });
  }

  deleteMeta(key: string): ResultAsync<void, StorageError> {
    return this.#db.tx(['meta'], 'readwrite', `deleting metadata ${key}`, async (tx) => {
      await tx.objectStore('meta').delete(key);
      return ok(undefined);
    });
  }

  close(): ResultAsync<void, StorageError> {
    return this.#db.close();
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
