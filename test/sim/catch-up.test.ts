/**
 * Big catch-ups: split into frames of at most MAX_FRAME_BYTES and flow-controlled (a bounded number
 * of bytes in flight per link), so neither side holds the whole history in memory at once.
 */
import { expect, it } from 'vitest';
import { MAX_FRAME_BYTES, MAX_IN_FLIGHT_BYTES } from '../../engine/limits.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

it('a newcomer catches up on 30,000 facts in bounded frames, with bounded bytes in flight', async () => {
  const net = new SimNetwork({ seed: 41, latency: 20 });
  // No snapshots here: this is about streaming facts.
  const init = { snapshotEvery: 1_000_000 };
  const author = await simPeer(net, 'big', init);
  const items = author.space.collection<{ text: string; n: number }>('items');
  const writes = [];
  const text = 'lorem ipsum dolor sit amet '.repeat(12);
  for (let i = 0; i < 30_000; i++) writes.push(items.create({ text: `${i} ${text}`, n: i }, `i${i}`));
  for (const result of await Promise.all(writes)) unwrap(result);
  const before = net.stats();

  const newcomer = await simPeer(net, 'big', init);
  expect(await net.runUntilQuiet()).toBe(true);
  const after = net.stats();
  expect(newcomer.space.stateHash()).toBe(author.space.stateHash());
  expect(newcomer.space.collection('items').all()).toHaveLength(30_000);
  const bytes = after.bytesSent - before.bytesSent;
  const frames = after.sent - before.sent;
  expect(bytes).toBeGreaterThan(2 * MAX_IN_FLIGHT_BYTES); // more than one window's worth travelled…
  expect(after.maxInFlightBytes).toBeLessThanOrEqual(MAX_IN_FLIGHT_BYTES + MAX_FRAME_BYTES); // …but never at once
  expect(frames).toBeGreaterThan(bytes / MAX_FRAME_BYTES);
}, 120_000);
