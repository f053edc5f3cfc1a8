/**
 * A peer that pruned its log behind an attested snapshot keeps offering that snapshot after it made
 * newer ones nobody could attest yet: the facts it pruned are only in there, and a peer that lacks
 * them can attest nothing newer until it has them. Campaign seed 985: the only peer that held (and
 * attested) a writer's first facts left for good, the writer's later snapshots stayed unattested,
 * and its first 70 writes never reached anyone else again.
 */
import { describe, expect, it } from 'vitest';
import { createPeer, memoryStorage } from '../../engine/index.js';
import { SimNetwork, type SimClock } from '../../transports/memory/index.js';
import { simPeer, unwrap, type SimPeer } from '../support/peers.js';

type Item = { v: number };
const items = (p: SimPeer) => p.space.collection<Item>('items');
const options = { snapshotEvery: 20, pruneWindow: 3_000 };
const HOUR = 3_600_000;

/** A peer whose clock can be set later (as NTP would). */
async function skewedPeer(net: SimNetwork, clock: SimClock): Promise<SimPeer & { setClock(c: SimClock): void }> {
  const storage = memoryStorage();
  const node = net.node({ clock });
  const peer = unwrap(await createPeer({ ...options, storage, ...node }));
  const space = unwrap(await peer.space('s'));
  return { peer, space, storage, setClock: node.setClock };
}

/** Same facts, same state, every item there, nothing pending. */
function expectConverged(peers: readonly SimPeer[], count: number): void {
  const [first, ...rest] = peers;
  for (const p of rest) {
    expect(p.space.status().vector).toEqual(first!.space.status().vector);
    expect(p.space.stateHash()).toBe(first!.space.stateHash());
  }
  for (const p of peers) {
    expect(items(p).all()).toHaveLength(count);
    expect(p.space.status().pending).toBe(0);
  }
}

/**
 * A writes 30 items; B attests A's snapshot and holds all it covers, so A prunes behind it; B leaves
 * for good; A writes 50 more and snapshots on, and nobody can attest those.
 */
async function prunedThenAttesterLeft(seed: number): Promise<{ net: SimNetwork; a: SimPeer }> {
  const net = new SimNetwork({ seed });
  const a = await simPeer(net, 's', options);
  const b = await simPeer(net, 's', options);
  for (let i = 0; i < 30; i++) unwrap(await items(a).create({ v: i }, `a${i}`));
  expect(await net.runUntilQuiet()).toBe(true);
  await net.advance(10_000);
  const attested = a.space.status().snapshot;
  expect(attested).toBeDefined();
  expect(a.space.status().logStart).toBeGreaterThan(0);
  net.crash(b.peer.id);
  for (let i = 30; i < 80; i++) unwrap(await items(a).create({ v: i }, `a${i}`));
  await net.advance(10_000);
  expect(a.space.status().snapshot?.blobId).not.toBe(attested!.blobId);
  return { net, a };
}

describe('superseded snapshots', () => {
  it('a newcomer catches up on facts the writer pruned behind a snapshot its only attester left with', async () => {
    const { net, a } = await prunedThenAttesterLeft(985);
    const c = await simPeer(net, 's', options);
    expect(await net.runUntilQuiet()).toBe(true);
    expectConverged([a, c], 80);
  });

  it('the snapshot stays offered across a restart of the writer', async () => {
    const { net, a } = await prunedThenAttesterLeft(986);

    net.crash(a.peer.id);
    const a2 = await simPeer(net, 's', { ...options, storage: a.storage });
    const c = await simPeer(net, 's', options);
    expect(await net.runUntilQuiet()).toBe(true);
    expectConverged([a2, c], 80);
  });

  it('an hour-fast writer whose facts the others refused converges once its clock is set right (seed 985)', async () => {
    const net = new SimNetwork({ seed: 987 });
    // A and B run an hour fast: B takes A's facts, C (on time) refuses them for clock drift.
    const a = await skewedPeer(net, { offset: HOUR });
    const b = await skewedPeer(net, { offset: HOUR });
    const c = await simPeer(net, 's', options);
    for (let i = 0; i < 30; i++) unwrap(await items(a).create({ v: i }, `a${i}`));
    unwrap(await items(c).create({ v: -1 }, 'c0'));
    // Nobody writes for longer than the prune window: C, silent, is not waited for.
    await net.advance(10_000);
    expect(a.space.status().logStart).toBeGreaterThan(0);
    expect(items(c).get('a0')).toBeUndefined();

    net.crash(b.peer.id);
    for (let i = 30; i < 80; i++) unwrap(await items(a).create({ v: i }, `a${i}`));
    await net.advance(10_000);
    // The clock is set right; its facts stay stamped an hour ahead, and are taken once that hour passed.
    a.setClock({});
    expect(await net.runUntilQuiet({ maxTime: 2 * HOUR })).toBe(true);
    expectConverged([a, c], 81);
  });
});
