/**
 * `sqliteStorage(path)`: a peer's whole device state in one SQLite file (better-sqlite3 12.x), the
 * embedded default for Node peers. Every space's log, the blobs and the peer metadata live in the
 * same file, so one transaction can never leave them out of step.
 *
 * Durability: WAL journal with `synchronous=FULL`, so a write that resolved survives a crash and a
 * power loss. One `addEntries` call is one transaction, one fsync: the engine's group commit.
 *
 * The file is opened lazily on the first call, in exclusive locking mode: a second process (or a
 * second `sqliteStorage` on the same file) gets a "locked" storage error instead of two writers
 * interleaving one log. A file that is not a Shoal database, or is damaged, gives a storage error
 * at that first call, never a throw.
 *
 * better-sqlite3 is loaded with `createRequire` through `process.getBuiltinModule`, never imported
 * statically, so a browser bundle of the package root does not pull in a native module.
 *
 * Files: ./database.ts (driver, file, schema, connection), ./event-log.ts (a space's log: one row
 * per group-commit batch), ./batch-codec.ts (the bytes of a batch row), ./log-tables.ts (a log's
 * tables), ./migrate.ts (files of an older layout), ./blob-store.ts (the blobs table), ./errors.ts
 * (SQLite result codes as storage errors).
 */
import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from 'neverthrow';
import type { BlobDir, BlobStore } from '../../blobs/blob-store.js';
import { storageError, type StorageError } from '../../errors.js';
import type { EventLog } from '../../log/event-log.js';
import type { FactEntry } from '../../log/fact-entry.js';
import { closedStorage } from '../storable.js';
import type { Storage } from '../storage.js';
import { SqliteBlobDir } from './blob-store.js';
import { loadDriver, open, settle, view, type Connection, type ConnectionSource } from './database.js';
import { guard } from './errors.js';
import { SqliteEventLog } from './event-log.js';
import { createLogTables } from './log-tables.js';
import type { SqliteStorageInit } from './init.js';

/** The default `busyTimeoutMs`, re-exported beside the backend it configures. */
export { SQLITE_BUSY_TIMEOUT_MS } from '../../limits.js';
export type { SqliteStorageInit } from './init.js';

type State = { kind: 'idle' } | { kind: 'open'; conn: Connection } | { kind: 'closed' };

class SqliteStorage implements Storage, ConnectionSource {
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
                createLogTables(c.db, row[0]);
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
