/** sqliteStorage: the conformance suites, then what only a file on disk can get wrong. */
import Database from 'better-sqlite3';
import { closeSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Reader } from '../../engine/facts/bytes.js';
import type { FactEntry } from '../../engine/log/fact-entry.js';
import { sqliteStorage, type SqliteStorageInit } from '../../engine/storage/sqlite/index.js';
import { ROW_MAX_ENTRIES } from '../../engine/storage/sqlite/log-tables.js';
import type { Storage } from '../../engine/storage/storage.js';
import { FactChain, interleavedRuns, normalize, testOrigin } from '../../testing/facts.js';
import { failure, storageReason } from '../../testing/results.js';
import { tempDirs } from '../support/temp-dir.js';
import { readAll, runBlobStoreTests, runEventLogTests, runStorageTests } from '../../testing/index.js';

const tempDir = tempDirs('shoal-sqlite-');

/** The batch rows of space row 1 in `file`, each with the prev flag of every record's body. */
function batchRows(file: string): { first: number; count: number; prevFlags: number[] }[] {
  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT first, count, entries FROM batch_1 ORDER BY first').raw(true).all() as [
    number,
    number,
    Buffer,
  ][];
  db.close();
  return rows.map(([first, count, blob]) => {
    // record = uvarint length · hash · uvarint (origin·2 + has sig) · uvarint counter · [sig] · body
    const r = new Reader(blob);
    const prevFlags: number[] = [];
    while (r.remaining > 0) {
      const length = r.uvarint();
      const end = r.position + length;
      r.raw(32);
      const hasSig = r.uvarint() % 2 === 1;
      r.uvarint();
      if (hasSig) r.raw(64);
      prevFlags.push(r.u8() & 1);
      r.raw(end - r.position);
    }
    expect(r.done).toBe(true);
    expect(prevFlags).toHaveLength(count);
    return { first, count, prevFlags };
  });
}
const open: Storage[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) void (await s.close());
});

function fresh(init: SqliteStorageInit = {}, file = join(tempDir(), 'peer.db')): Storage {
  const storage = sqliteStorage(file, init);
  open.push(storage);
  return storage;
}

runEventLogTests('sqlite', async (init) => (await fresh(init).openLog('space'))._unsafeUnwrap());
runBlobStoreTests('sqlite', () => Promise.resolve(fresh().blobs));
runStorageTests('sqlite', {
  make: () => Promise.resolve(fresh()),
  reopen: (closed) => Promise.resolve(fresh({}, closed.name.slice('sqlite:'.length))),
});

describe('sqliteStorage on disk', () => {
  it('opens lazily: creating the storage touches nothing', () => {
    const file = join(tempDir(), 'lazy.db');
    fresh({}, file);
    expect(() => statSync(file)).toThrow();
  });

  it('gives a typed error, not a throw, for a file that is not a database', async () => {
    const file = join(tempDir(), 'garbage.db');
    writeFileSync(file, Buffer.alloc(16_384, 0x5a));
    const storage = fresh({}, file);
    const read = await storage.getMeta('identity');
    expect(failure(read)).toMatch(/corrupt or not a database/);
    expect(storageReason(read)).toBe('corrupt');
    expect((await storage.openLog('s')).isErr()).toBe(true);
  });

  it('refuses an SQLite file that some other program wrote', async () => {
    const file = join(tempDir(), 'other.db');
    const db = new Database(file);
    db.exec('CREATE TABLE people (name TEXT)');
    db.close();
    expect(failure(await fresh({}, file).getMeta('identity'))).toMatch(/not a Shoal database/);
  });

  it('gives a typed error when a damaged page is read', async () => {
    const file = join(tempDir(), 'damaged.db');
    const storage = sqliteStorage(file);
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    (await log.addEntries(interleavedRuns('s', 2, 200, 10), 0))._unsafeUnwrap();
    (await storage.close())._unsafeUnwrap();
    // Overwrite every page after the first two (schema) with garbage.
    const size = statSync(file).size;
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(size - 8192, 0xee), 0, size - 8192, 8192);
    closeSync(fd);
    const again = fresh({}, file);
    const opened = await again.openLog('s');
    const read = opened.isOk()
      ? await readAll(opened.value).then(
          () => 'read everything',
          (e: unknown) => e,
        )
      : opened.error;
    // Either opening the log or reading it fails, as a storage error naming the damage.
    const failure = opened.isErr() ? opened.error : await opened.value.query('start', 'end');
    expect(read).not.toBe('read everything');
    expect(JSON.stringify(failure)).toMatch(/corrupt|not a database/);
  });

  it('refuses a second open of the same file as locked, and the first keeps working', async () => {
    const file = join(tempDir(), 'locked.db');
    const first = fresh({}, file);
    (await first.setMeta('k', Uint8Array.from([1])))._unsafeUnwrap();
    const second = fresh({ busyTimeoutMs: 50 }, file);
    const locked = await second.getMeta('k');
    expect(failure(locked)).toMatch(/locked/);
    expect(storageReason(locked)).toBe('locked');
    (await first.setMeta('k', Uint8Array.from([2])))._unsafeUnwrap();
    (await first.close())._unsafeUnwrap();
    // Once the first is closed, the second's next call opens the file.
    expect(Array.from((await second.getMeta('k'))._unsafeUnwrap()!)).toEqual([2]);
  });

  it('reports a full disk as a storage error and keeps everything acknowledged before it', async () => {
    const storage = fresh({ maxSizeBytes: 64 * 1024 });
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const chain = new FactChain('s', testOrigin(1));
    const acked = [];
    let full;
    for (let i = 0; i < 100 && full === undefined; i++) {
      const batch = chain.run(50);
      const r = await log.addEntries(batch, acked.length);
      if (r.isOk()) acked.push(...batch);
      else full = r;
    }
    if (full === undefined) throw new Error('64 KiB never filled up');
    expect(failure(full)).toMatch(/disk is full/);
    expect(storageReason(full)).toBe('disk-full');
    // Nothing of the failed batch is visible, and the head did not move.
    const all = await readAll(log);
    expect(all.entries.map(normalize)).toEqual(acked.map(normalize));
    expect(await log.addEntry(chain.next(), acked.length + 1)).toMatchObject({
      error: { type: 'conflict', nextSequenceId: acked.length },
    });
    const blob = await (await storage.blobs.getRootDir())._unsafeUnwrap().writeBlob('big', new Uint8Array(200_000));
    expect(blob.isErr() && blob.error.type).toBe('storage');
    // A tiny metadata row may still fit in a free slot; if it does not, it fails as "full".
    const meta = await storage.setMeta('still', Uint8Array.from([1]));
    if (meta.isErr()) expect(meta.error.message).toMatch(/full/);
  });

  it('refuses a batch with an unstorable entry and writes none of it', async () => {
    const storage = fresh();
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const [a, b] = new FactChain('s', testOrigin(1)).run(2);
    const bad = { ...b!, hash: new Uint8Array(5) };
    expect(failure(await log.addEntries([a!, bad], 0))).toMatch(/entry 1/);
    expect((await readAll(log)).entries).toEqual([]);
  });

  it('stores one row per batch, and prev only where the record before it in the row does not give it', async () => {
    const file = join(tempDir(), 'elide.db');
    const storage = sqliteStorage(file);
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const entries = interleavedRuns('s', 3, 6, 5); // runs of 5 from 3 origins, interleaved
    (await log.addEntries(entries.slice(0, 12), 0))._unsafeUnwrap();
    (await log.addEntries(entries.slice(12), 12))._unsafeUnwrap();
    (await storage.close())._unsafeUnwrap();
    const rows = batchRows(file);
    expect(rows.map(({ first, count }) => [first, count])).toEqual([
      [0, 12],
      [12, 18],
    ]);
    // First fact of each origin: counter 1, no prev. Inside a run: elided. First of a later run
    // follows another origin's record: stored. First record of a row: stored (rows stand alone).
    expect(rows.flatMap((r) => r.prevFlags)).toEqual(
      entries.map((e, i) => (e.prev !== null && (i === 0 || i === 12 || entries[i - 1]!.origin !== e.origin) ? 1 : 0)),
    );
    expect(rows[1]!.prevFlags[0]).toBe(1); // entry 12 is inside a run, yet holds its prev

    const again = fresh({ pageSize: 4 }, file);
    const log2 = (await again.openLog('s'))._unsafeUnwrap();
    expect((await readAll(log2)).entries.map(normalize)).toEqual(entries.map(normalize));
    // Query pages starting mid-run (and mid-row) still get every prev.
    expect((await log2.query(7, 9))._unsafeUnwrap().entries.map(normalize)).toEqual(entries.slice(7, 9).map(normalize));
  });

  it('truncates inside a batch row: the row is replaced by its tail, prev restored, across reopen', async () => {
    const file = join(tempDir(), 'cut.db');
    const storage = sqliteStorage(file);
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const entries = interleavedRuns('s', 3, 6, 5);
    (await log.addEntries(entries.slice(0, 12), 0))._unsafeUnwrap();
    (await log.addEntries(entries.slice(12), 12))._unsafeUnwrap();
    (await log.setMetadata(7, { snapshot: 'gone' }))._unsafeUnwrap();
    (await log.setMetadata(9, { snapshot: 'kept', pending: 'history' }))._unsafeUnwrap();
    (await log.setMetadata(20, { history: 'later' }))._unsafeUnwrap();
    (await log.truncate(8))._unsafeUnwrap(); // entry 8 is inside a run and inside the first row
    const expected = entries
      .slice(8)
      .map((e, i) =>
        i === 1 ? { ...e, snapshot: 'kept', pending: 'history' as const } : i === 12 ? { ...e, history: 'later' } : e,
      );
    expect((await readAll(log)).entries.map(normalize)).toEqual(expected.map(normalize));
    expect((await log.query('snapshot', 'end'))._unsafeUnwrap().startSequenceId).toBe(9);
    (await storage.close())._unsafeUnwrap();

    const rows = batchRows(file);
    expect(rows.map(({ first, count }) => [first, count])).toEqual([
      [8, 4],
      [12, 18],
    ]);
    expect(entries[8]!.prev).not.toBeNull();
    expect(rows[0]!.prevFlags).toEqual([1, 0, 0, 0]); // 8 holds its prev again; 9..11 still elide
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT seq FROM entry_meta_1 ORDER BY seq').pluck().all()).toEqual([9, 20]);
    db.close();

    const again = fresh({ pageSize: 3 }, file);
    const log2 = (await again.openLog('s'))._unsafeUnwrap();
    expect((await readAll(log2)).entries.map(normalize)).toEqual(expected.map(normalize));
    expect(failure(await log2.query(7, 'end'), 'out-of-range')).toMatch(/truncated/);
    // Cut again inside the rewritten row, then at a row boundary, then everything.
    (await log2.truncate(10))._unsafeUnwrap();
    expect((await readAll(log2)).entries.map(normalize)).toEqual(expected.slice(2).map(normalize));
    (await log2.truncate(12))._unsafeUnwrap();
    expect((await readAll(log2)).entries.map(normalize)).toEqual(expected.slice(4).map(normalize));
    (await log2.truncate(30))._unsafeUnwrap();
    expect((await readAll(log2)).entries).toEqual([]);
    const more = new FactChain('s', testOrigin(9)).run(3);
    (await log2.addEntries(more, 30))._unsafeUnwrap();
    (await again.close())._unsafeUnwrap();
    const third = fresh({}, file);
    const log3 = (await third.openLog('s'))._unsafeUnwrap();
    const after = await readAll(log3);
    expect(after.start).toBe(30);
    expect(after.entries.map(normalize)).toEqual(more.map(normalize));
  });

  it('answers any range right, whatever was read before (the row kept between pages)', async () => {
    const storage = fresh({ pageSize: 4 });
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const entries = interleavedRuns('s', 2, 8, 5); // 40 entries
    let at = 0;
    for (const size of [1, 9, 3, 14, 2, 11]) {
      (await log.addEntries(entries.slice(at, at + size), at))._unsafeUnwrap();
      at += size;
    }
    const check = async (from: number, to: number) => {
      const page = (await log.query(from, to))._unsafeUnwrap();
      const end = Math.min(to, from + 4);
      expect(page.endSequenceId).toBe(end);
      expect(page.entries.map(normalize)).toEqual(entries.slice(from, end).map(normalize));
    };
    // Sequential pages, then every range in a scrambled order, then across a truncation.
    expect((await readAll(log)).entries.map(normalize)).toEqual(entries.map(normalize));
    const ranges: [number, number][] = [];
    for (let from = 0; from <= 40; from++) for (let to = from; to <= 40; to += 3) ranges.push([from, to]);
    for (let i = 0; i < ranges.length; i++) {
      const [from, to] = ranges[(i * 37) % ranges.length]!;
      await check(from, to);
    }
    await check(14, 18); // ends inside the row 13..27: kept for a query from 18
    (await log.truncate(16))._unsafeUnwrap();
    await check(18, 40);
    await check(16, 40);
  });

  it('splits a batch bigger than a row into several rows of one transaction', async () => {
    const file = join(tempDir(), 'split.db');
    const storage = sqliteStorage(file);
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const entries = new FactChain('s', testOrigin(1)).run(ROW_MAX_ENTRIES + 10);
    (await log.addEntries(entries, 0))._unsafeUnwrap();
    (await storage.close())._unsafeUnwrap();
    const rows = batchRows(file);
    expect(rows.map(({ first, count }) => [first, count])).toEqual([
      [0, ROW_MAX_ENTRIES],
      [ROW_MAX_ENTRIES, 10],
    ]);
    expect(rows[1]!.prevFlags[0]).toBe(1);
    const again = fresh({ pageSize: 1000 }, file);
    const all = await readAll((await again.openLog('s'))._unsafeUnwrap());
    expect(all.entries.map(normalize)).toEqual(entries.map(normalize));
  });

  it('leaves the log as it was when a truncation fails half way (disk full)', async () => {
    const storage = fresh({ maxSizeBytes: 96 * 1024 });
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const chain = new FactChain('s', testOrigin(1));
    const acked: FactEntry[] = [];
    // One big row, then fill the file to its cap with small ones.
    const big = chain.run(500);
    (await log.addEntries(big, 0))._unsafeUnwrap();
    acked.push(...big);
    for (let full = false; !full;) {
      const batch = chain.run(5);
      const r = await log.addEntries(batch, acked.length);
      if (r.isOk()) acked.push(...batch);
      else full = true;
    }
    // Cutting inside the big row writes its tail as a new row before deleting the old one: no room.
    const cut = await log.truncate(1);
    expect(storageReason(cut)).toBe('disk-full');
    const all = await readAll(log);
    expect(all.start).toBe(0);
    expect(all.entries.map(normalize)).toEqual(acked.map(normalize));
    // A cut at a row boundary only deletes, so it goes through and frees room.
    (await log.truncate(500))._unsafeUnwrap();
    expect((await readAll(log)).entries.map(normalize)).toEqual(acked.slice(500).map(normalize));
  });

  it('keeps a typical fact under 120 bytes on disk, hash included', async () => {
    const file = join(tempDir(), 'size.db');
    const storage = sqliteStorage(file);
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const n = 20_000;
    const entries = interleavedRuns('s', 4, n / 500, 500);
    for (let i = 0; i < n; i += 2000) (await log.addEntries(entries.slice(i, i + 2000), i))._unsafeUnwrap();
    (await storage.close())._unsafeUnwrap(); // checkpoints the WAL into the file
    expect(statSync(file).size / n).toBeLessThan(120);
  });
});
