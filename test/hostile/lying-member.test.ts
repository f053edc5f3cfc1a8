/**
 * A member with a valid key that lies with its own signature: it forks its own chain and hands
 * each honest peer a different branch. The honest peers relay what they hold to each other; a
 * relayed branch that does not link to the receiver's is the origin's equivocation (its signature
 * vouches for the prev that differs), never the relay's fault.
 */
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../engine/sync/messages.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { hostile, signedRun, type Hostile } from '../support/attacker.js';
import { simPeer, unwrap, type SimPeer } from '../support/peers.js';

const SPACE = 'l';
const items = (p: SimPeer) => p.space.collection<{ v: number }>('items');

function hello(attacker: Hostile, to: SimPeer): void {
  attacker.send(to.peer.id, {
    type: 'hello',
    space: SPACE,
    version: PROTOCOL_VERSION,
    reply: true,
    vector: new Map(),
    more: false,
  });
}

describe('a member that forks its own chain', () => {
  it('each honest peer holds a branch; relaying the other branch strikes no honest peer', async () => {
    const net = new SimNetwork({ seed: 401 });
    const p = await simPeer(net, SPACE);
    const q = await simPeer(net, SPACE);
    const liar = await hostile(net, 81);
    hello(liar, p);
    hello(liar, q);
    await net.advance(1_000);
    const now = net.env.now();
    const who = liar.identity;
    const r1 = await signedRun(SPACE, who, 1, null, [{ item: 'one', hlc: { wall: now, logical: 0 } }]);
    for (const to of [p, q]) liar.send(to.peer.id, { type: 'facts', space: SPACE, runs: [r1] });
    await net.advance(1_000);
    // Counter 2: one branch to p, another to q, at the same moment.
    const a2 = await signedRun(SPACE, who, 2, r1.hash, [
      { item: 'two', data: { v: 1 }, hlc: { wall: now, logical: 1 } },
    ]);
    const b2 = await signedRun(SPACE, who, 2, r1.hash, [
      { item: 'two', data: { v: 2 }, hlc: { wall: now, logical: 1 } },
    ]);
    liar.send(p.peer.id, { type: 'facts', space: SPACE, runs: [a2] });
    liar.send(q.peer.id, { type: 'facts', space: SPACE, runs: [b2] });
    await net.advance(1_000);
    expect(items(p).get('two')).toEqual({ id: 'two', v: 1 });
    expect(items(q).get('two')).toEqual({ id: 'two', v: 2 });
    // The liar goes on along branch b, only to q: q relays each run to p.
    let prev = b2.hash;
    for (let c = 3; c < 3 + 80; c++) {
      const run = await signedRun(SPACE, who, c, prev, [{ item: `b${c}`, hlc: { wall: now + c, logical: 0 } }]);
      prev = run.hash;
      liar.send(q.peer.id, { type: 'facts', space: SPACE, runs: [run] });
      await net.advance(50);
    }
    await net.advance(5_000);
    const blamed = (x: SimPeer, y: SimPeer) =>
      x.space.status().faults.filter((f) => f.type === 'invalid-input' && f.peer === y.peer.id);
    expect(blamed(p, q)).toEqual([]);
    expect(blamed(q, p)).toEqual([]);
    // p knows the liar forked (the origin is named), and p and q still sync each other's writes.
    expect(p.space.status().faults.some((f) => f.type === 'equivocation' && f.origin === who.origin)).toBe(true);
    expect(p.space.status().peers).toContain(q.peer.id);
    unwrap(await items(p).create({ v: 10 }, 'from-p'));
    unwrap(await items(q).create({ v: 20 }, 'from-q'));
    // Each keeps offering the other its branch of the liar's chain and is refused each time, which
    // slows the link down (frames never acknowledged) but does not stop it.
    await net.advance(30_000);
    expect(items(q).get('from-p')).toEqual({ id: 'from-p', v: 10 });
    expect(items(p).get('from-q')).toEqual({ id: 'from-q', v: 20 });
    expect(p.space.status().pending).toBe(0);
    expect(q.space.status().pending).toBe(0);
  }, 60_000);
});
