/**
 * The peer-level durability tests, on real peers (createPeer) over a SimNetwork:
 *
 * - restart continuity on SQLite and IndexedDB: same identity, counters continue, the pending set
 *   survives and is re-offered on reconnect, nothing is stored twice;
 * - crash at every write point: a scripted workload (local writes, a remote peer's writes, acks)
 *   runs on a faulty storage that kills the peer at its k-th write, for every k; the restarted peer
 *   holds every acknowledged write, its chains verify, nothing is there twice, its pending set is
 *   intact and re-offered, and both peers converge.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { createPeer, type Peer, type Space, type Storage } from '../../engine/index.js';
import type { JsonValue } from '../../engine/facts/types.js';
import { faultyStorage } from '../../engine/storage/faulty.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';
import { durableBackends, type Place } from '../support/durable-places.js';
import { tempDirs } from '../support/temp-dir.js';
import { verifiedLog } from './crash-workload.js';

const tempDir = tempDirs('shoal-peer-');
const SPACE = 'list';

const places = durableBackends(tempDir, 'peer-durability');

/** Virtual time one `quiesce` round may run before it lets real macrotasks in. */
const QUIESCE_SLICE_MS = 5_000; // ms of virtual time
/** Rounds before `quiesce` gives up (4 virtual hours of slices). */
const QUIESCE_ROUNDS = 2_880; // rounds

/**
 * Run the network until it is quiet and `done()` holds. IndexedDB (fake-indexeddb) finishes its
 * requests on real macrotasks, while `runUntilQuiet` drains only microtasks: left alone it would
 * simulate up to a virtual day of sync timers without a single IndexedDB request completing. So
 * the network runs in bounded virtual slices with a real macrotask turn between them.
 */
async function quiesce(net: SimNetwork, done: () => boolean = () => true): Promise<boolean> {
  for (let round = 0; round < QUIESCE_ROUNDS; round++) {
    const quiet = await net.runUntilQuiet({ maxTime: QUIESCE_SLICE_MS });
    if (quiet && done()) return true;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return false;
}

async function startPeer(net: SimNetwork, storage: Storage): Promise<{ peer: Peer; space: Space }> {
  const peer = unwrap(await createPeer({ storage, ...net.node() }));
  return { peer, space: unwrap(await peer.space(SPACE)) };
}

const ownFacts = async (storage: Storage, origin: string) =>
  (await verifiedLog(storage, SPACE)).entries.filter((e) => e.origin === origin);

describe.each(places.filter((p) => p.name !== 'memory'))('restart continuity: $name', ({ place }) => {
  it('keeps identity, continues counters, keeps the pending set and re-offers it once', async () => {
    const p = place();
    const net = new SimNetwork({ seed: 7 });
    const first = await startPeer(net, p.open());
    const items = first.space.collection('items');
    unwrap(await items.create({ title: 'milk' }, 'milk'));
    unwrap(await items.create({ title: 'eggs' }, 'eggs'));
    unwrap(await items.update('milk', 'title', 'oat milk'));
    expect(first.space.status().pending).toBe(3);
    await first.peer.close(); // closes the storage

    // Restart offline: same identity, same view, same pending set, next counter is 4.
    const storage = p.open();
    const second = await startPeer(net, storage);
    expect(second.peer.id).toBe(first.peer.id);
    const items2 = second.space.collection('items');
    expect(items2.get('milk')).toEqual({ id: 'milk', title: 'oat milk' });
    expect(second.space.status().pending).toBe(3);
    unwrap(await items2.delete('eggs'));
    expect(second.space.status().vector).toEqual({ [first.peer.id]: 4 });
    expect(second.space.status().pending).toBe(4);
    const before = await ownFacts(storage, second.peer.id);
    expect(before.map((e) => e.counter)).toEqual([1, 2, 3, 4]);

    // A peer comes by: the pending set is offered, acknowledged, and stored exactly once on each side.
    const other = await simPeer(net, SPACE);
    expect(await quiesce(net, () => second.space.status().pending === 0)).toBe(true);
    expect(second.space.status().pending).toBe(0);
    expect(other.space.collection('items').get('milk')).toEqual({ id: 'milk', title: 'oat milk' });
    expect(other.space.collection('items').get('eggs')).toBeUndefined();
    expect(other.space.stateHash()).toBe(second.space.stateHash());
    expect((await ownFacts(other.storage, second.peer.id)).map((e) => e.counter)).toEqual([1, 2, 3, 4]);
    expect((await ownFacts(storage, second.peer.id)).map((e) => e.counter)).toEqual([1, 2, 3, 4]);

    // And the acknowledgement itself survives a restart: nothing pending afterwards.
    await second.peer.close();
    const third = await startPeer(net, p.open());
    expect(third.space.status().pending).toBe(0);
    expect(third.space.stateHash()).toBe(other.space.stateHash());
    await third.peer.close();
  });
});

type Value = Record<string, JsonValue> | undefined;

/** One run of the scripted workload with a crash at write `k` (Infinity: none). */
async function crashRun(place: Place, k: number, landed: boolean) {
  const net = new SimNetwork({ seed: 11 });
  let victim: string | undefined;
  const faulty = faultyStorage(place.open(), {
    failAfterWrites: k,
    landed,
    onCrash: () => {
      if (victim !== undefined) net.crash(victim);
    },
  });
  const b = await simPeer(net, SPACE);
  /** Per item: the value after its last acknowledged write, and whether a later write failed. */
  const acked = new Map<string, { value: Value; uncertain: boolean }>();
  /** A's update of b1 (an item the other peer created): acknowledged, failed, or not tried. */
  let b1Update = 'untried' as 'acked' | 'failed' | 'untried';
  const expectValue = (item: string, value: Value, ok: boolean) => {
    const known = acked.get(item);
    if (ok) acked.set(item, { value, uncertain: known?.uncertain ?? false });
    else acked.set(item, { value: known?.value, uncertain: true });
  };

  const opened = await createPeer({ storage: faulty, ...net.node() });
  let a: { peer: Peer; space: Space } | undefined;
  if (opened.isOk()) {
    victim = opened.value.id;
    const space = await opened.value.space(SPACE);
    if (space.isOk()) a = { peer: opened.value, space: space.value };
  }
  const steps: (() => Promise<void>)[] = [];
  if (a !== undefined) {
    const items = a.space.collection('items');
    const create = async (id: string, value: Record<string, JsonValue>) =>
      expectValue(id, value, (await items.create(value, id)).isOk());
    const update = async (id: string, n: number) => {
      const before = acked.get(id)?.value;
      expectValue(id, { ...before, n }, (await items.update(id, 'n', n)).isOk());
    };
    const updateB1 = async () => {
      b1Update = (await items.update('b1', 'n', 101)).isOk() ? 'acked' : 'failed';
    };
    const remove = async (id: string) => expectValue(id, undefined, (await items.delete(id)).isOk());
    const bItems = b.space.collection('items');
    steps.push(
      () => create('a1', { n: 1 }),
      // Two writes in flight at once: one group commit.
      async () => void (await Promise.all([create('a2', { n: 2 }), create('a3', { n: 3 })])),
      async () => void (await quiesce(net)),
      async () => void unwrap(await bItems.create({ n: 100 }, 'b1')),
      async () => void (await quiesce(net)),
      async () =>
        void (await Promise.all([
          update('a1', 10),
          remove('a2'),
          items.get('b1') === undefined ? Promise.resolve() : updateB1(),
        ])),
      async () => void (await quiesce(net)),
      () => create('a4', { n: 4 }),
      async () => void (await net.advance(1_000)),
    );
  }
  for (const step of steps) {
    if (faulty.crashed) break;
    await step();
  }
  // However far it got, the process dies now (a crash that already happened is a no-op).
  if (victim !== undefined) net.crash(victim);
  void (await faulty.close());
  return { net, b, acked, b1Update, victim, writes: faulty.writes, trace: faulty.trace, crashed: faulty.crashed };
}

/** Restart after `crashRun` and check everything the issue asks for. */
async function restartAndCheck(
  place: Place,
  run: Awaited<ReturnType<typeof crashRun>>,
  landed: boolean,
  label: string,
) {
  const { net, b, acked, b1Update, victim } = run;
  const storage = place.open();
  const a = await startPeer(net, storage);
  if (victim !== undefined && run.writes > 1) expect(a.peer.id, `${label}: identity`).toBe(victim);
  const items = a.space.collection('items');
  for (const [item, { value, uncertain }] of acked) {
    // An item whose last write failed may show that write if it landed; otherwise the acked value.
    if (uncertain && landed) continue;
    const got = items.get(item);
    expect(got === undefined ? undefined : { ...got, id: undefined }, `${label}: ${item}`).toEqual(
      value === undefined ? undefined : { ...value, id: undefined },
    );
  }
  // Chains verify and nothing is there twice (verifiedLog checks), and pending covers every own
  // fact the other peer has not stored.
  const own = await ownFacts(storage, a.peer.id);
  const bHas = b.space.status().vector[a.peer.id] ?? 0;
  const pending = a.space.status().pending;
  expect(pending, `${label}: pending ≥ own facts b lacks`).toBeGreaterThanOrEqual(
    own.filter((e) => e.counter > bHas).length,
  );
  expect(pending, `${label}: pending ⊆ own facts`).toBeLessThanOrEqual(own.length);

  // Reconnected, the pending set is re-offered; both converge; nothing stored twice anywhere.
  expect(await quiesce(net, () => a.space.status().pending === 0), `${label}: quiet`).toBe(true);
  expect(a.space.status().pending, `${label}: pending after sync`).toBe(0);
  expect(a.space.stateHash(), `${label}: converged`).toBe(b.space.stateHash());
  expect((await ownFacts(storage, a.peer.id)).length, `${label}: no re-append`).toBe(own.length);
  const bOwn = await ownFacts(b.storage, a.peer.id);
  expect(
    bOwn.map((e) => e.counter),
    `${label}: b holds a's facts once`,
  ).toEqual(own.map((e) => e.counter));
  // The other peer's item: A's acknowledged update of it reached both; a failed one that did not land reached neither.
  const b1 = b.space.collection('items').get('b1');
  if (b1Update === 'acked') expect(b1, `${label}: b1`).toEqual({ id: 'b1', n: 101 });
  if (b1Update === 'failed' && !landed) expect(b1, `${label}: b1`).toEqual({ id: 'b1', n: 100 });
  await a.peer.close();
}

describe.each(places)('crash at every write point, peer level: $name', ({ place }) => {
  it('runs clean without a crash and survives a kill at the end', async () => {
    const p = place();
    const run = await crashRun(p, Infinity, false);
    expect(run.crashed).toBe(false);
    expect(run.writes).toBeGreaterThan(8);
    await restartAndCheck(p, run, false, 'no crash');
  });

  for (const landed of [false, true]) {
    it(`crashes at every write k (landed: ${landed}) and restarts with everything acknowledged`, async () => {
      const total = (await crashRun(place(), Infinity, false)).writes;
      for (let k = 0; k < total; k++) {
        const p = place();
        const run = await crashRun(p, k, landed);
        expect(run.crashed, `k=${k}`).toBe(true);
        await restartAndCheck(p, run, landed, `crash at write ${k + 1} (${run.trace[k]})`);
      }
    });
  }
});
