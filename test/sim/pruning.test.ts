/**
 * Safe pruning: peers truncate their logs behind snapshots once everyone active holds what the
 * snapshot covers; a peer that was away longer catches up from a snapshot, and nothing deleted or
 * overwritten comes back.
 */
import { describe, expect, it } from 'vitest';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap, type SimPeer } from '../support/peers.js';

const options = { snapshotEvery: 50, pruneWindow: 10_000 };
type Item = { title: string; qty: number };

describe('catch-up from a snapshot', () => {
  it('a peer offline past the prune point catches up; deleted stays deleted, overwritten stays overwritten, its own offline writes arrive', async () => {
    const net = new SimNetwork({ seed: 21, drop: 0.02 });
    const a = await simPeer(net, 'list', options);
    const b = await simPeer(net, 'list', options);
    const c = await simPeer(net, 'list', options);
    const list = (p: SimPeer) => p.space.collection<Item>('items');

    for (let i = 0; i < 10; i++) unwrap(await list(a).create({ title: `item ${i}`, qty: 1 }, `i${i}`));
    expect(await net.runUntilQuiet()).toBe(true);
    expect(list(c).all()).toHaveLength(10);

    // C drops off the network for longer than the prune window.
    net.partition([[a.peer.id, b.peer.id], [c.peer.id]]);
    unwrap(await list(a).delete('i0'));
    unwrap(await list(b).delete('i1'));
    unwrap(await list(a).update('i2', 'title', 'renamed by A'));
    for (let round = 0; round < 20; round++) {
      for (let k = 0; k < 10; k++)
        unwrap(await list(round % 2 === 0 ? a : b).create({ title: `new ${round}-${k}`, qty: k }, `n${round}-${k}`));
      await net.advance(1_000);
    }
    // C keeps working offline, on items it knows.
    unwrap(await list(c).update('i3', 'qty', 42));
    unwrap(await list(c).create({ title: 'written offline by C', qty: 7 }, 'c-offline'));
    await net.advance(15_000);

    // A and B snapshotted and pruned without waiting for C (silent for longer than the window).
    for (const p of [a, b]) {
      expect(p.space.status().snapshot).toBeDefined();
      expect(p.space.status().logStart).toBeGreaterThan(0);
    }
    expect(list(c).get('i0')).toBeDefined(); // C has not heard of the delete yet

    net.heal();
    expect(await net.runUntilQuiet()).toBe(true);
    for (const p of [a, b, c]) {
      expect(p.space.stateHash()).toBe(a.space.stateHash());
      expect(p.space.status().pending).toBe(0);
      expect(list(p).get('i0')).toBeUndefined();
      expect(list(p).get('i1')).toBeUndefined();
      expect(list(p).get('i2')?.title).toBe('renamed by A');
      expect(list(p).get('i3')?.qty).toBe(42);
      expect(list(p).get('c-offline')?.title).toBe('written offline by C');
      expect(list(p).all()).toHaveLength(10 - 2 + 200 + 1);
    }
    // History still has the facts that were pruned from the logs.
    const history = unwrap(await a.space.history('items', 'i0'));
    expect(history.map((f) => f.type)).toEqual(['create', 'delete']);
  });

  it('a newcomer adopts a snapshot, restarts from it and keeps syncing', async () => {
    const net = new SimNetwork({ seed: 22 });
    const a = await simPeer(net, 'list', options);
    const b = await simPeer(net, 'list', options);
    for (let i = 0; i < 120; i++) void a.space.collection<Item>('items').create({ title: `t${i}`, qty: i }, `i${i}`);
    unwrap(await a.space.collection<Item>('items').create({ title: 'last', qty: 0 }, 'last'));
    expect(await net.runUntilQuiet()).toBe(true);
    expect(a.space.status().logStart).toBeGreaterThan(0);
    const c = await simPeer(net, 'list', options);
    expect(await net.runUntilQuiet()).toBe(true);
    expect(c.space.stateHash()).toBe(a.space.stateHash());
    // C never saw the facts before A's snapshot one by one: it holds them through the snapshot.
    expect(c.space.status().logLength).toBeLessThan(121);
    net.crash(c.peer.id);
    const c2 = await simPeer(net, 'list', { ...options, storage: c.storage });
    expect(c2.space.stateHash()).toBe(a.space.stateHash());
    unwrap(await c2.space.collection<Item>('items').update('i5', 'qty', -5));
    expect(await net.runUntilQuiet()).toBe(true);
    for (const p of [a, b, c2]) expect(p.space.collection<Item>('items').get('i5')?.qty).toBe(-5);
    expect(b.space.stateHash()).toBe(c2.space.stateHash());
  });
});
