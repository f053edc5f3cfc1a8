/**
 * faultyStorage, and through it the storage half of "crash at every write point": a peer-shaped
 * workload crashes at write k for every k, on memory, SQLite and IndexedDB; the reopened storage
 * holds exactly what was acknowledged (plus the crashing write when it landed), every hash
 * recomputes, every chain links, nothing twice.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { faultyStorage } from '../../engine/storage/faulty.js';
import { memoryStorage } from '../../engine/storage/memory.js';
import { FactChain, testOrigin } from '../../testing/facts.js';
import { failure } from '../../testing/results.js';
import { durableBackends } from '../support/durable-places.js';
import { tempDirs } from '../support/temp-dir.js';
import { readAll } from '../../testing/index.js';
import { comparable, observe, runUntilFailure, workload } from './crash-workload.js';

const tempDir = tempDirs('shoal-faulty-');

describe('faultyStorage', () => {
  it('counts every kind of write and passes reads through', async () => {
    const s = faultyStorage(memoryStorage());
    const log = (await s.openLog('a'))._unsafeUnwrap();
    expect((await s.openLog('a'))._unsafeUnwrap()).toBe(log);
    const chain = new FactChain('a', testOrigin(1));
    (await log.addEntry(chain.next(), 0))._unsafeUnwrap();
    (await log.addEntries(chain.run(2), 1))._unsafeUnwrap();
    (await log.setMetadata(0, { pending: 'history' }))._unsafeUnwrap();
    (await log.truncate(1))._unsafeUnwrap();
    (await s.setMeta('k', Uint8Array.from([1])))._unsafeUnwrap();
    (await s.deleteMeta('k'))._unsafeUnwrap();
    const root = (await s.blobs.getRootDir())._unsafeUnwrap();
    const dir = (await root.getDir('d'))._unsafeUnwrap();
    (await dir.writeBlob('b', Uint8Array.from([1])))._unsafeUnwrap();
    (await dir.removeBlob('b'))._unsafeUnwrap();
    (await dir.removeAll())._unsafeUnwrap();
    expect(s.writes).toBe(11);
    expect(s.trace[0]).toBe('openLog a');
    expect(s.trace[2]).toBe('addEntries a @1 ×2');
    // Reads are not writes.
    (await log.query('start', 'end'))._unsafeUnwrap();
    (await s.getMeta('k'))._unsafeUnwrap();
    (await dir.query())._unsafeUnwrap();
    expect(s.writes).toBe(11);
  });

  it("in 'error' mode fails writes from the (k+1)-th on, changes nothing, keeps reads working, and heals", async () => {
    const disk = memoryStorage();
    const s = faultyStorage(disk, { failAfterWrites: 2, mode: 'error' });
    const log = (await s.openLog('a'))._unsafeUnwrap(); // write 1
    const chain = new FactChain('a', testOrigin(1));
    const first = chain.run(2);
    (await log.addEntries(first, 0))._unsafeUnwrap(); // write 2
    expect(failure(await log.addEntries(chain.run(2), 2))).toMatch(/write 3 .*injected/);
    expect(failure(await s.setMeta('k', Uint8Array.from([1])))).toMatch(/injected/);
    expect((await readAll(log)).entries).toHaveLength(2);
    expect((await s.getMeta('k'))._unsafeUnwrap()).toBeUndefined();
    expect(s.crashed).toBe(false);
    s.heal();
    (await s.setMeta('k', Uint8Array.from([1])))._unsafeUnwrap();
    expect((await disk.getMeta('k'))._unsafeUnwrap()).toBeDefined();
  });

  it("in 'crash' mode fails the crashing call and everything after it, reads included", async () => {
    const disk = memoryStorage();
    const s = faultyStorage(disk, { failAfterWrites: 1 });
    (await s.setMeta('a', Uint8Array.from([1])))._unsafeUnwrap();
    expect(failure(await s.setMeta('b', Uint8Array.from([2])))).toMatch(/crashed/);
    expect(s.crashed).toBe(true);
    expect(failure(await s.getMeta('a'))).toMatch(/crashed/);
    expect(failure(await s.openLog('x'))).toMatch(/crashed/);
    expect(failure(await s.blobs.getRootDir())).toMatch(/crashed/);
    expect((await disk.getMeta('b'))._unsafeUnwrap()).toBeUndefined();
    expect((await s.close()).isOk()).toBe(true);
  });

  it('with landed: true lets the crashing write reach the disk, unacknowledged', async () => {
    const disk = memoryStorage();
    const s = faultyStorage(disk, { failAfterWrites: 0, landed: true });
    expect(failure(await s.setMeta('b', Uint8Array.from([2])))).toMatch(/crashed/);
    expect(Array.from((await disk.getMeta('b'))._unsafeUnwrap()!)).toEqual([2]);
  });

  it('crashes on demand', async () => {
    const s = faultyStorage(memoryStorage());
    const root = (await s.blobs.getRootDir())._unsafeUnwrap();
    s.crash();
    expect(failure(await root.readBlob('x'))).toMatch(/crashed/);
  });
});

const backends = durableBackends(tempDir, 'crash');

describe.each(backends)('crash at every write point: $name', ({ place }) => {
  it('the workload runs clean and writes often enough to be worth crashing', async () => {
    const p = place();
    const s = faultyStorage(p.open());
    const { acked, failedAt } = await runUntilFailure(s, workload());
    expect(failedAt).toBeUndefined();
    expect(s.writes).toBeGreaterThan(20);
    (await s.close())._unsafeUnwrap();
    const again = p.open();
    expect(comparable(await observe(again))).toEqual(comparable(acked));
    (await again.close())._unsafeUnwrap();
  });

  for (const landed of [false, true]) {
    it(`after a crash at write k (landed: ${landed}), a restart finds exactly what was acknowledged${landed ? ' plus the landed write' : ''}`, async () => {
      const total = workload().length;
      for (let k = 0; k < total; k++) {
        const p = place();
        const s = faultyStorage(p.open(), { failAfterWrites: k, landed });
        const { acked, withFailed, failedAt } = await runUntilFailure(s, workload());
        expect(failedAt, `k=${k}`).toBeDefined();
        expect(s.writes, `k=${k}`).toBe(k + 1);
        (await s.close())._unsafeUnwrap();
        const again = p.open();
        const found = comparable(await observe(again));
        expect(found, `crash at write ${k + 1} (${s.trace[k]})`).toEqual(comparable(landed ? withFailed : acked));
        (await again.close())._unsafeUnwrap();
      }
    });
  }
});
