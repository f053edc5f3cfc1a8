/**
 * `space.whenSynced` over real libp2p links on 127.0.0.1: it resolves with every write on both
 * sides, times out (typed) while the other peer is gone, and resolves again once it is back.
 */
import { afterEach, expect, it } from 'vitest';
import { memoryStorage } from '../../engine/index.js';
import { unwrap } from '../support/peers.js';
import { libp2pPeer, type NetPeer } from './network-peers.js';

const running: NetPeer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.peer.close()));
});

type Item = { title: string };
const items = (p: NetPeer) => p.space.collection<Item>('items');
/** What a peer sees at the moment its wait resolves. */
const seen = (p: NetPeer) => () => ({ items: items(p).all().length, pending: p.space.status().pending });

it('two peers over libp2p: in sync with each other, then a timeout while one is away, then in sync again', async () => {
  const a = await libp2pPeer();
  running.push(a);
  // b's disk, reused when it comes back.
  const bInit = { storage: memoryStorage(), transport: { bootstrap: a.peer.addresses() } };
  let b = await libp2pPeer(bInit);
  running.push(b);

  await Promise.all([
    ...Array.from({ length: 20 }, (_, i) => items(a).create({ title: `a${i}` })),
    ...Array.from({ length: 20 }, (_, i) => items(b).create({ title: `b${i}` })),
  ]);
  const [fromA, fromB] = await Promise.all([
    a.space.whenSynced({ peers: [b.peer.id], timeout: 20_000 }).map(seen(a)),
    b.space.whenSynced({ peers: [a.peer.id], timeout: 20_000 }).map(seen(b)),
  ]);
  expect(unwrap(fromA)).toEqual({ items: 40, pending: 0 });
  expect(unwrap(fromB)).toEqual({ items: 40, pending: 0 });

  // b goes away: a's new write cannot be on b's disk.
  const id = b.peer.id;
  await b.peer.close();
  running.pop();
  unwrap(await items(a).create({ title: 'while b was away' }, 'away'));
  const away = await a.space.whenSynced({ peers: [id], timeout: 1_000 });
  expect(away.isErr() && away.error.type).toBe('timeout');

  // b is back (same identity, same disk): the same wait now resolves.
  b = await libp2pPeer(bInit);
  running.push(b);
  const back = await a.space.whenSynced({ peers: [id], timeout: 20_000 }).map(seen(a));
  expect(unwrap(back)).toEqual({ items: 41, pending: 0 });
  expect(items(b).get('away')?.title).toBe('while b was away');
});
