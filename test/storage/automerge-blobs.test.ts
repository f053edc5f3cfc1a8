/**
 * automergeBlobStore: the BlobStore suite on automerge-repo's NodeFS adapter and on its in-memory
 * adapter (whose keys are joined with "." and matched as string prefixes), sharing the adapter
 * with automerge-repo's own data.
 */
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { automergeBlobStore } from '../../engine/storage/automerge-blobs.js';
import { dummyStorageAdapter } from '../support/dummy-storage-adapter.js';
import { failure } from '../../testing/results.js';
import { tempDirs } from '../support/temp-dir.js';
import { listAll, runBlobStoreTests } from '../../testing/index.js';

const tempDir = tempDirs('shoal-am-');

runBlobStoreTests('automerge-repo NodeFS adapter', () =>
  Promise.resolve(automergeBlobStore(new NodeFSStorageAdapter(join(tempDir(), 'repo')))),
);
runBlobStoreTests('automerge-repo in-memory adapter', () => Promise.resolve(automergeBlobStore(dummyStorageAdapter())));

describe('automergeBlobStore', () => {
  it("lives beside automerge-repo's own documents without touching them", async () => {
    const adapter = dummyStorageAdapter();
    await adapter.save(['3xKq9', 'snapshot', 'h1'], Uint8Array.from([7]));
    const root = (await automergeBlobStore(adapter).getRootDir())._unsafeUnwrap();
    (await root.writeBlob('x', Uint8Array.from([1])))._unsafeUnwrap();
    (await root.removeAll())._unsafeUnwrap();
    expect(await adapter.load(['3xKq9', 'snapshot', 'h1'])).toEqual(Uint8Array.from([7]));
  });

  it('finds its blobs again through a new adapter on the same directory (a restart)', async () => {
    const dir = join(tempDir(), 'repo');
    const root = (await automergeBlobStore(new NodeFSStorageAdapter(dir)).getRootDir())._unsafeUnwrap();
    const deep = (await (await root.getDir('Snapshots.v1'))._unsafeUnwrap().getDir('x'.repeat(100)))._unsafeUnwrap();
    (await deep.writeBlob('A.b-c_d', Uint8Array.from([5])))._unsafeUnwrap();
    const again = (await automergeBlobStore(new NodeFSStorageAdapter(dir)).getRootDir())._unsafeUnwrap();
    expect(await listAll(again)).toMatchObject({ blobs: [], dirs: ['Snapshots.v1'] });
    const deep2 = (await (await again.getDir('Snapshots.v1'))._unsafeUnwrap().getDir('x'.repeat(100)))._unsafeUnwrap();
    expect(await listAll(deep2)).toMatchObject({ blobs: ['A.b-c_d'], dirs: [] });
  });

  it('separates stores with different prefixes and refuses a bad prefix', async () => {
    const adapter = dummyStorageAdapter();
    const a = (await automergeBlobStore(adapter, { prefix: 'peer-a' }).getRootDir())._unsafeUnwrap();
    const b = (await automergeBlobStore(adapter, { prefix: 'peer-b' }).getRootDir())._unsafeUnwrap();
    (await a.writeBlob('x', Uint8Array.from([1])))._unsafeUnwrap();
    expect(failure(await b.readBlob('x'), 'not-found')).toMatch(/no blob/);
    expect(failure(await automergeBlobStore(adapter, { prefix: 'a.b' }).getRootDir())).toMatch(/prefix/);
  });

  it('turns adapter failures into storage errors', async () => {
    const broken = dummyStorageAdapter();
    broken.save = () => Promise.reject(new Error('disk on fire'));
    const root = (await automergeBlobStore(broken).getRootDir())._unsafeUnwrap();
    expect(failure(await root.writeBlob('x', Uint8Array.from([1])))).toMatch(/disk on fire/);
  });
});
