/**
 * The SQLite file of `sqliteStorage`: loading the driver, opening the file (exclusive lock, WAL,
 * the schema), and the open `Connection` the log and blob classes share.
 *
 * Tables shared by the whole file (each space's log tables are in ./event-log.ts):
 * - `meta(key, value)`: peer metadata;
 * - `spaces(id, name, start)`: one row per space; `start` is the first sequence id held;
 * - `origins(id, origin)`: origins as small integers, for the log tables;
 * - `blobs(parent, name, is_dir, content)`: the BlobStore (./blob-store.ts).
 *
 * Durability: WAL journal with `synchronous=FULL` by default, so a write that resolved survives a
 * crash and a power loss.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { err, errAsync, ok, okAsync, Result, type ResultAsync } from 'neverthrow';
import { describe, storageError, type StorageError } from '../../errors.js';
import { LOG_PAGE_ENTRIES, SQLITE_BUSY_TIMEOUT_MS } from '../../limits.js';
import type { EventLog } from '../../log/event-log.js';
import type { FactEntry } from '../../log/fact-entry.js';
import { nodeBuiltin } from '../node.js';
import { guard } from './errors.js';
import { migrateFromLayout1 } from './migrate.js';
import type { SqliteStorageInit } from './init.js';

/** `PRAGMA application_id` of a Shoal file ("SHOL"), so a foreign SQLite file is refused. */
const APPLICATION_ID = 0x53484f4c;

/**
 * `PRAGMA user_version` of the current layout. 1: one row per log entry; 2: one row per batch
 * (./event-log.ts). A file of layout 1 is rewritten on open (./migrate.ts).
 */
const SCHEMA_VERSION = 2;

type Db = BetterSqlite3.Database;
type Driver = typeof BetterSqlite3;

/** better-sqlite3, loaded on first use (see ./index.ts), or why it cannot be. */
export function loadDriver(): Result<Driver, StorageError> {
  const nodeModule = nodeBuiltin<typeof import('node:module')>('node:module');
  if (nodeModule === undefined)
    return err(storageError('sqliteStorage needs Node.js (better-sqlite3 is a native module)'));
  return Result.fromThrowable(
    () => nodeModule.createRequire(import.meta.url)('better-sqlite3') as Driver,
    (e) => storageError(`cannot load better-sqlite3: ${describe(e)}`, e),
  )();
}

/** `ResultAsync` of a result already computed (SQLite is synchronous). */
export const settle = <T, E>(r: Result<T, E>): ResultAsync<T, E> => (r.isOk() ? okAsync(r.value) : errAsync(r.error));

/** A plain Uint8Array view of a Buffer the driver returned (no copy; the driver gives each its own memory). */
export const view = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS spaces (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, start INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS origins (id INTEGER PRIMARY KEY, origin TEXT NOT NULL UNIQUE);
  CREATE TABLE IF NOT EXISTS blobs (
    id INTEGER PRIMARY KEY, parent TEXT NOT NULL, name TEXT NOT NULL, is_dir INTEGER NOT NULL, content BLOB,
    UNIQUE (parent, name));
`;

/** The open file: the connection plus what is cached of it. */
export class Connection {
  readonly db: Db;
  readonly file: string;
  readonly pageSize: number;
  /** The log object of each space opened so far (one per space, as `Storage.openLog` promises). */
  readonly logs = new Map<string, EventLog<FactEntry>>();
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

  /** `fn`, its throw (naming this file and what it was `doing`) turned into a StorageError. */
  guard<T>(doing: string, fn: () => T): Result<T, StorageError> {
    return guard(this.file, doing, fn);
  }
}

/** Where the log and blob classes get the open connection (opened on first use, an error once closed). */
export interface ConnectionSource {
  connection(): Result<Connection, StorageError>;
}

/**
 * Open `file` (created when missing) in exclusive locking mode with a WAL journal and the schema in
 * place. A file that is not a Shoal database, or was written by a newer layout, is refused; a file
 * of layout 1 has its logs rewritten into the current layout, in the opening transaction.
 */
export function open(driver: Driver, file: string, init: SqliteStorageInit): Result<Connection, StorageError> {
  let db: Db | undefined;
  const opened = guard(file, 'opening', (): Result<Connection, StorageError> => {
    db = new driver(file, { timeout: init.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS });
    const d = db;
    // Exclusive: the lock taken by the first write below is held until close, so no second writer.
    d.pragma('locking_mode = EXCLUSIVE');
    const appId = d.pragma('application_id', { simple: true }) as number;
    const version = d.pragma('user_version', { simple: true }) as number;
    const tables = (d.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number) > 0;
    if (appId !== APPLICATION_ID && (appId !== 0 || tables))
      return err(storageError(`${file} is not a Shoal database`));
    if (version > SCHEMA_VERSION) return err(storageError(`${file} was written by a newer Shoal (layout ${version})`));
    const mode = d.pragma('journal_mode = WAL', { simple: true }) as string;
    if (mode !== 'wal') return err(storageError(`${file}: cannot switch to WAL (journal mode ${mode})`));
    d.pragma(`synchronous = ${init.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    if (init.maxSizeBytes !== undefined) {
      const pageBytes = d.pragma('page_size', { simple: true }) as number;
      d.pragma(`max_page_count = ${Math.max(1, Math.floor(init.maxSizeBytes / pageBytes))}`);
    }
    // By hand rather than db.transaction(): a failed migration is a value, and must roll back.
    d.exec('BEGIN IMMEDIATE');
    d.exec(SCHEMA);
    if ((d.pragma('user_version', { simple: true }) as number) === 1) {
      const migrated = migrateFromLayout1(d);
      if (migrated.isErr()) {
        d.exec('ROLLBACK');
        const message = `${file}: cannot rewrite the logs of layout 1 into layout ${SCHEMA_VERSION}: ${migrated.error}`;
        return err(storageError(message, undefined, 'corrupt'));
      }
    }
    d.pragma(`application_id = ${APPLICATION_ID}`);
    d.pragma(`user_version = ${SCHEMA_VERSION}`);
    d.exec('COMMIT');
    return ok(new Connection(d, file, init.pageSize ?? LOG_PAGE_ENTRIES));
  });
  const result = opened.andThen((r) => r);
  if (result.isErr() && db !== undefined && db.open) {
    const d: Db = db;
    void guard(file, 'closing after a failed open', () => d.close());
  }
  return result;
}
