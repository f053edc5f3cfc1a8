/**
 * How a catch-up is framed: consecutive signed runs of one origin go as one run, signed by the
 * last one's signature (through the hash chain it vouches for every fact before it), so the earlier
 * signatures, hashes and prevs do not travel and the receiver checks one signature per run sent.
 */
import { expect, it } from 'vitest';
import { MAX_RUN_FACTS } from '../../engine/limits.js';
import { decodeFrame } from '../../engine/sync/codec.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

const SPACE = 'framing';

it('a newcomer gets an author that signed every 10 writes in runs of many signed runs each, and holds the same state', async () => {
  const net = new SimNetwork({ seed: 1511 });
  const init = { snapshotEvery: 1_000_000 };
  const author = await simPeer(net, SPACE, init);
  const items = author.space.collection<{ n: number }>('items');
  const facts = 2_000;
  for (let i = 0; i < facts; i += 10) {
    const writes = [];
    for (let k = i; k < i + 10; k++) writes.push(items.create({ n: k }, `i${k}`));
    for (const written of await net.until(Promise.all(writes))) unwrap(written);
  }
  await net.runUntilQuiet();
  const runs: number[] = [];
  net.intercept((from, _to, frame) => {
    if (from !== author.peer.id) return true;
    const message = decodeFrame(frame);
    if (message.isOk() && message.value.type === 'facts')
      for (const run of message.value.runs) runs.push(run.facts.length);
    return true;
  });
  const newcomer = await simPeer(net, SPACE, init);
  expect(await net.runUntilQuiet()).toBe(true);
  expect(newcomer.space.stateHash()).toBe(author.space.stateHash());
  expect(runs.reduce((a, b) => a + b, 0)).toBe(facts);
  // 200 signed runs of 10 in the author's log; on the wire a handful of long ones.
  expect(runs.length).toBeLessThan(10);
  expect(Math.max(...runs)).toBeLessThanOrEqual(MAX_RUN_FACTS);
  // The newcomer stored what it verified: it serves the same facts on to a third peer.
  await author.peer.close();
  await net.runUntilQuiet();
  const third = await simPeer(net, SPACE, init);
  expect(await net.runUntilQuiet()).toBe(true);
  expect(third.space.stateHash()).toBe(newcomer.space.stateHash());
  expect(third.space.collection('items').all()).toHaveLength(facts);
}, 120_000);
