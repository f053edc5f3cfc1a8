/**
 * The tables of one space's log (what they hold and why: ./event-log.ts) and the size of their
 * batch rows, shared by the log and by the migration from older layouts (./migrate.ts).
 */
import type BetterSqlite3 from 'better-sqlite3';
import { MAX_APPEND_BATCH } from '../../limits.js';

/** Most entries in one batch row: a bigger `addEntries` call is split (same transaction). */
export const ROW_MAX_ENTRIES = MAX_APPEND_BATCH; // entries
/** A batch row is closed once its encoded entries reach this size (a batch of huge values). */
export const ROW_TARGET_BYTES = 4 * 1024 * 1024; // 4 MiB

/** Create the tables of the log of space row `id` unless they exist. */
export function createLogTables(db: BetterSqlite3.Database, id: number): void {
  db.exec(`CREATE TABLE IF NOT EXISTS batch_${id} (
      first INTEGER PRIMARY KEY, count INTEGER NOT NULL, entries BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS entry_meta_${id} (seq INTEGER PRIMARY KEY, snapshot TEXT, history TEXT, pending TEXT);
    CREATE INDEX IF NOT EXISTS entry_meta_${id}_snapshots ON entry_meta_${id} (seq) WHERE snapshot IS NOT NULL;`);
}
