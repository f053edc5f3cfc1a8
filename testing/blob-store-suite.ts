/**
 * `runBlobStoreTests(name, makeStore)`: the acceptance suite every BlobStore backend passes
 * (memory, SQLite, IndexedDB, fs, automerge-repo StorageAdapter), after seed 002: a hierarchy of
 * directories holding byte blobs, names checked the same way everywhere, blobs and directories
 * never confused, listings paged with a continuation.
 *
 * A backend author calls it from a vitest test file with a function that makes a fresh, empty
 * store, and cleans up in `afterEach`:
 *
 * @example
 * ```ts
 * import { afterEach } from 'vitest';
 * import { runBlobStoreTests } from 'shoal/testing';
 * import { myBlobStore } from '../src/index.js';
 *
 * const dirs: string[] = [];
 * afterEach(() => removeAll(dirs.splice(0)));
 *
 * runBlobStoreTests('my-blobs', async () => {
 *   const dir = freshDir();
 *   dirs.push(dir);
 *   return myBlobStore(dir);
 * });
 * ```
 */
import { describe, expect, it } from 'vitest';
import { error, value } from './results.js';
import type { BlobDir, BlobStore } from '../engine/blobs/blob-store.js';

/** Makes a fresh, empty store. The calling test file cleans up (afterEach). */
export type MakeStore = () => Promise<BlobStore>;

/** Every name in `dir`, following continuations. */
export async function listAll(dir: BlobDir): Promise<{ blobs: string[]; dirs: string[]; pages: number }> {
  const blobs: string[] = [];
  const dirs: string[] = [];
  let pages = 0;
  let continuation: string | undefined;
  do {
    const page = await value(dir.query(continuation));
    pages++;
    blobs.push(...page.blobs);
    dirs.push(...page.dirs);
    continuation = page.continuation;
  } while (continuation !== undefined && pages < 10_000);
  return { blobs: blobs.sort(), dirs: dirs.sort(), pages };
}

const bytes = (...xs: number[]) => Uint8Array.from(xs);

/** Register the BlobStore acceptance tests for the backend `name`; `makeStore` gives a fresh, empty store. */
export function runBlobStoreTests(name: string, makeStore: MakeStore): void {
  describe(`BlobStore conformance: ${name}`, () => {
    it('writes, reads back, overwrites and removes blobs', async () => {
      const root = await value((await makeStore()).getRootDir());
      expect(await error(root.readBlob('a'))).toMatchObject({ type: 'not-found' });
      await value(root.writeBlob('a', bytes(1, 2, 3)));
      expect(Uint8Array.from(await value(root.readBlob('a')))).toEqual(bytes(1, 2, 3));
      await value(root.writeBlob('a', bytes(9)));
      expect(Uint8Array.from(await value(root.readBlob('a')))).toEqual(bytes(9));
      await value(root.removeBlob('a'));
      expect(await error(root.readBlob('a'))).toMatchObject({ type: 'not-found' });
      await value(root.removeBlob('a'));
      await value(root.removeBlob('never-there'));
    });

    it('keeps empty and large blobs byte for byte', async () => {
      const root = await value((await makeStore()).getRootDir());
      const large = Uint8Array.from({ length: 1_000_003 }, (_, i) => (i * 131) & 0xff);
      await value(root.writeBlob('empty', new Uint8Array(0)));
      await value(root.writeBlob('large.bin', large));
      expect(Uint8Array.from(await value(root.readBlob('empty')))).toEqual(new Uint8Array(0));
      // Compared as bytes: a deep toEqual over a million elements takes seconds.
      const back = await value(root.readBlob('large.bin'));
      expect(back.length).toBe(large.length);
      // A loop, not Node's Buffer.compare: the suite also runs inside browsers.
      expect(back.findIndex((byte, i) => byte !== large[i])).toBe(-1);
    });

    it('copies what it is given: mutating the caller buffer later changes nothing', async () => {
      const root = await value((await makeStore()).getRootDir());
      const content = bytes(1, 2, 3);
      await value(root.writeBlob('c', content));
      content[0] = 99;
      expect(Uint8Array.from(await value(root.readBlob('c')))).toEqual(bytes(1, 2, 3));
    });

    it('refuses bad names everywhere and changes nothing', async () => {
      const root = await value((await makeStore()).getRootDir());
      for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'sp ace', 'ü', 'x'.repeat(101), '~tmp']) {
        expect(await error(root.writeBlob(bad, bytes(1)))).toMatchObject({ type: 'invalid-blob-name' });
        expect(await error(root.readBlob(bad))).toMatchObject({ type: 'invalid-blob-name' });
        expect(await error(root.removeBlob(bad))).toMatchObject({ type: 'invalid-blob-name' });
        expect(await error(root.getDir(bad))).toMatchObject({ type: 'invalid-blob-name' });
      }
      const ok = 'Az09._-'.padEnd(100, 'z');
      await value(root.writeBlob(ok, bytes(5)));
      expect(await listAll(root)).toMatchObject({ blobs: [ok], dirs: [] });
    });

    it('nests directories, created on demand, the same directory on every getDir', async () => {
      const root = await value((await makeStore()).getRootDir());
      const a = await value(root.getDir('a'));
      const b = await value(a.getDir('b'));
      await value(b.writeBlob('deep', bytes(7)));
      const again = await value((await value(root.getDir('a'))).getDir('b'));
      expect(Uint8Array.from(await value(again.readBlob('deep')))).toEqual(bytes(7));
      // Same name at different levels and in sibling directories: separate blobs.
      await value(root.writeBlob('deep', bytes(1)));
      const ab = await value(root.getDir('ab'));
      await value(ab.writeBlob('deep', bytes(2)));
      expect(Uint8Array.from(await value(b.readBlob('deep')))).toEqual(bytes(7));
      expect(Uint8Array.from(await value(root.readBlob('deep')))).toEqual(bytes(1));
      expect(await error(a.readBlob('deep'))).toMatchObject({ type: 'not-found' });
      expect(await listAll(a)).toMatchObject({ blobs: [], dirs: ['b'] });
      expect(await listAll(ab)).toMatchObject({ blobs: ['deep'], dirs: [] });
    });

    it('never confuses a blob with a directory', async () => {
      const root = await value((await makeStore()).getRootDir());
      await value(root.writeBlob('file', bytes(1)));
      await value(root.getDir('dir'));
      expect(await error(root.getDir('file'))).toMatchObject({ type: 'blob-wrong-kind' });
      expect(await error(root.readBlob('dir'))).toMatchObject({ type: 'blob-wrong-kind' });
      expect(await error(root.writeBlob('dir', bytes(2)))).toMatchObject({ type: 'blob-wrong-kind' });
      expect(await error(root.removeBlob('dir'))).toMatchObject({ type: 'blob-wrong-kind' });
      expect(Uint8Array.from(await value(root.readBlob('file')))).toEqual(bytes(1));
      expect(await listAll(root)).toMatchObject({ blobs: ['file'], dirs: ['dir'] });
    });

    it('lists a directory a page at a time with a continuation', async () => {
      const root = await value((await makeStore()).getRootDir());
      const dir = await value(root.getDir('many'));
      // Every backend pages at 1,000 names or fewer, so 1,003 names take at least two pages.
      const names = Array.from({ length: 1003 }, (_, i) => `n${String(i).padStart(5, '0')}`);
      // Written 100 at a time, concurrently: backends must take concurrent writes too.
      for (let i = 0; i < 1000; i += 100) {
        await Promise.all(names.slice(i, i + 100).map((n) => value(dir.writeBlob(n, bytes(i8(n))))));
      }
      for (const n of names.slice(1000)) await value(dir.getDir(n));
      const all = await listAll(dir);
      expect(all.blobs).toEqual(names.slice(0, 1000));
      expect(all.dirs).toEqual(names.slice(1000));
      expect(all.pages).toBeGreaterThan(1);
      const empty = await value(root.getDir('empty'));
      expect(await value(empty.query())).toEqual({ blobs: [], dirs: [] });
    });

    it('removeAll empties a directory and everything below it, and leaves the rest', async () => {
      const root = await value((await makeStore()).getRootDir());
      const a = await value(root.getDir('a'));
      await value(a.writeBlob('x', bytes(1)));
      const sub = await value(a.getDir('sub'));
      await value(sub.writeBlob('y', bytes(2)));
      await value(root.writeBlob('keep', bytes(3)));
      const other = await value(root.getDir('a-other'));
      await value(other.writeBlob('z', bytes(4)));
      await value(a.removeAll());
      expect(await listAll(a)).toMatchObject({ blobs: [], dirs: [] });
      expect(await error(a.readBlob('x'))).toMatchObject({ type: 'not-found' });
      const subAgain = await value(a.getDir('sub'));
      expect(await error(subAgain.readBlob('y'))).toMatchObject({ type: 'not-found' });
      expect(await listAll(root)).toMatchObject({ blobs: ['keep'], dirs: ['a', 'a-other'] });
      expect(Uint8Array.from(await value(other.readBlob('z')))).toEqual(bytes(4));
      await value(a.writeBlob('again', bytes(5)));
      expect(Uint8Array.from(await value(a.readBlob('again')))).toEqual(bytes(5));
    });
  });
}

const i8 = (name: string) => name.charCodeAt(name.length - 1);
