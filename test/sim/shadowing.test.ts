/**
 * Pending local changes shadow incoming ones (Figma's rule), observed in a simulation.
 */
import { describe, expect, it } from 'vitest';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

describe('shadowing under a partition', () => {
  it('shows our pending value over a newer remote one, then the LWW winner once acknowledged', async () => {
    const net = new SimNetwork({ seed: 5, drop: 0.05 });
    // Two acknowledgements needed: with C cut off, A's write stays pending even though B stores it.
    const init = { ackQuorum: 2 };
    const a = await simPeer(net, 'list', init);
    const b = await simPeer(net, 'list', init);
    const c = await simPeer(net, 'list', init);
    type Item = { title: string };
    const list = (p: typeof a) => p.space.collection<Item>('items');
    unwrap(await list(a).create({ title: 'milk' }, 'x'));
    expect(await net.runUntilQuiet()).toBe(true);
    expect(list(c).get('x')?.title).toBe('milk');

    net.partition([[a.peer.id, b.peer.id], [c.peer.id]]);
    unwrap(await list(a).update('x', 'title', 'oat milk'));
    await net.advance(2_000);
    expect(a.space.status().pending).toBe(1);
    unwrap(await list(b).update('x', 'title', 'soy milk')); // later stamp: the LWW winner
    await net.advance(2_000);

    // A holds B's newer fact (same registers, same hash as B) but still shows its own pending value.
    expect(a.space.stateHash()).toBe(b.space.stateHash());
    expect(a.space.status().pending).toBe(1);
    expect(list(a).get('x')?.title).toBe('oat milk');
    expect(list(b).get('x')?.title).toBe('soy milk');
    expect(list(c).get('x')?.title).toBe('milk');

    net.heal();
    expect(await net.runUntilQuiet()).toBe(true);
    for (const p of [a, b, c]) {
      expect(p.space.status().pending).toBe(0);
      expect(list(p).get('x')?.title).toBe('soy milk');
      expect(p.space.stateHash()).toBe(a.space.stateHash());
    }
  });

  it('notifies the author when acknowledgement reveals the winner', async () => {
    const net = new SimNetwork({ seed: 6 });
    const init = { ackQuorum: 2 };
    const a = await simPeer(net, 'list', init);
    const b = await simPeer(net, 'list', init);
    const c = await simPeer(net, 'list', init);
    unwrap(await a.space.collection('items').create({ v: 1 }, 'x'));
    await net.runUntilQuiet();
    net.partition([[a.peer.id, b.peer.id], [c.peer.id]]);
    unwrap(await a.space.collection('items').update('x', 'v', 2));
    await net.advance(1_000);
    unwrap(await b.space.collection('items').update('x', 'v', 3));
    await net.advance(1_000);
    const sources: string[] = [];
    a.space.subscribe((e) => {
      for (const change of e.changes)
        if (change.id === 'x') sources.push(`${e.source}:${JSON.stringify(change.value?.v)}`);
    });
    net.heal();
    await net.runUntilQuiet();
    expect(sources).toContain('ack:3');
  });
});
