/**
 * What carries each libp2p link (`transport.links()`), for a "peers" screen that tells direct links
 * from relayed ones; and extra libp2p services: a peer can serve circuit-relay-v2 for browsers.
 */
import { circuitRelayServer } from '@libp2p/circuit-relay-v2';
import { afterEach, describe, expect, it } from 'vitest';
import { linkKindOf } from '../../transports/libp2p/index.js';
import { eventually, libp2pPeer, type NetPeer } from './network-peers.js';

const running: NetPeer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.peer.close()));
});

describe('libp2p links', () => {
  it('names the connection kind from its address', () => {
    const relay = '/ip4/127.0.0.1/tcp/4001/ws/p2p/12D3KooWRelay';
    expect(linkKindOf(`${relay}/p2p-circuit/webrtc/p2p/12D3KooWPage`)).toBe('webrtc');
    expect(linkKindOf(`${relay}/p2p-circuit/p2p/12D3KooWPage`)).toBe('relayed');
    expect(linkKindOf(relay)).toBe('websockets');
    expect(linkKindOf('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWPeer')).toBe('tcp');
  });

  it.each([
    ['tcp', '/ip4/127.0.0.1/tcp/0'],
    ['websockets', '/ip4/127.0.0.1/tcp/0/ws'],
  ])('reports a %s link on both sides, and a relay service runs next to the sync', async (kind, listen) => {
    const a = await libp2pPeer({ transport: { listen: [listen], services: { relay: circuitRelayServer() } } });
    running.push(a);
    const b = await libp2pPeer({ transport: { listen: [listen], bootstrap: a.peer.addresses() } });
    running.push(b);
    await eventually(() => a.transport.links().length === 1 && b.transport.links().length === 1, 'the link');
    expect(a.transport.links()).toEqual([expect.objectContaining({ peer: b.peer.id, kind })]);
    expect(b.transport.links()).toEqual([expect.objectContaining({ peer: a.peer.id, kind })]);
    expect(b.transport.links()[0]!.address).toContain(a.peer.id);
  });
});
