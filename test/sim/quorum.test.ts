/**
 * Acknowledgements that travel by gossip: in a line A–B–C with ackQuorum 2, C is not linked to A
 * but its acknowledgement reaches A through B.
 */
import { expect, it } from 'vitest';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

it('a quorum of two in a line A–B–C is reached through gossip', async () => {
  const net = new SimNetwork({ seed: 31, mesh: false });
  const init = { ackQuorum: 2 };
  const a = await simPeer(net, 'q', init);
  const b = await simPeer(net, 'q', init);
  const c = await simPeer(net, 'q', init);
  net.linkUp(a.peer.id, b.peer.id);
  net.linkUp(b.peer.id, c.peer.id);
  unwrap(await a.space.collection('items').create({ v: 1 }, 'x'));
  expect(await net.runUntilQuiet()).toBe(true);
  expect(c.space.collection('items').get('x')).toEqual({ id: 'x', v: 1 });
  expect(a.space.status().pending).toBe(0);
  expect(c.space.status().peers).toEqual([b.peer.id]);
});
