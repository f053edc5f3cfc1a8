/**
 * sqliteStorage opening a file of layout 1 (one row per entry), as the previous version wrote it:
 * the logs are rewritten into batch rows on open, in one transaction, and everything else is kept.
 *
 * test/storage/fixtures/v1-layout.sqlite was written by that version (commit fb9f828) with:
 * space 'a': interleavedRuns('a', 3, 30, 7) appended in batches of 1, 20, 64, 5, 100, 20; metadata
 * on 150 (snapshot 'snap-150', history 'hist-150'), 160 (pending 'history') and 12 (snapshot
 * 'snap-12'); truncated at 17. Space 'b': interleavedRuns('b', 1, 2, 5), truncated at 10 (empty).
 * Space 'c': opened, never written. Peer metadata 'identity' = [1, 2, 3]; blob 'x' = [9, 9].
 */
import Database from 'better-sqlite3';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import type { FactEntry } from '../../engine/log/fact-entry.js';
import { sqliteStorage } from '../../engine/storage/sqlite/index.js';
import type { Storage } from '../../engine/storage/storage.js';
import { FactChain, interleavedRuns, normalize, testOrigin } from '../../testing/facts.js';
import { readAll } from '../../testing/index.js';
import { failure, storageReason } from '../../testing/results.js';
import { tempDirs } from '../support/temp-dir.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v1-layout.sqlite', import.meta.url));
const tempDir = tempDirs('shoal-migrate-');
const open: Storage[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) void (await s.close());
});

function copyOfFixture(): string {
  const file = join(tempDir(), 'old.db');
  copyFileSync(FIXTURE, file);
  return file;
}

function storageOn(file: string, pageSize?: number): Storage {
  const storage = sqliteStorage(file, pageSize === undefined ? {} : { pageSize });
  open.push(storage);
  return storage;
}

/** What space 'a' of the fixture holds. */
function expectedA(): FactEntry[] {
  return interleavedRuns('a', 3, 30, 7)
    .map((e, i): FactEntry => {
      if (i === 150) return { ...e, snapshot: 'snap-150', history: 'hist-150' };
      if (i === 160) return { ...e, pending: 'history' };
      return e;
    })
    .slice(17);
}

const schema = (file: string) => {
  const db = new Database(file, { readonly: true });
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
  db.close();
  return { version, tables };
};

it('the fixture is a file of layout 1', () => {
  const { version, tables } = schema(FIXTURE);
  expect(version).toBe(1);
  expect(tables).toEqual(expect.arrayContaining(['log_1', 'log_2', 'log_3']));
});

it('rewrites the logs of a layout-1 file on open and keeps every entry, metadata, start, blob and key', async () => {
  const file = copyOfFixture();
  const storage = storageOn(file, 50);
  const a = (await storage.openLog('a'))._unsafeUnwrap();
  const all = await readAll(a);
  expect(all.start).toBe(17);
  expect(all.entries.map(normalize)).toEqual(expectedA().map(normalize));
  expect((await a.query('snapshot', 'end'))._unsafeUnwrap().startSequenceId).toBe(150);
  expect(failure(await a.query(16, 'end'), 'out-of-range')).toMatch(/truncated/);
  const b = (await storage.openLog('b'))._unsafeUnwrap();
  expect(await readAll(b)).toEqual({ start: 10, entries: [] });
  const c = (await storage.openLog('c'))._unsafeUnwrap();
  expect(await readAll(c)).toEqual({ start: 0, entries: [] });
  expect(Array.from((await storage.getMeta('identity'))._unsafeUnwrap()!)).toEqual([1, 2, 3]);
  const root = (await storage.blobs.getRootDir())._unsafeUnwrap();
  expect(Array.from((await root.readBlob('x'))._unsafeUnwrap() ?? [])).toEqual([9, 9]);

  // The log goes on: appends at the old head, metadata, truncation inside the migrated row.
  const more = new FactChain('a', testOrigin(7)).run(4);
  (await a.addEntries(more, 210))._unsafeUnwrap();
  (await b.addEntries(new FactChain('b', testOrigin(8)).run(2), 10))._unsafeUnwrap();
  (await a.truncate(100))._unsafeUnwrap();
  (await storage.close())._unsafeUnwrap();

  expect(schema(file)).toEqual({
    version: 2,
    tables: [
      'batch_1',
      'batch_2',
      'batch_3',
      'blobs',
      'entry_meta_1',
      'entry_meta_2',
      'entry_meta_3',
      'meta',
      'origins',
      'spaces',
    ],
  });
  // Opening again is a plain open of layout 2.
  const again = storageOn(file);
  const a2 = await readAll((await again.openLog('a'))._unsafeUnwrap());
  expect(a2.start).toBe(100);
  expect(a2.entries.map(normalize)).toEqual([...expectedA().slice(100 - 17), ...more].map(normalize));
  expect((await readAll((await again.openLog('b'))._unsafeUnwrap())).entries).toHaveLength(2);
});

it('refuses a layout-1 file whose log is damaged with a typed error, and leaves it as it was', async () => {
  const file = copyOfFixture();
  const db = new Database(file);
  db.prepare('DELETE FROM log_1 WHERE seq = 100').run();
  db.close();
  const storage = storageOn(file);
  const opened = await storage.openLog('a');
  expect(failure(opened)).toMatch(/layout 1.*entry 100 is missing/);
  expect(storageReason(opened)).toBe('corrupt');
  (await storage.close())._unsafeUnwrap();
  // Rolled back: still layout 1, nothing of layout 2 half written.
  const after = schema(file);
  expect(after.version).toBe(1);
  expect(after.tables).toContain('log_1');
  expect(after.tables.filter((t) => String(t).startsWith('batch_'))).toEqual([]);
});
