/**
 * Forwarding: peers that are not linked converge through the ones in between.
 */
import { describe, expect, it } from 'vitest';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap, type SimPeer } from '../support/peers.js';

async function writeEach(peers: SimPeer[], writes: number, prefix = 'p'): Promise<void> {
  const results = await Promise.all(
    peers.flatMap((p, i) =>
      Array.from({ length: writes }, (_, n) => p.space.collection('items').create({ by: i, n }, `${prefix}${i}-${n}`)),
    ),
  );
  for (const result of results) unwrap(result);
}

function expectConverged(peers: SimPeer[], facts: number): void {
  const hash = peers[0]!.space.stateHash();
  for (const p of peers) {
    expect(p.space.stateHash()).toBe(hash);
    expect(p.space.collection('items').all()).toHaveLength(facts);
    expect(p.space.status().pending).toBe(0);
  }
}

describe('topologies', () => {
  it('a line A–B–C–D–E converges with no link between the ends', async () => {
    const net = new SimNetwork({ seed: 11, mesh: false, drop: 0.05 });
    const peers: SimPeer[] = [];
    for (let i = 0; i < 5; i++) peers.push(await simPeer(net));
    for (let i = 0; i + 1 < peers.length; i++) net.linkUp(peers[i]!.peer.id, peers[i + 1]!.peer.id);
    await writeEach(peers, 20);
    expect(await net.runUntilQuiet()).toBe(true);
    expectConverged(peers, 100);
    // The ends never talked to each other.
    expect(peers[0]!.space.status().peers).toEqual([peers[1]!.peer.id]);
  });

  it('a star converges through its hub', async () => {
    const net = new SimNetwork({ seed: 12, mesh: false, drop: 0.05, duplicate: 0.05, reorder: 0.1 });
    const hub = await simPeer(net);
    const leaves: SimPeer[] = [];
    for (let i = 0; i < 8; i++) {
      const leaf = await simPeer(net);
      net.linkUp(hub.peer.id, leaf.peer.id);
      leaves.push(leaf);
    }
    await writeEach([hub, ...leaves], 10);
    expect(await net.runUntilQuiet()).toBe(true);
    expectConverged([hub, ...leaves], 90);
  });

  it('a peer that joins late catches up through a neighbour', async () => {
    const net = new SimNetwork({ seed: 13, mesh: false });
    const a = await simPeer(net);
    const b = await simPeer(net);
    net.linkUp(a.peer.id, b.peer.id);
    await writeEach([a, b], 50);
    await net.runUntilQuiet();
    const c = await simPeer(net);
    net.linkUp(b.peer.id, c.peer.id);
    unwrap(await c.space.collection('items').create({ by: 2, n: 0 }, 'late'));
    expect(await net.runUntilQuiet()).toBe(true);
    expectConverged([a, b, c], 101);
  });
});

describe('determinism', () => {
  async function run(seed: number) {
    const net = new SimNetwork({ seed, drop: 0.1, duplicate: 0.1, reorder: 0.2 });
    const peers: SimPeer[] = [];
    for (let i = 0; i < 6; i++) peers.push(await simPeer(net));
    await writeEach(peers, 15);
    net.partition([[peers[0]!.peer.id, peers[1]!.peer.id]]);
    await writeEach(peers.slice(0, 2), 3, 'q');
    await net.advance(500);
    net.crash(peers[2]!.peer.id);
    await net.advance(300);
    net.heal();
    await net.runUntilQuiet();
    return { trace: net.stats().trace, ids: peers.map((p) => p.peer.id), hash: peers[0]!.space.stateHash() };
  }

  it('the same seed gives the same run, message for message', async () => {
    const first = await run(99);
    const second = await run(99);
    expect(second.ids).toEqual(first.ids);
    expect(second.trace).toBe(first.trace);
    expect(second.hash).toBe(first.hash);
  });

  it('another seed gives another run', async () => {
    expect((await run(100)).trace).not.toBe((await run(99)).trace);
  });
});
