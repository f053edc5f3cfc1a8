/**
 * A full disk: writes fail with storage errors, the peer stays responsive (no retry loop), and
 * everything works again once there is room.
 */
import { expect, it } from 'vitest';
import { memoryStorage } from '../../engine/index.js';
import { faultyStorage } from '../../testing/index.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

it('a peer whose disk fills up keeps running and recovers when room comes back', async () => {
  // Learn what opening a peer writes (identity, the space's log, its blob directories) on a disk
  // without faults; then give the real disk room for exactly that plus the first create. From then
  // on the disk is full: saving the acknowledged counter fails, and so do writes.
  const probe = faultyStorage(memoryStorage());
  await simPeer(new SimNetwork({ seed: 51 }), 's', { storage: probe });
  const openWrites = probe.writes;
  expect(openWrites).toBeGreaterThan(0);
  const net = new SimNetwork({ seed: 51 });
  const disk = faultyStorage(memoryStorage(), { failAfterWrites: openWrites + 1, mode: 'error' });
  const a = await simPeer(net, 's', { storage: disk });
  expect(disk.writes).toBe(openWrites);
  const b = await simPeer(net, 's');
  unwrap(await a.space.collection('items').create({ v: 1 }, 'x'));
  const failed = await a.space.collection('items').create({ v: 3 }, 'z');
  expect(failed.isErr() && failed.error.type).toBe('storage');
  unwrap(await b.space.collection('items').create({ v: 2 }, 'y'));
  // Must return: failures are retried on timers, never in a loop.
  await net.advance(30_000);
  expect(disk.writes).toBeLessThan(100);
  disk.heal();
  unwrap(await a.space.collection('items').create({ v: 3 }, 'z'));
  expect(await net.runUntilQuiet()).toBe(true);
  expect(a.space.stateHash()).toBe(b.space.stateHash());
  expect(a.space.status().pending).toBe(0);
  expect(a.space.collection('items').all()).toHaveLength(3);
});
