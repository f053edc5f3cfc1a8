/**
 * Snapshot garbage collection never takes a blob still needed: the blobs of a fetch in progress
 * (root, tip chunks and chunks) stay pinned, and a sweep keeps what is written or pinned while it
 * runs. Campaign seeds found both: a peer adopting a fetched snapshot while its own new snapshot's
 * sweep ran lost the tip chunk it was about to read, and never adopted the snapshot.
 */
import { describe, expect, it } from 'vitest';
import { memoryBlobStore } from '../../engine/blobs/memory-blobs.js';
import { TimerScope, type Env } from '../../engine/env.js';
import { BLOB_PAGE_NAMES } from '../../engine/limits.js';
import type { SnapshotCatalog } from '../../engine/snapshot/catalog.js';
import { SnapshotFetcher, type FetchDeps } from '../../engine/snapshot/fetch.js';
import { blobIdOf, encodeRoot } from '../../engine/snapshot/format.js';
import { SnapshotStore } from '../../engine/snapshot/store.js';
import type { Replica } from '../../engine/space/replica.js';
import type { PeerId } from '../../engine/facts/types.js';

const blob = (n: number) => new TextEncoder().encode(`blob ${n}`);

async function openStore(): Promise<SnapshotStore> {
  const blobs = memoryBlobStore();
  return (await SnapshotStore.open(blobs, blobs, 'space')).match(
    (store) => store,
    (e) => {
      throw new Error(e.message);
    },
  );
}

describe('snapshot garbage collection', () => {
  it('keeps blobs written or pinned while a sweep runs, over several pages', async () => {
    const store = await openStore();
    const ids: string[] = [];
    for (let i = 0; i < BLOB_PAGE_NAMES * 2 + 10; i++) ids.push((await store.putSnapshotBlob(blob(i)))._unsafeUnwrap());
    const keepFirst = ids[0]!;
    const pinnedLater = [...ids].sort().at(-1)!; // listed on the last page
    let calls = 0;
    let written = '';
    const removed = await store.collect(async () => {
      calls++;
      if (calls === 1) {
        // A fetch stores a blob and pins one more while the sweep is on its first page.
        written = (await store.putSnapshotBlob(blob(-1)))._unsafeUnwrap();
        return new Set([keepFirst]);
      }
      return new Set([keepFirst, pinnedLater]);
    });
    expect(calls).toBeGreaterThan(1);
    expect(removed._unsafeUnwrap()).toBe(ids.length - 2);
    for (const id of [keepFirst, pinnedLater, written])
      expect((await store.getSnapshotBlob(id))._unsafeUnwrap(), id).toBeDefined();
    expect((await store.getSnapshotBlob(ids[1]!))._unsafeUnwrap()).toBeUndefined();
    // The next sweep owes nothing to the last one's writes.
    expect((await store.collect(() => Promise.resolve(new Set([keepFirst]))))._unsafeUnwrap()).toBe(2);
  });

  it('pins the root, tip chunks and chunks of the fetch in progress', async () => {
    const store = await openStore();
    const timers: (() => void)[] = [];
    const env: Env = {
      now: () => 0,
      setTimer: (_ms, fn) => {
        timers.push(fn);
        return { cancel: () => {} };
      },
      randomBytes: (n) => new Uint8Array(n),
      random: () => 0,
    };
    const root = {
      space: 'space',
      origins: 1,
      tipChunks: [blobIdOf(blob(1))],
      items: 1,
      chunks: [blobIdOf(blob(2)), blobIdOf(blob(3))],
    };
    const rootBytes = encodeRoot(root);
    const rootId = blobIdOf(rootBytes);
    const sent: Uint8Array[] = [];
    const deps = {
      replica: { spaceId: 'space', origins: { resolve: () => new Map() }, counter: () => 0 } as unknown as Replica,
      catalog: {
        store,
        isBad: () => false,
        holds: () => false,
        attestations: { has: () => false, add: () => {}, count: () => 0, list: () => [] },
      } as unknown as SnapshotCatalog,
      verifier: { verify: () => Promise.resolve(true) },
      env,
      monotonic: () => 0,
      timers: new TimerScope(env),
      send: (_peer: PeerId, frame: Uint8Array) => sent.push(frame),
      adopt: () => {},
      rehello: () => {},
      quorum: 0,
      badSnapshot: () => {},
      complain: () => {},
      tell: () => {},
      stopped: () => false,
    } as unknown as FetchDeps;
    const fetcher = new SnapshotFetcher(deps);
    const peer = 'peer' as PeerId;
    fetcher.offerReceived(peer, {
      blobId: rootId,
      vector: new Map([['x', 1]]),
      attestations: [],
      history: [],
    } as never);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.length).toBe(1); // the root was asked for
    expect(fetcher.pinned()).toEqual([rootId]);
    fetcher.received(peer, rootId, rootBytes);
    await new Promise((resolve) => setImmediate(resolve));
    expect(new Set(fetcher.pinned())).toEqual(new Set([rootId, ...root.tipChunks, ...root.chunks]));
  });
});
