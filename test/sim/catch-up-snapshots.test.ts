/**
 * A peer that catches up (a remote it syncs with holds facts it lacks) does not build snapshots
 * while the facts pour in: each would be stale at once and costs O(items), and it would attest
 * each. It builds one once the catch-up ends, covering everything — the same cut as the source's,
 * so the same root. The wait is bounded (SNAPSHOT_CATCH_UP_FACTOR intervals, MAX_SNAPSHOT_DEFER_MS),
 * because what a remote holds is its claim; and the log is never pruned before a snapshot covers
 * it, so a crash in the middle loses nothing.
 */
import { describe, expect, it } from 'vitest';
import { MAX_SNAPSHOT_DEFER_MS } from '../../engine/limits.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { restart, simPeer, unwrap, type SimPeer } from '../support/peers.js';

const SPACE = 'catch-up';
const OPTIONS = { snapshotEvery: 100 };
const FACTS = 3000;
/** ~5 KiB a fact: a catch-up takes several windows of bytes in flight, and many durable batches. */
const TEXT = 'lorem ipsum dolor sit amet '.repeat(200);

/** A source holding FACTS facts (in signed runs of 10) and a snapshot of all of them. */
async function source(net: SimNetwork): Promise<SimPeer> {
  const p = await simPeer(net, SPACE, OPTIONS);
  const items = p.space.collection<{ text: string; n: number }>('items');
  for (let i = 0; i < FACTS; i += 10) {
    const writes = [];
    for (let k = i; k < i + 10; k++) writes.push(items.create({ text: `${k} ${TEXT}`, n: k }, `i${k}`));
    for (const written of await net.until(Promise.all(writes))) unwrap(written);
  }
  unwrap(await net.until(p.space.snapshot()));
  return p;
}

/** Run `net` in small steps until `done`, calling `each` after every step. */
async function stepUntil(net: SimNetwork, done: () => boolean, each: () => void = () => {}): Promise<void> {
  for (let steps = 0; !done(); steps++) {
    if (steps > 100_000) throw new Error('gave up stepping');
    await net.advance(5);
    each();
  }
}

const held = (p: SimPeer, origin: string): number => p.space.status().vector[origin] ?? 0;

describe('snapshots of a peer that catches up', () => {
  it('wait for the catch-up to end: one snapshot, covering everything, the same root as the source', async () => {
    const net = new SimNetwork({ seed: 1501 });
    const a = await source(net);
    const rootA = a.space.status().snapshot!.blobId;
    const fresh = await simPeer(net, SPACE, OPTIONS);
    const seen = new Set<string>();
    const record = () => {
      const blobId = fresh.space.status().snapshot?.blobId;
      if (blobId !== undefined) seen.add(blobId);
    };
    let midway = 0;
    await stepUntil(
      net,
      () => held(fresh, a.peer.id) >= FACTS,
      () => {
        const n = held(fresh, a.peer.id);
        if (n > 0 && n < FACTS) midway++;
        record();
      },
    );
    // The catch-up went through many durable batches (each of which could have started a snapshot)…
    expect(midway).toBeGreaterThan(5);
    expect(await net.runUntilQuiet()).toBe(true);
    record();
    // …but the only snapshot the newcomer made is the one of everything, which the source made too.
    expect([...seen]).toEqual([rootA]);
    expect(fresh.space.stateHash()).toBe(a.space.stateHash());
    expect(fresh.space.status().faults).toEqual([]);
  }, 120_000);

  it('a crash in the middle of a catch-up loses nothing; after the restart the catch-up ends with the snapshot', async () => {
    const net = new SimNetwork({ seed: 1502 });
    const a = await source(net);
    const rootA = a.space.status().snapshot!.blobId;
    const fresh = await simPeer(net, SPACE, OPTIONS);
    // Past several snapshot intervals (a snapshot would have been due), not done.
    await stepUntil(net, () => held(fresh, a.peer.id) >= FACTS / 2);
    const durable = held(fresh, a.peer.id);
    expect(durable).toBeLessThan(FACTS);
    expect(fresh.space.status().snapshot).toBeUndefined();
    net.crash(fresh.peer.id);
    const again = await restart(net, fresh, SPACE, OPTIONS);
    expect(held(again, a.peer.id)).toBeGreaterThanOrEqual(durable);
    expect(again.space.status().logStart).toBe(0);
    expect(await net.runUntilQuiet()).toBe(true);
    expect(held(again, a.peer.id)).toBe(FACTS);
    expect(again.space.stateHash()).toBe(a.space.stateHash());
    expect(again.space.status().snapshot?.blobId).toBe(rootA);
    expect(again.space.collection('items').all()).toHaveLength(FACTS);
  }, 120_000);

  it('a remote that stops sending what it claims holds snapshots back for MAX_SNAPSHOT_DEFER_MS at most', async () => {
    const net = new SimNetwork({ seed: 1503 });
    const a = await source(net);
    const fresh = await simPeer(net, SPACE, OPTIONS);
    await stepUntil(net, () => held(fresh, a.peer.id) >= FACTS / 3);
    // Silence without a peer-down: the session still says the source holds more than we do.
    net.partition([[a.peer.id], [fresh.peer.id]]);
    await net.advance(MAX_SNAPSHOT_DEFER_MS / 2);
    expect(fresh.space.status().snapshot).toBeUndefined();
    await net.advance(MAX_SNAPSHOT_DEFER_MS);
    const snapshot = fresh.space.status().snapshot;
    expect(snapshot).toBeDefined();
    expect(snapshot!.sequenceId).toBeGreaterThanOrEqual(FACTS / 3 - 1);
    net.heal();
    expect(await net.runUntilQuiet()).toBe(true);
    expect(fresh.space.stateHash()).toBe(a.space.stateHash());
  }, 120_000);
});
