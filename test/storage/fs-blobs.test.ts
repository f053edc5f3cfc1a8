/** fsBlobStore: the BlobStore suite, then atomic writes and crash leftovers. */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsBlobStore } from '../../engine/storage/fs-blobs.js';
import { failure } from '../../testing/results.js';
import { tempDirs } from '../support/temp-dir.js';
import { listAll, runBlobStoreTests } from '../../testing/index.js';

const tempDir = tempDirs('shoal-fs-');

runBlobStoreTests('fs', () => Promise.resolve(fsBlobStore(join(tempDir(), 'blobs'))));

describe('fsBlobStore on disk', () => {
  it('keeps blobs as plain files a restarted store finds again', async () => {
    const dir = join(tempDir(), 'blobs');
    const root = (await fsBlobStore(dir).getRootDir())._unsafeUnwrap();
    const snaps = (await root.getDir('snapshots'))._unsafeUnwrap();
    (await snaps.writeBlob('abc.bin', Uint8Array.from([1, 2])))._unsafeUnwrap();
    expect(readdirSync(join(dir, 'snapshots'))).toEqual(['abc.bin']);
    const again = (await (await fsBlobStore(dir).getRootDir())._unsafeUnwrap().getDir('snapshots'))._unsafeUnwrap();
    expect(Array.from((await again.readBlob('abc.bin'))._unsafeUnwrap())).toEqual([1, 2]);
  });

  it('hides and sweeps temporary files a crash left behind', async () => {
    const dir = join(tempDir(), 'blobs');
    const root = (await fsBlobStore(dir).getRootDir())._unsafeUnwrap();
    (await root.writeBlob('real', Uint8Array.from([1])))._unsafeUnwrap();
    // What a crash between write and rename leaves: a temporary file next to the blobs.
    const leftover = join(dir, 'real~tmp~dead-beef');
    writeFileSync(leftover, 'half a blob');
    expect(await listAll(root)).toMatchObject({ blobs: ['real'], dirs: [] });
    expect(existsSync(leftover)).toBe(false);
    expect(Array.from((await root.readBlob('real'))._unsafeUnwrap())).toEqual([1]);
  });

  it('fails writes into a directory removed under it, as a storage error', async () => {
    const root = (await fsBlobStore(join(tempDir(), 'blobs')).getRootDir())._unsafeUnwrap();
    const a = (await root.getDir('a'))._unsafeUnwrap();
    const sub = (await a.getDir('sub'))._unsafeUnwrap();
    (await a.removeAll())._unsafeUnwrap();
    expect(failure(await sub.writeBlob('x', Uint8Array.from([1])))).toMatch(/was removed/);
    expect(failure(await sub.getDir('y'))).toMatch(/was removed/);
  });

  it('reports an unusable root as a storage error', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    expect(failure(await fsBlobStore(join(file, 'blobs')).getRootDir())).toMatch(/fs blobs/);
  });
});
