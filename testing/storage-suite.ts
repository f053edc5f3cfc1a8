/**
 * `runStorageTests(name, fixture)`: what every Storage backend does beyond its log and blobs: one
 * log object per space, spaces kept apart, peer metadata, and (for durable backends) everything
 * still there after close and reopen, with calls on a closed storage failing as storage errors.
 *
 * A backend author calls it from a vitest test file, next to `runEventLogTests` (on
 * `storage.openLog(…)`) and `runBlobStoreTests` (on `storage.blobs`), and closes what `make` opened
 * in `afterEach`:
 *
 * @example
 * ```ts
 * import type { Storage } from 'shoal';
 * import { afterEach } from 'vitest';
 * import { runStorageTests } from 'shoal/testing';
 * import { myStorage } from '../src/index.js';
 *
 * const opened: Storage[] = [];
 * afterEach(async () => void (await Promise.all(opened.splice(0).map((s) => s.close()))));
 * const track = (s: Storage) => (opened.push(s), s);
 *
 * runStorageTests('my-backend', {
 *   make: async () => track(myStorage(freshPath())),
 *   // Only for durable backends: the same place opened again after `closed` was closed.
 *   reopen: async (closed) => track(myStorage(pathOf(closed))),
 * });
 * ```
 */
import { describe, expect, it } from 'vitest';
import type { Storage } from '../engine/storage/storage.js';
import { FactChain, normalize, testOrigin } from './facts.js';
import { readAll } from './event-log-suite.js';
import { value } from './results.js';

/** How the Storage suite gets fresh storages and reopens closed ones. */
export interface StorageFixture {
  /** A fresh, empty storage. */
  make(): Promise<Storage>;
  /**
   * The same storage opened again after `closed` was closed (a restart). Absent for backends
   * whose close is not final (memory: the object is the disk and is simply reused).
   */
  reopen?(closed: Storage): Promise<Storage>;
}

/** Register the Storage acceptance tests for the backend `name`. */
export function runStorageTests(name: string, fixture: StorageFixture): void {
  describe(`Storage conformance: ${name}`, () => {
    it('gives the same log object for a space on every call, and keeps spaces apart', async () => {
      const storage = await fixture.make();
      const a = await value(storage.openLog('space-a'));
      expect(await value(storage.openLog('space-a'))).toBe(a);
      const b = await value(storage.openLog('space-b'));
      expect(b).not.toBe(a);
      const chainA = new FactChain('space-a', testOrigin(1));
      const chainB = new FactChain('space-b', testOrigin(1));
      const inA = chainA.run(3);
      const inB = chainB.run(2);
      await value(a.addEntries(inA, 0));
      await value(b.addEntries(inB, 0));
      await value(a.truncate(1));
      expect((await readAll(a)).entries.map(normalize)).toEqual(inA.slice(1).map(normalize));
      expect((await readAll(b)).entries.map(normalize)).toEqual(inB.map(normalize));
      expect(typeof storage.name).toBe('string');
    });

    it('keeps metadata: get, set, overwrite, delete', async () => {
      const storage = await fixture.make();
      expect(await value(storage.getMeta('identity'))).toBeUndefined();
      await value(storage.setMeta('identity', Uint8Array.from([1, 2, 3])));
      await value(storage.setMeta('acked', new Uint8Array(0)));
      expect(Uint8Array.from((await value(storage.getMeta('identity')))!)).toEqual(Uint8Array.from([1, 2, 3]));
      expect(Uint8Array.from((await value(storage.getMeta('acked')))!)).toEqual(new Uint8Array(0));
      const buf = Uint8Array.from([4]);
      await value(storage.setMeta('identity', buf));
      buf[0] = 5;
      expect(Uint8Array.from((await value(storage.getMeta('identity')))!)).toEqual(Uint8Array.from([4]));
      await value(storage.deleteMeta('identity'));
      await value(storage.deleteMeta('never-set'));
      expect(await value(storage.getMeta('identity'))).toBeUndefined();
      expect(await value(storage.getMeta('acked'))).toBeDefined();
    });

    it('shares its blob store', async () => {
      const storage = await fixture.make();
      const root = await value(storage.blobs.getRootDir());
      await value(root.writeBlob('b', Uint8Array.from([8])));
      const again = await value(storage.blobs.getRootDir());
      expect(Uint8Array.from(await value(again.readBlob('b')))).toEqual(Uint8Array.from([8]));
    });

    if (fixture.reopen === undefined) return;
    const reopen = (closed: Storage) => fixture.reopen!(closed);

    it('finds everything again after close and reopen', async () => {
      const storage = await fixture.make();
      const chain = new FactChain('space-a', testOrigin(3));
      const entries = chain.run(10);
      const log = await value(storage.openLog('space-a'));
      await value(log.addEntries(entries.slice(0, 6), 0));
      await value(log.addEntries(entries.slice(6), 6));
      await value(log.setMetadata(7, { snapshot: 'snap-7', pending: 'history' }));
      await value(log.truncate(2));
      await value(
        (await value(storage.openLog('space-b'))).addEntries(new FactChain('space-b', testOrigin(4)).run(1), 0),
      );
      await value(storage.setMeta('identity', Uint8Array.from([42])));
      await value(
        (await value((await value(storage.blobs.getRootDir())).getDir('snapshots'))).writeBlob(
          's1',
          Uint8Array.from([1, 1]),
        ),
      );
      await value(storage.close());

      const again = await reopen(storage);
      const log2 = await value(again.openLog('space-a'));
      const all = await readAll(log2);
      expect(all.start).toBe(2);
      const want = entries.slice(2).map(normalize);
      want[5] = { ...want[5]!, snapshot: 'snap-7', pending: 'history' };
      expect(all.entries.map(normalize)).toEqual(want);
      expect((await value(log2.query('snapshot', 'end', -1))).lastSnapshot).toEqual({
        sequenceId: 7,
        blobId: 'snap-7',
      });
      const next = chain.next();
      expect(await log2.addEntry(next, 9)).toMatchObject({ error: { type: 'conflict', nextSequenceId: 10 } });
      await value(log2.addEntry(next, 10));
      expect((await readAll(await value(again.openLog('space-b')))).entries).toHaveLength(1);
      expect(Uint8Array.from((await value(again.getMeta('identity')))!)).toEqual(Uint8Array.from([42]));
      const snaps = await value((await value(again.blobs.getRootDir())).getDir('snapshots'));
      expect(Uint8Array.from(await value(snaps.readBlob('s1')))).toEqual(Uint8Array.from([1, 1]));
      await value(again.close());
    });

    it('fails every call on a closed storage with a storage error', async () => {
      const storage = await fixture.make();
      const log = await value(storage.openLog('s'));
      const root = await value(storage.blobs.getRootDir());
      await value(storage.close());
      const chain = new FactChain('s', testOrigin(1));
      const results = [
        await storage.getMeta('k'),
        await storage.setMeta('k', Uint8Array.from([1])),
        await storage.deleteMeta('k'),
        await storage.openLog('t'),
        await log.addEntry(chain.next(), 0),
        await log.query('start', 'end'),
        await log.setMetadata(0, { pending: 'snapshot' }),
        await log.truncate(0),
        await root.writeBlob('b', Uint8Array.from([1])),
        await root.readBlob('b'),
        await storage.blobs.getRootDir(),
      ];
      for (const r of results) expect(r.isErr() && r.error.type).toBe('storage');
      // Closing twice is harmless.
      expect((await storage.close()).isOk()).toBe(true);
      const reopened = await reopen(storage);
      expect(await value(reopened.getMeta('k'))).toBeUndefined();
      await value(reopened.close());
    });
  });
}
