/**
 * Snapshots: registers with stamps and tombstones in chunked, signed, content-addressed blobs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createPeer,
  inProcessWorkers,
  memoryBlobStore,
  memoryStorage,
  threadWorkers,
  type Space,
  type Workers,
} from '../../engine/index.js';
import type { Fact, FactType, JsonObject, PeerId } from '../../engine/facts/types.js';
import { encodeEntry } from '../../engine/log/entry-codec.js';
import { ChunkWriter, decodeChunk, decodeRoot, sortedItems } from '../../engine/snapshot/format.js';
import { SnapshotJobCore, YIELD_EVERY } from '../../engine/snapshot/workers.js';
import { LwwState } from '../../engine/state/lww.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { unwrap } from '../support/peers.js';

const ORIGINS = ['12D3KooWAAA', '12D3KooWBBB', '12D3KooWCCC'] as PeerId[];
const HASH = new Uint8Array(32);

const factsArb = fc
  .array(
    fc.record({
      origin: fc.constantFrom(...ORIGINS),
      wall: fc.integer({ min: 0, max: 12 }),
      type: fc.constantFrom<FactType>('create', 'update', 'update', 'delete'),
      item: fc.constantFrom('i1', 'i2', 'i3', 'i4'),
      field: fc.constantFrom('f1', 'f2'),
      value: fc.oneof(
        fc.integer(),
        fc.string({ maxLength: 3 }),
        fc.constant(null),
        fc.array(fc.boolean(), { maxLength: 2 }),
      ),
    }),
    { maxLength: 40 },
  )
  .map((specs) => {
    const counters = new Map<PeerId, number>();
    return specs.map((s): Fact => {
      const counter = (counters.get(s.origin) ?? 0) + 1;
      counters.set(s.origin, counter);
      const base = {
        origin: s.origin,
        counter,
        hlc: { wall: s.wall, logical: 0 },
        collection: 'c',
        item: s.item,
        prev: counter === 1 ? null : HASH,
        hash: HASH,
      };
      const data: JsonObject = { [s.field]: s.value };
      return s.type === 'delete' ? { ...base, type: s.type } : { ...base, type: s.type, data };
    });
  });

function roundTrip(state: LwwState): LwwState {
  const writer = new ChunkWriter();
  for (const [c, i, r] of sortedItems(state)) writer.add(c, i, r);
  const out = new LwwState();
  for (const chunk of writer.finish()) unwrap(decodeChunk(chunk.bytes, (c, i, r) => out.mergeRecord(c, i, r)));
  return out;
}

describe('snapshot + tail = full replay (property, 1,000 runs)', () => {
  it('for random fact sets and random cut points', () => {
    fc.assert(
      fc.property(factsArb, fc.nat(), (facts, at) => {
        const cut = facts.length === 0 ? 0 : at % (facts.length + 1);
        const full = new LwwState();
        for (const f of facts) full.apply(f);
        const head = new LwwState();
        for (const f of facts.slice(0, cut)) head.apply(f);
        const loaded = roundTrip(head);
        expect(loaded.hash()).toBe(head.hash());
        for (const f of facts.slice(cut)) loaded.apply(f);
        expect(loaded.hash()).toBe(full.hash());
      }),
      { numRuns: 1000 },
    );
  });

  it('through a real peer: snapshot at a random point, reopen, keep writing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.constantFrom('create', 'update', 'delete'), fc.integer({ min: 0, max: 5 }), fc.integer()),
          { minLength: 1, maxLength: 30 },
        ),
        fc.nat(),
        async (ops, at) => {
          const net = new SimNetwork({ seed: 1 });
          const storage = memoryStorage();
          const peer = unwrap(await createPeer({ storage, env: net.env }));
          const space = unwrap(await peer.space('s'));
          const cut = at % ops.length;
          const apply = async (s: Space, [kind, item, value]: (typeof ops)[number]) => {
            const items = s.collection<{ v: number }>('items');
            const id = `i${item}`;
            const r =
              kind === 'create'
                ? await items.create({ v: value }, id)
                : kind === 'update'
                  ? await items.update(id, 'v', value)
                  : await items.delete(id);
            if (r.isErr()) expect(['exists', 'not-found']).toContain(r.error.type);
          };
          for (const op of ops.slice(0, cut)) await apply(space, op);
          if (space.status().logLength > 0) unwrap(await space.snapshot());
          for (const op of ops.slice(cut)) await apply(space, op);
          const live = { hash: space.stateHash(), items: space.collection('items').all() };
          await peer.close();
          const reopened = unwrap(await unwrap(await createPeer({ storage, env: net.env })).space('s'));
          expect({ hash: reopened.stateHash(), items: reopened.collection('items').all() }).toEqual(live);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('snapshot blobs', () => {
  it('are content-addressed and deterministic: the same identity and facts give the same snapshot', async () => {
    const make = async () => {
      const net = new SimNetwork({ seed: 3 });
      const peer = unwrap(await createPeer({ storage: memoryStorage(), env: net.env }));
      const space = unwrap(await peer.space('s'));
      for (let i = 0; i < 20; i++) unwrap(await space.collection('items').create({ n: i }, `i${i}`));
      return { peer, space, blobId: unwrap(await space.snapshot()).blobId };
    };
    const a = await make();
    const b = await make();
    expect(a.blobId).toBe(b.blobId);
    expect(a.space.status().snapshot?.blobId).toBe(a.blobId);
  });

  it('split into chunks that each fit a frame', () => {
    const state = new LwwState();
    for (let i = 0; i < 3000; i++) {
      state.apply({
        origin: ORIGINS[0]!,
        counter: i + 1,
        hlc: { wall: i, logical: 0 },
        type: 'create',
        collection: 'c',
        item: `i${i}`,
        data: { text: 'x'.repeat(200) },
        prev: null,
        hash: HASH,
      });
    }
    const writer = new ChunkWriter();
    for (const [c, i, r] of sortedItems(state)) writer.add(c, i, r);
    const chunks = writer.finish();
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(chunk.bytes.length).toBeLessThan(1 << 20);
  });

  it('are the same whether built in-process or on a worker thread', async () => {
    const build = async (workers: (net: SimNetwork) => Workers) => {
      const net = new SimNetwork({ seed: 4 });
      const peer = unwrap(await createPeer({ storage: memoryStorage(), env: net.env, workers: workers(net) }));
      const space = unwrap(await peer.space('s'));
      for (let i = 0; i < 3000; i++) void space.collection('items').create({ n: i }, `i${i}`);
      unwrap(await space.collection('items').create({ n: -1 }, 'last'));
      // The in-process job yields on (virtual) timers: run the network while it works.
      const id = unwrap(await net.until(space.snapshot())).blobId;
      await peer.close();
      return id;
    };
    expect(await build(() => threadWorkers())).toBe(await build((net) => inProcessWorkers(net.env)));
  });

  it('an in-process job pauses after every YIELD_EVERY operations, in every phase', async () => {
    // Not a timing test: it counts pauses against operations (registers merged, entries applied,
    // items written), which is what bounds how long the job holds the event loop at a stretch.
    const items = 5000;
    const state = new LwwState();
    const entries: Uint8Array[] = [];
    for (let i = 0; i < items; i++) {
      const f: Fact = {
        origin: ORIGINS[0]!,
        counter: i + 1,
        hlc: { wall: i, logical: 0 },
        type: 'create',
        collection: 'c',
        item: `i${i}`,
        data: { n: i },
        prev: i === 0 ? null : HASH,
        hash: HASH,
      };
      state.apply(f);
      entries.push(encodeEntry(f));
    }
    const chunks = new ChunkWriter();
    for (const [c, i, r] of sortedItems(state)) chunks.add(c, i, r);
    const pausesAfter: number[] = [];
    const job = new SnapshotJobCore(() => {
      pausesAfter.push(pausesAfter.length);
      return Promise.resolve();
    });
    for (const chunk of chunks.finish()) await job.addChunk(chunk.bytes);
    const afterChunks = pausesAfter.length;
    await job.addEntries(entries);
    const afterEntries = pausesAfter.length;
    const built = await job.finish();
    expect(built.items).toBe(items);
    // 5,000 merges, then 5,000 applies, then 5,000 writes: a pause at every multiple of YIELD_EVERY.
    expect(afterChunks).toBe(Math.floor(items / YIELD_EVERY));
    expect(afterEntries).toBe(Math.floor((2 * items) / YIELD_EVERY));
    expect(pausesAfter.length).toBe(Math.floor((3 * items) / YIELD_EVERY));
  });

  it('a root from another space or with a bad signature is refused', () => {
    expect(decodeRoot(new Uint8Array(10)).isErr()).toBe(true);
  });
});

describe('archive', () => {
  it('history blobs go to the archive store, snapshots stay in the storage', async () => {
    const net = new SimNetwork({ seed: 5 });
    const storage = memoryStorage();
    const archive = memoryBlobStore();
    const peer = unwrap(await createPeer({ storage, env: net.env, archive }));
    const space = unwrap(await peer.space('s'));
    for (let i = 0; i < 30; i++) unwrap(await space.collection('items').create({ n: i }, `i${i}`));
    unwrap(await space.snapshot());
    const names = async (store: typeof archive) => {
      const root = unwrap(await store.getRootDir());
      const [spaceDir] = unwrap(await root.query()).dirs;
      const dir = unwrap(await root.getDir(spaceDir!));
      const sub = async (name: string) => unwrap(await unwrap(await dir.getDir(name)).query()).blobs.length;
      return { snapshots: await sub('snapshots'), history: await sub('history') };
    };
    expect(await names(archive)).toEqual({ snapshots: 0, history: 1 });
    expect((await names(storage.blobs)).history).toBe(0);
    expect((await names(storage.blobs)).snapshots).toBeGreaterThan(0);
    expect(unwrap(await space.history('items', 'i3')).map((f) => f.type)).toEqual(['create']);
  });
});

it('chunks are canonical: the same registers make the same bytes whatever order their fields were set in', () => {
  const stamp = (counter: number) => ({ wall: 1_700_000_000_000 + counter, logical: 0, origin: 'o' as never, counter });
  const record = (order: string[]) => ({
    exists: { value: true, stamp: stamp(1) },
    reset: stamp(1),
    fields: new Map(order.map((f, i) => [f, { value: f, stamp: stamp(2 + 'abc'.indexOf(f) + i * 0) }])),
  });
  const bytes = (order: string[]) => {
    const writer = new ChunkWriter();
    writer.add('items', 'x', record(order));
    return writer.finish()[0]!.bytes;
  };
  expect(bytes(['a', 'b', 'c'])).toEqual(bytes(['c', 'a', 'b']));
});
