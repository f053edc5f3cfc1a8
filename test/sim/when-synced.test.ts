/**
 * `space.whenSynced`: it resolves exactly when "my writes are on the other side and I hold what
 * they hold" — never during a partition, as soon as the network heals — and ends with a typed
 * `timeout` or `closed` error otherwise.
 */
import { ResultAsync, type Result } from 'neverthrow';
import { describe, expect, it } from 'vitest';
import { memoryStorage, type Storage, type SyncWaitError } from '../../engine/index.js';
import { SimNetwork, type SimNetworkInit } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

type Item = { title: string };

/** Watch a wait: `settled()` says whether it ended yet. */
function watch<T>(wait: ResultAsync<T, SyncWaitError>) {
  let settled = false;
  const result: Promise<Result<T, SyncWaitError>> = Promise.resolve(wait).then((r) => {
    settled = true;
    return r;
  });
  return { result, settled: () => settled };
}

/** Two peers on a new network, linked and in sync (named: right after creation nobody is linked yet). */
async function pair(init: SimNetworkInit) {
  const net = SimNetwork.create(init)._unsafeUnwrap();
  const a = await simPeer(net);
  const b = await simPeer(net);
  unwrap(await net.until(a.space.whenSynced({ peers: [b.peer.id] })));
  expect(a.space.status().peers).toEqual([b.peer.id]);
  return { net, a, b };
}

describe('space.whenSynced on a SimNetwork', () => {
  it('does not resolve during a partition, and resolves when it heals with every write on both sides', async () => {
    const { net, a, b } = await pair({ seed: 11 });

    net.partition([[a.peer.id], [b.peer.id]]);
    const mine = unwrap(await a.space.collection<Item>('items').create({ title: 'milk' }));
    const theirs = unwrap(await b.space.collection<Item>('items').create({ title: 'eggs' }));
    // What each sees at the moment its wait resolves.
    const seen = (p: typeof a) => () => ({
      items: p.space.collection<Item>('items').all().length,
      pending: p.space.status().pending,
    });
    const fromA = watch(a.space.whenSynced().map(seen(a)));
    const fromB = watch(b.space.whenSynced({ peers: [a.peer.id] }).map(seen(b)));
    await net.advance(60_000);
    expect([fromA.settled(), fromB.settled()]).toEqual([false, false]);
    expect(a.space.status().pending).toBe(1);

    net.heal();
    const results = await net.until(Promise.all([fromA.result, fromB.result]));
    expect(results.map((r) => r.isOk() && r.value)).toEqual([
      { items: 2, pending: 0 },
      { items: 2, pending: 0 },
    ]);
    // At the moment they resolve: everything on both sides, our writes acknowledged.
    for (const p of [a, b]) {
      expect(p.space.collection<Item>('items').get(mine)?.title).toBe('milk');
      expect(p.space.collection<Item>('items').get(theirs)?.title).toBe('eggs');
      expect(p.space.status().pending).toBe(0);
    }
    expect(a.space.stateHash()).toBe(b.space.stateHash());
  });

  it('waits until the acknowledged writes are released from pending, however slowly that is stored', async () => {
    const net = SimNetwork.create({ seed: 17 })._unsafeUnwrap();
    // Persisting the acknowledged counter takes 500 ms of virtual time (a slow disk).
    const inner = memoryStorage();
    const slow: Storage = {
      ...inner,
      setMeta: (key, value) =>
        key.endsWith('/acked')
          ? new ResultAsync(
              new Promise((resolve) => net.env.setTimer(500, () => void inner.setMeta(key, value).then(resolve))),
            )
          : inner.setMeta(key, value),
    };
    const a = await simPeer(net, 'space', { storage: slow });
    const b = await simPeer(net);
    unwrap(await net.until(a.space.whenSynced({ peers: [b.peer.id] })));
    unwrap(await a.space.collection<Item>('items').create({ title: 'rice' }));
    const pending = a.space.whenSynced().map(() => a.space.status().pending);
    expect(unwrap(await net.until(pending))).toBe(0);
  });

  it('waits for a write that is not yet durable when it is called', async () => {
    const { net, a, b } = await pair({ seed: 12 });
    // Not awaited: the write is queued for the log when whenSynced is called.
    const written = a.space.collection<Item>('items').create({ title: 'bread' }, 'bread');
    const synced = await net.until(a.space.whenSynced());
    expect(synced.isOk()).toBe(true);
    expect(unwrap(await written)).toBe('bread');
    expect(b.space.collection<Item>('items').get('bread')?.title).toBe('bread');
  });

  it('"I have what they have": once the remote announced facts, resolves only when we hold them', async () => {
    const net = SimNetwork.create({ seed: 13, mesh: false })._unsafeUnwrap();
    const a = await simPeer(net);
    const b = await simPeer(net);
    for (let i = 0; i < 50; i++) unwrap(await b.space.collection<Item>('items').create({ title: `b${i}` }));
    net.linkUp(a.peer.id, b.peer.id);
    // b's hello announces 50 facts well before the facts are all here: the wait must outlast them.
    const held = a.space.whenSynced({ peers: [b.peer.id] }).map(() => a.space.collection('items').all().length);
    expect(unwrap(await net.until(held))).toBe(50);
  });

  it('waits for a named peer that is not linked yet, and resolves at once when nobody is linked', async () => {
    const net = SimNetwork.create({ seed: 14, mesh: false })._unsafeUnwrap();
    const a = await simPeer(net);
    const b = await simPeer(net);
    unwrap(await a.space.collection<Item>('items').create({ title: 'tea' }, 'tea'));
    // Nobody linked, nobody named: in sync with nobody.
    expect((await a.space.whenSynced()).isOk()).toBe(true);

    const named = watch(a.space.whenSynced({ peers: [b.peer.id, a.peer.id] }));
    await net.advance(10_000);
    expect(named.settled()).toBe(false);
    net.linkUp(a.peer.id, b.peer.id);
    expect((await net.until(named.result)).isOk()).toBe(true);
    expect(b.space.collection<Item>('items').get('tea')?.title).toBe('tea');
  });

  it('by default leaves out a linked peer that does not have the space open; a named one is waited for', async () => {
    const net = SimNetwork.create({ seed: 18 })._unsafeUnwrap();
    const a = await simPeer(net, 'shared');
    const b = await simPeer(net, 'shared');
    const other = unwrap(await a.peer.space('only-on-a'));
    unwrap(await net.until(a.space.whenSynced({ peers: [b.peer.id] })));
    unwrap(await other.collection<Item>('items').create({ title: 'mine alone' }));
    // b is linked but says it does not have 'only-on-a' open: nothing to wait for.
    expect((await net.until(other.whenSynced({ timeout: 30_000 }))).isOk()).toBe(true);
    const named = await net.until(other.whenSynced({ peers: [b.peer.id], timeout: 30_000 }));
    expect(named.isErr() && named.error.type).toBe('timeout');
    // Once b opens it, the named wait resolves.
    const waiting = watch(other.whenSynced({ peers: [b.peer.id] }));
    unwrap(await b.peer.space('only-on-a'));
    expect((await net.until(waiting.result)).isOk()).toBe(true);
  });

  it('ends with a typed timeout naming the peers not in sync', async () => {
    const { net, a, b } = await pair({ seed: 15 });
    net.partition([[a.peer.id], [b.peer.id]]);
    unwrap(await a.space.collection<Item>('items').create({ title: 'jam' }));
    const started = net.stats().elapsed;
    const result = await net.until(a.space.whenSynced({ timeout: 5_000 }));
    expect(result.isErr() && result.error.type).toBe('timeout');
    expect(result.isErr() && result.error.message).toContain(b.peer.id);
    expect(net.stats().elapsed - started).toBe(5_000);
  });

  it('ends with closed when the peer closes or crashes while waiting, and refuses bad options', async () => {
    const { net, a, b } = await pair({ seed: 16 });
    net.partition([[a.peer.id], [b.peer.id]]);
    unwrap(await a.space.collection<Item>('items').create({ title: 'oil' }));
    unwrap(await b.space.collection<Item>('items').create({ title: 'salt' }));

    const closing = watch(a.space.whenSynced());
    await net.advance(1_000);
    await a.peer.close();
    const closed = await closing.result;
    expect(closed.isErr() && closed.error.type).toBe('closed');
    expect((await a.space.whenSynced()).isErr()).toBe(true);

    const crashing = watch(b.space.whenSynced({ peers: [a.peer.id] }));
    net.crash(b.peer.id);
    const crashed = await crashing.result;
    expect(crashed.isErr() && crashed.error.type).toBe('closed');

    const c = await simPeer(net);
    for (const timeout of [-1, Number.NaN, '10' as unknown as number]) {
      const bad = await c.space.whenSynced({ timeout });
      expect(bad.isErr() && bad.error.type).toBe('invalid-input');
    }
    const badPeers = await c.space.whenSynced({ peers: 'everyone' as unknown as string[] });
    expect(badPeers.isErr() && badPeers.error.type).toBe('invalid-input');
  });
});
