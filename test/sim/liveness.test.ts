/**
 * Liveness: once peers can talk, they converge, and a quiet network means converged. Each test is a
 * fault schedule that once left peers diverged (or stalled) for good; each fails on the code before
 * the fix it names.
 */
import { describe, expect, it } from 'vitest';
import { ResultAsync } from 'neverthrow';
import { createPeer, memoryStorage, type Storage } from '../../engine/index.js';
import { decodeFrame } from '../../engine/sync/codec.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap, type SimPeer } from '../support/peers.js';

type Item = { v: number };
const items = (p: SimPeer) => p.space.collection<Item>('items');

/** Every peer holds the same facts (same vector), the same state, nothing pending. */
function expectConverged(peers: readonly SimPeer[]): void {
  const [first, ...rest] = peers;
  for (const p of rest) {
    expect(p.space.status().vector).toEqual(first!.space.status().vector);
    expect(p.space.stateHash()).toBe(first!.space.stateHash());
  }
  for (const p of peers) expect(p.space.status().pending).toBe(0);
}

const typeOf = (frame: Uint8Array) => {
  const message = decodeFrame(frame);
  return message.isOk() ? message.value.type : undefined;
};

describe('liveness', () => {
  it('peers partitioned from the start for longer than the hello retries, then healed, converge', async () => {
    const net = new SimNetwork({ seed: 101 });
    const a = await simPeer(net, 's');
    const b = await simPeer(net, 's');
    net.partition([[a.peer.id], [b.peer.id]]);
    unwrap(await items(a).create({ v: 1 }, 'a1'));
    unwrap(await items(b).create({ v: 2 }, 'b1'));
    await net.advance(120_000);
    net.heal();
    unwrap(await items(a).create({ v: 3 }, 'a2'));
    unwrap(await items(b).create({ v: 4 }, 'b2'));
    expect(await net.runUntilQuiet()).toBe(true);
    expectConverged([a, b]);
    expect(items(a).all()).toHaveLength(4);
  });

  it('a peer restarted during a partition converges after the heal', async () => {
    const net = new SimNetwork({ seed: 102 });
    const a = await simPeer(net, 's');
    const b = await simPeer(net, 's');
    unwrap(await items(a).create({ v: 1 }, 'x'));
    expect(await net.runUntilQuiet()).toBe(true);
    net.partition([[a.peer.id], [b.peer.id]]);
    net.crash(b.peer.id);
    const b2 = await simPeer(net, 's', { storage: b.storage });
    unwrap(await items(b2).create({ v: 2 }, 'y'));
    unwrap(await items(a).create({ v: 3 }, 'z'));
    await net.advance(90_000);
    net.heal();
    expect(await net.runUntilQuiet()).toBe(true);
    expectConverged([a, b2]);
  });

  it('catch-up from a snapshot survives a lost blob while the server keeps snapshotting', async () => {
    const options = { snapshotEvery: 20, pruneWindow: 5_000 };
    const net = new SimNetwork({ seed: 103 });
    const a = await simPeer(net, 's', options);
    const b = await simPeer(net, 's', options); // stays with A and acknowledges its writes
    const c = await simPeer(net, 's', options);
    unwrap(await items(a).create({ v: 0 }, 'first'));
    expect(await net.runUntilQuiet()).toBe(true);
    net.partition([[a.peer.id, b.peer.id], [c.peer.id]]);
    for (let i = 0; i < 60; i++) unwrap(await items(a).create({ v: i }, `i${i}`));
    await net.advance(20_000);
    // An event after C's window lapsed (so this does not depend on the idle re-check).
    unwrap(await items(b).create({ v: -1 }, 'from-b'));
    await net.advance(5_000);
    expect(a.space.status().logStart).toBeGreaterThan(0); // A pruned what C lacks
    // The first blob reply to C is lost; meanwhile A keeps writing, snapshotting and collecting.
    let lost = false;
    net.intercept((_from, to, frame) => {
      if (lost || to !== c.peer.id || typeOf(frame) !== 'blob') return true;
      lost = true;
      return false;
    });
    net.heal();
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 25; i++) void items(a).create({ v: i }, `r${round}-${i}`);
      await net.advance(3_000);
    }
    net.intercept(undefined);
    expect(await net.runUntilQuiet()).toBe(true);
    expect(lost).toBe(true);
    expectConverged([a, b, c]);
  });

  it('an idle peer prunes once the prune window of a departed peer lapses, with no further event', async () => {
    const options = { snapshotEvery: 10, pruneWindow: 30_000 };
    const net = new SimNetwork({ seed: 104 });
    const a = await simPeer(net, 's', options);
    const b = await simPeer(net, 's', options);
    const c = await simPeer(net, 's', options); // stays and acknowledges A's writes
    unwrap(await items(a).create({ v: 0 }, 'x0'));
    expect(await net.runUntilQuiet()).toBe(true);
    expect(c.space.status().pending).toBe(0);
    net.crash(b.peer.id); // B leaves for good, holding less than A's next snapshot
    for (let i = 1; i <= 30; i++) unwrap(await items(a).create({ v: i }, `x${i}`));
    await net.advance(5_000);
    expect(a.space.status().snapshot).toBeDefined();
    expect(a.space.status().logStart).toBe(0); // B, seen within the window, lacks it
    await net.advance(60_000); // nothing happens on A, but B's window lapses
    const status = a.space.status();
    expect(status.logStart).toBe(status.snapshot!.sequenceId);
  });

  it('a peer with a clock an hour fast holds back pruning for the prune window, not for an hour', async () => {
    const options = { snapshotEvery: 10, pruneWindow: 30_000 };
    const net = new SimNetwork({ seed: 105 });
    const a = await simPeer(net, 's', options);
    const fast = await simPeer(net, 's', options, { clock: { offset: 3_600_000 } });
    const b = await simPeer(net, 's', options);
    unwrap(await items(a).create({ v: 0 }, 'x0'));
    for (let i = 1; i <= 30; i++) unwrap(await items(a).create({ v: i }, `x${i}`));
    expect(await net.runUntilQuiet({ maxTime: 60_000 })).toBe(true);
    net.crash(fast.peer.id);
    for (let i = 31; i <= 60; i++) unwrap(await items(a).create({ v: i }, `x${i}`));
    await net.advance(3 * 30_000);
    // Something happens (so this does not depend on the idle re-check): B writes.
    unwrap(await items(b).create({ v: -1 }, 'from-b'));
    expect(await net.runUntilQuiet({ maxTime: 60_000 })).toBe(true);
    // Everyone still here holds A's latest snapshot; the fast peer left three windows ago: A's log
    // starts at that snapshot.
    const status = a.space.status();
    expect(status.snapshot).toBeDefined();
    expect(status.logStart).toBe(status.snapshot!.sequenceId);
  });
});

/** `inner`, except that saving the acknowledged counter of space `s` never completes (the process dies during it). */
function ackWriteHangs(inner: Storage): Storage {
  return {
    name: `${inner.name} (acked write hangs)`,
    blobs: inner.blobs,
    openLog: (id) => inner.openLog(id),
    getMeta: (key) => inner.getMeta(key),
    setMeta: (key, value) =>
      key === 'space/s/acked' ? new ResultAsync(new Promise<never>(() => {})) : inner.setMeta(key, value),
    deleteMeta: (key) => inner.deleteMeta(key),
    close: () => inner.close(),
  };
}

describe('acknowledgements', () => {
  it('what a peer showed before a crash it still shows after a restart (ack persisted before release)', async () => {
    const net = new SimNetwork({ seed: 106 });
    const disk = memoryStorage();
    const a = await simPeer(net, 's', { storage: ackWriteHangs(disk) });
    const b = await simPeer(net, 's');
    unwrap(await items(a).create({ v: 0 }, 'x'));
    expect(await net.runUntilQuiet()).toBe(true);
    net.partition([[a.peer.id], [b.peer.id]]);
    unwrap(await items(a).update('x', 'v', 1)); // pending on A
    await net.advance(10);
    unwrap(await items(b).update('x', 'v', 2)); // newer, from B
    net.heal();
    await net.advance(5_000); // B acknowledges A's write; A hears of B's
    const shown = items(a).get('x')?.v;
    net.crash(a.peer.id);
    net.partition([[a.peer.id], [b.peer.id]]);
    const a2 = await simPeer(net, 's', { storage: disk });
    expect(items(a2).get('x')?.v).toBe(shown);
    net.heal();
    expect(await net.runUntilQuiet()).toBe(true);
    expectConverged([a2, b]);
    expect(items(a2).get('x')?.v).toBe(2);
  });
});

describe('clock drift', () => {
  it('facts refused for drift get a typed error and are re-offered with backoff until accepted, not every few seconds', async () => {
    const net = new SimNetwork({ seed: 107 });
    const fast = await simPeer(net, 's', {}, { clock: { offset: 10 * 60_000 } }); // 10 min ahead
    const r = await simPeer(net, 's'); // accepts up to 1 min ahead: this fact in 9 min
    let offered = 0;
    let driftErrors = 0;
    net.intercept((from, to, frame) => {
      const message = decodeFrame(frame);
      if (from === fast.peer.id && to === r.peer.id && message.isOk() && message.value.type === 'facts') offered++;
      if (
        from === r.peer.id &&
        message.isOk() &&
        message.value.type === 'error' &&
        message.value.code === 'clock-drift'
      )
        driftErrors++;
      return true;
    });
    unwrap(await items(fast).create({ v: 1 }, 'from-the-future'));
    await net.advance(8 * 60_000);
    expect(items(r).get('from-the-future')).toBeUndefined();
    expect(driftErrors).toBeGreaterThan(0);
    await net.advance(4 * 60_000);
    // Accepted once it no longer is too far ahead: after a handful of offers, not one every few seconds.
    expect(items(r).get('from-the-future')).toEqual({ id: 'from-the-future', v: 1 });
    expect(offered).toBeLessThan(10);
    expect(await net.runUntilQuiet()).toBe(true);
    expectConverged([fast, r]);
  });
});

describe('a wall clock corrected backwards', () => {
  it('does not stall forwarding for as long as the clock was ahead (intervals use a monotonic clock)', async () => {
    const net = new SimNetwork({ seed: 108, mesh: false });
    const a = await simPeer(net, 's');
    const bNode = net.node({ clock: { offset: 3_600_000 } });
    const b = unwrap(await createPeer({ storage: memoryStorage(), ...bNode }));
    const bSpace = unwrap(await b.space('s'));
    const c = await simPeer(net, 's');
    // A line: A – B – C. C only hears of A's facts through B.
    net.linkUp(a.peer.id, b.id);
    net.linkUp(b.id, c.peer.id);
    net.partition([[a.peer.id, b.id], [c.peer.id]]);
    unwrap(await items(a).create({ v: 1 }, 'x'));
    await net.advance(5_000);
    expect(bSpace.collection('items').get('x')).toBeDefined();
    bNode.setClock({}); // NTP puts B's clock back an hour
    net.heal();
    await net.advance(60_000);
    expect(items(c).get('x')).toEqual({ id: 'x', v: 1 });
  });
});
