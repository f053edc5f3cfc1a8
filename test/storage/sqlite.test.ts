/** sqliteStorage: the conformance suites, then what only a file on disk can get wrong. */
import Database from 'better-sqlite3';
import { closeSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStorage, type SqliteStorageInit } from '../../engine/storage/sqlite/index.js';
import type { Storage } from '../../engine/storage/storage.js';
import { FactChain, interleavedRuns, normalize, testOrigin } from '../../testing/facts.js';
import { failure, storageReason } from '../../testing/results.js';
import { tempDirs } from '../support/temp-dir.js';
import { readAll, runBlobStoreTests, runEventLogTests, runStorageTests } from '../../testing/index.js';

const tempDir = tempDirs('shoal-sqlite-');
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

  it('stores prev only where the previous row does not give it, and restores it after truncation', async () => {
    const file = join(tempDir(), 'elide.db');
    const storage = sqliteStorage(file);
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const entries = interleavedRuns('s', 3, 6, 5); // runs of 5 from 3 origins, interleaved
    (await log.addEntries(entries.slice(0, 12), 0))._unsafeUnwrap();
    (await log.addEntries(entries.slice(12), 12))._unsafeUnwrap();
    (await storage.close())._unsafeUnwrap();
    const db = new Database(file, { readonly: true });
    const flags = (db.prepare('SELECT fact FROM log_1 ORDER BY seq').pluck().all() as Buffer[]).map((b) => b[32]);
    db.close();
    // First fact of each origin: counter 1, no prev. Inside a run: elided. First of a later run
    // follows another origin's row: stored.
    expect(flags).toEqual(
      entries.map((e, i) => (e.prev !== null && (i === 0 || entries[i - 1]!.origin !== e.origin) ? 1 : 0)),
    );
    expect(flags.filter((f) => f === 1).length).toBe(3);

    const again = fresh({ pageSize: 4 }, file);
    const log2 = (await again.openLog('s'))._unsafeUnwrap();
    expect((await readAll(log2)).entries.map(normalize)).toEqual(entries.map(normalize));
    // Query pages starting mid-run still get every prev (from the row before the page).
    expect((await log2.query(7, 9))._unsafeUnwrap().entries.map(normalize)).toEqual(entries.slice(7, 9).map(normalize));
    (await log2.truncate(8))._unsafeUnwrap();
    (await again.close())._unsafeUnwrap();
    const third = fresh({}, file);
    const log3 = (await third.openLog('s'))._unsafeUnwrap();
    expect((await readAll(log3)).entries.map(normalize)).toEqual(entries.slice(8).map(normalize));
  });

  it('continues eliding across batches and reopen, and not across a full truncation', async () => {
    const file = join(tempDir(), 'elide2.db');
    const chain = new FactChain('s', testOrigin(1));
    let storage = sqliteStorage(file);
    let log = (await storage.openLog('s'))._unsafeUnwrap();
    const first = chain.run(3);
    (await log.addEntries(first, 0))._unsafeUnwrap();
    (await storage.close())._unsafeUnwrap();
    storage = sqliteStorage(file);
    log = (await storage.openLog('s'))._unsafeUnwrap();
    const second = chain.run(2);
    (await log.addEntries(second, 3))._unsafeUnwrap();
    (await log.truncate(5))._unsafeUnwrap();
    const third = chain.run(2);
    (await log.addEntries(third, 5))._unsafeUnwrap();
    expect((await readAll(log)).entries.map(normalize)).toEqual(third.map(normalize));
    (await storage.close())._unsafeUnwrap();
    const db = new Database(file, { readonly: true });
    const flags = (db.prepare('SELECT fact FROM log_1 ORDER BY seq').pluck().all() as Buffer[]).map((b) => b[32]);
    db.close();
    expect(flags).toEqual([1, 0]);
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
