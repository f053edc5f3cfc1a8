/**
 * Space announcements over gossipsub (`libp2pTransport({ gossipsub: true })`): real libp2p peers
 * on 127.0.0.1. Twenty peers that each link to four others converge with no link added; a peer that
 * shares no connection with a writer hears of its facts through a node that only relays the
 * topic, and pulls them from the writer over `/shoal/sync`.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { tcp } from '@libp2p/tcp';
import { createLibp2p, type Libp2p } from 'libp2p';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeAnnouncement, spaceTopic } from '../../transports/libp2p/announcement.js';
import { unwrap } from '../support/peers.js';
import type { PeerId } from '../../engine/facts/types.js';
import { converged, eventually, libp2pPeer, type NetPeer } from './network-peers.js';

interface Item {
  title: string;
}

const running: NetPeer[] = [];
const relays: Libp2p[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.peer.close()));
  for (const relay of relays.splice(0)) await relay.stop();
});

async function start(init: Parameters<typeof libp2pPeer>[0] = {}): Promise<NetPeer> {
  const p = await libp2pPeer({ ...init, transport: { gossipsub: true, ...init.transport } });
  running.push(p);
  return p;
}

const items = (p: NetPeer) => p.space.collection<Item>('items');

describe('libp2p transport with gossipsub announcements', () => {
  it('20 peers that each link to 4 others (a ring with chords) converge, with no link added', async () => {
    const n = 20;
    // Twenty nodes share two loaded cores here: handshakes may take longer than the helper's 1 s.
    const peers = await Promise.all(Array.from({ length: n }, () => start({ transport: { dialTimeoutMs: 10_000 } })));
    // Peer i dials i+1 and i+5: with the two that dial it, four links each, at most 4 hops apart.
    for (const [i, p] of peers.entries()) {
      for (const step of [1, 5]) unwrap(await p.transport.dial(peers[(i + step) % n]!.peer.addresses()[0]!));
    }
    await eventually(() => peers.every((p) => p.transport.linkedPeers().length === 4), 'the ring and its chords');

    const writers = [0, 7, 13];
    await Promise.all(
      writers.flatMap((w) =>
        Array.from({ length: 10 }, (_, k) => items(peers[w]!).create({ title: `peer ${w} item ${k}` })),
      ),
    );
    await eventually(() => converged(peers) && items(peers[3]!).all().length === 30, 'convergence', 45_000);

    for (const [i, p] of peers.entries()) {
      const stats = p.transport.stats();
      // Gossipsub ran over the links there were and dialled nobody (peer exchange is off), and no
      // peer had to pull: its links brought the facts before the pull delay ran out. So every peer
      // still has exactly the four connections it was given.
      expect(p.transport.linkedPeers(), `peer ${i}`).toHaveLength(4);
      expect(stats.pulls, `peer ${i}`).toBe(0);
      expect(stats.badAnnouncements, `peer ${i}`).toBe(0);
      // Every peer heard the writers' announcements (and the others', as they caught up).
      expect(stats.announcementsReceived, `peer ${i}`).toBeGreaterThanOrEqual(writers.length);
    }
    expect(peers.filter((_, i) => writers.includes(i)).every((p) => p.transport.stats().announcementsSent > 0)).toBe(
      true,
    );
  }, 60_000);

  it('a peer with no connection to the writer hears of its facts through a topic relay and pulls them; a bad announcement is refused', async () => {
    // The relay speaks gossipsub only (no Shoal): announcements cross it, facts cannot.
    const relay = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) },
    });
    relays.push(relay);
    relay.services.pubsub.subscribe(spaceTopic('list'));
    const at = relay.getMultiaddrs()[0]!.toString();
    const writer = await start({ transport: { bootstrap: [at] } });
    const reader = await start({ transport: { bootstrap: [at] } });
    await eventually(
      () => relay.services.pubsub.getSubscribers(spaceTopic('list')).length === 2,
      'both peers on the topic',
    );

    unwrap(await items(writer).create({ title: 'from the writer' }, 'only-here'));
    await eventually(() => items(reader).get('only-here') !== undefined, 'the fact pulled by the reader', 30_000);
    expect(reader.transport.stats().pulls).toBeGreaterThanOrEqual(1);
    // The connection the pull dialled brought what was announced: it is closed again, so pulls do
    // not grow the mesh for good.
    await eventually(
      () =>
        reader.transport.stats().pullsReleased >= 1 &&
        !reader.transport.linkedPeers().includes(writer.peer.id as PeerId) &&
        !writer.transport.linkedPeers().includes(reader.peer.id as PeerId),
      'the pulled link closed again',
      30_000,
    );

    // A well-formed message whose frame is no hello: both peers refuse it, and nothing changes.
    const before = reader.space.stateHash();
    await relay.services.pubsub.publish(spaceTopic('list'), encodeAnnouncement([], Uint8Array.of(0xff, 1, 2)));
    await eventually(
      () => reader.transport.stats().badAnnouncements === 1 && writer.transport.stats().badAnnouncements === 1,
      'the bad announcement refused',
    );
    expect(reader.space.stateHash()).toBe(before);
  }, 60_000);
});
