/**
 * Lazy push (Plumtree): facts flow over a spanning tree of eager links and are only announced over
 * the others; a peer whose eager links stop bringing facts grafts a lazy one and still converges.
 */
import { describe, expect, it } from 'vitest';
import { frameType } from '../../engine/sync/codec.js';
import { runMesh } from '../../examples/simulation/mesh.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap, type SimPeer } from '../support/peers.js';

const PEERS = 24;

/** A ring with chords (degree 4), each peer writes once, the tree settles; prunes seen on the way. */
async function settledMesh(seed: number) {
  const net = new SimNetwork({ seed, mesh: false, drop: 0.02 });
  const peers: SimPeer[] = [];
  for (let i = 0; i < PEERS; i++) peers.push(await simPeer(net));
  const id = (i: number) => peers[i % PEERS]!.peer.id;
  const neighbours = new Map<string, Set<string>>(peers.map((p) => [p.peer.id, new Set()]));
  for (let i = 0; i < PEERS; i++) {
    for (const j of [i + 1, i + 7]) {
      net.linkUp(id(i), id(j));
      neighbours.get(id(i))!.add(id(j));
      neighbours.get(id(j))!.add(id(i));
    }
  }
  const lazy = new Set<string>();
  net.intercept((from, to, frame) => {
    if (frameType(frame) === 'prune') lazy.add(`${from}>${to}`).add(`${to}>${from}`);
    return true;
  });
  await writeAll(peers, 'a');
  await net.advance(30_000);
  // A peer whose tree reaches it over some links and not others.
  const target = peers.find((p) => {
    const links = [...neighbours.get(p.peer.id)!];
    const lazyLinks = links.filter((n) => lazy.has(`${n}>${p.peer.id}`)).length;
    return lazyLinks > 0 && lazyLinks < links.length;
  });
  expect(target, `seed ${seed}: some links turned lazy`).toBeDefined();
  const eager = [...neighbours.get(target!.peer.id)!].filter((n) => !lazy.has(`${n}>${target!.peer.id}`));
  return { net, peers, target: target!, eager: new Set(eager) };
}

async function writeAll(peers: readonly SimPeer[], prefix: string): Promise<void> {
  const results = await Promise.all(peers.map((p, i) => p.space.collection('items').create({ i }, `${prefix}${i}`)));
  for (const result of results) unwrap(result);
}

/**
 * Once the tree settled, frames `lost` says are lost from then on (they concern the target's eager
 * links); the others write again: the target must graft a lazy link and converge.
 */
async function expectRepair(
  seed: number,
  lost: (from: string, to: string, type: string | undefined, target: string, eager: Set<string>) => boolean,
): Promise<void> {
  const { net, peers, target, eager } = await settledMesh(seed);
  let grafted = false;
  net.intercept((from, to, frame) => {
    const type = frameType(frame);
    if (from === target.peer.id && type === 'graft') grafted = true;
    return !lost(from, to, type, target.peer.id, eager);
  });
  await writeAll(
    peers.filter((p) => p !== target),
    'b',
  );
  await net.advance(60_000);
  expectConverged(peers, 2 * PEERS - 1, seed);
  expect(grafted, `seed ${seed}`).toBe(true);
}

function expectConverged(peers: readonly SimPeer[], facts: number, seed: number): void {
  const hash = peers[0]!.space.stateHash();
  for (const p of peers) {
    expect(p.space.collection('items').all(), `seed ${seed}`).toHaveLength(facts);
    expect(p.space.stateHash(), `seed ${seed}`).toBe(hash);
  }
}

describe('lazy push', () => {
  it('a degree-4 mesh of 100 peers with 5 % loss converges with at most 8 messages per fact', async () => {
    const seed = 1;
    const result = await runMesh({ seed, peers: 100, writes: 10, degree: 4, drop: 0.05 });
    expect(result.converged, `seed ${seed}`).toBe(true);
    expect(result.stats.sent / result.facts, `seed ${seed}`).toBeLessThanOrEqual(8);
  }, 120_000);

  it('a peer whose eager parents withhold facts (but announce them) grafts a lazy link and converges', async () => {
    await expectRepair(41, (from, to, type, target, eager) => to === target && eager.has(from) && type === 'facts');
  }, 120_000);

  it('a peer whose eager links go silent grafts a lazy link and converges', async () => {
    await expectRepair(
      42,
      (from, to, _type, target, eager) => (to === target && eager.has(from)) || (from === target && eager.has(to)),
    );
  }, 120_000);
});
