/**
 * Opening a file of an older layout: its logs are rewritten into the current one, inside the
 * transaction that opens the file (./database.ts), so a crash during the rewrite leaves the old
 * layout untouched and the next open starts over.
 *
 * Layout 1 kept one row per entry: `log_<id>(seq INTEGER PRIMARY KEY, origin, counter, fact, sig,
 * snapshot, history, pending)`, `fact` the 32-byte hash then the body (`writeEntryBody`), the prev
 * left out of the body when it was the hash of the row before. Layout 2 (./event-log.ts) keeps one
 * row per batch. The rewrite reads the old rows a page at a time (memory stays bounded however long
 * the log), writes rows of `ROW_MAX_ENTRIES` entries and the metadata of the entries that have
 * some, then drops the old table.
 */
import { err, ok, type Result } from 'neverthrow';
import { Writer } from '../../facts/bytes.js';
import { HASH_BYTES } from '../../facts/codec.js';
import type { PeerId } from '../../facts/types.js';
import { decodeEntryBodyAt } from '../../log/entry-codec.js';
import type { FactEntry } from '../../log/fact-entry.js';
import type BetterSqlite3 from 'better-sqlite3';
import { writeRecord } from './batch-codec.js';
import { createLogTables, ROW_MAX_ENTRIES } from './log-tables.js';

type Db = BetterSqlite3.Database;

type OldRow = [
  seq: number,
  origin: number,
  counter: number,
  fact: Uint8Array,
  sig: Uint8Array | null,
  snapshot: string | null,
  history: string | null,
  pending: string | null,
];

/** Rewrite every layout-1 log table of `db` into layout 2; a message naming the damage when one does not decode. */
export function migrateFromLayout1(db: Db): Result<void, string> {
  const origins: (string | undefined)[] = [];
  for (const [id, origin] of db.prepare('SELECT id, origin FROM origins').raw(true).all() as [number, string][]) {
    origins[id] = origin;
  }
  const spaces = db.prepare('SELECT id, name, start FROM spaces ORDER BY id').raw(true).all() as [
    number,
    string,
    number,
  ][];
  const hasTable = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck();
  for (const [id, name, start] of spaces) {
    createLogTables(db, id);
    if ((hasTable.get(`log_${id}`) as number) === 0) continue;
    const moved = migrateLog(db, id, start, origins);
    if (moved.isErr()) return err(`space ${JSON.stringify(name)}: ${moved.error}`);
    db.exec(`DROP TABLE log_${id}`);
  }
  return ok(undefined);
}

/** Move the rows of `log_<id>` (held from `start`) into `batch_<id>` and `entry_meta_<id>`. */
function migrateLog(db: Db, id: number, start: number, origins: readonly (string | undefined)[]): Result<void, string> {
  const page = db.prepare(
    `SELECT seq, origin, counter, fact, sig, snapshot, history, pending FROM log_${id} WHERE seq >= ? ORDER BY seq LIMIT ?`,
  );
  page.raw(true);
  const insertRow = db.prepare(`INSERT INTO batch_${id} (first, count, entries) VALUES (?, ?, ?)`);
  const insertMeta = db.prepare(`INSERT INTO entry_meta_${id} (seq, snapshot, history, pending) VALUES (?, ?, ?, ?)`);
  const w = new Writer(64 * 1024);
  const scratch = new Writer(1024);
  let expected: number | undefined;
  let predecessor: Uint8Array | undefined;
  for (;;) {
    const rows = page.all(expected ?? start, ROW_MAX_ENTRIES) as OldRow[];
    if (rows.length === 0) return ok(undefined);
    const first = rows[0]![0];
    if (expected !== undefined && first !== expected) return err(`entry ${expected} is missing`);
    if (expected === undefined && first !== start) return err(`the log starts at ${first}, not ${start}`);
    w.reset();
    let rowPredecessor: Uint8Array | undefined;
    for (const [seq, originId, counter, fact, sig, snapshot, history, pending] of rows) {
      if (seq !== (expected ?? start)) return err(`entry ${expected ?? start} is missing`);
      expected = seq + 1;
      const origin = origins[originId];
      if (origin === undefined) return err(`entry ${seq} names unknown origin ${originId}`);
      const hash = fact.slice(0, HASH_BYTES);
      const decoded = decodeEntryBodyAt(
        fact,
        HASH_BYTES,
        fact.length,
        origin as PeerId,
        counter,
        hash,
        sig ?? undefined,
      );
      if (decoded === undefined) return err(`entry ${seq}: malformed entry body`);
      const entry: FactEntry =
        decoded.prev === null && counter > 1 && predecessor !== undefined ? { ...decoded, prev: predecessor } : decoded;
      if (entry.prev === null && counter > 1) return err(`entry ${seq} has no stored prev and no predecessor`);
      writeRecord(w, scratch, entry, originId, rowPredecessor);
      if (snapshot !== null || history !== null || pending !== null) insertMeta.run(seq, snapshot, history, pending);
      predecessor = hash;
      rowPredecessor = hash;
    }
    insertRow.run(first, rows.length, w.view());
  }
}
