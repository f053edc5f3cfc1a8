/**
 * Announcements over a broadcasting transport (engine/peer/announcements.ts), on a SimNetwork with
 * an in-memory announcement bus standing in for gossipsub: what a space announces, when a peer pulls
 * from an announcer it has no link to, and that bad announcements are refused and change nothing.
 */
import { describe, expect, it } from 'vitest';
import { createPeer, memoryStorage, type Transport } from '../../engine/index.js';
import { TimerScope } from '../../engine/env.js';
import type { PeerId } from '../../engine/facts/types.js';
import {
  PULL_DELAY_MS,
  PULL_DIAL_DELAY_MS,
  PULL_LINK_IDLE_MS,
  ANNOUNCE_INTERVAL_MS,
  MAX_ANNOUNCEMENT_BYTES,
} from '../../engine/limits.js';
import { Announcements, type AnnouncedSpace } from '../../engine/peer/announcements.js';
import { decodeFrame, encodeMessage } from '../../engine/sync/codec.js';
import { PROTOCOL_VERSION } from '../../engine/sync/messages.js';
import { toWire } from '../../engine/sync/origin-key.js';
import type { Announcer, TransportHandler } from '../../engine/transport.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { unwrap } from '../support/peers.js';

/** Announcements published on the bus, and pulls asked of it. */
class Bus {
  readonly members = new Map<PeerId, { spaces: Set<string>; handler: TransportHandler }>();
  readonly published: { from: PeerId; space: string; frame: Uint8Array }[] = [];
  readonly pulls: [PeerId, PeerId][] = [];
  /** Pulled links released, as [by, announcer]. */
  readonly releases: [PeerId, PeerId][] = [];
}

/** `inner` plus an announcer on `bus`; a pull brings the simulated link up. */
function announcing(inner: Transport, bus: Bus, net: SimNetwork): Transport {
  let self = '' as PeerId;
  const announcer: Announcer = {
    join: (space) => bus.members.get(self)?.spaces.add(space),
    leave: (space) => bus.members.get(self)?.spaces.delete(space),
    announce: (space, frame) => {
      bus.published.push({ from: self, space, frame });
      for (const [id, member] of bus.members) {
        if (id !== self && member.spaces.has(space)) member.handler.announcement?.(self, space, frame);
      }
    },
    pull: (peer) => {
      bus.pulls.push([self, peer]);
      net.linkUp(self, peer);
    },
    release: (peer) => {
      bus.releases.push([self, peer]);
      net.linkDown(self, peer);
    },
  };
  return {
    start: (context, handler) => {
      self = context.peerId;
      bus.members.set(self, { spaces: new Set(), handler });
      return inner.start(context, handler);
    },
    send: (to, frame) => inner.send(to, frame),
    disconnect: (peer) => inner.disconnect(peer),
    addresses: () => inner.addresses(),
    stop: () => inner.stop(),
    announcer,
  };
}

async function announcingPeer(net: SimNetwork, bus: Bus) {
  const node = net.node();
  const peer = unwrap(
    await createPeer({
      storage: memoryStorage(),
      env: node.env,
      transports: node.transports.map((t) => announcing(t, bus, net)),
    }),
  );
  const space = unwrap(await peer.space('space'));
  return { peer, space };
}

/** Two announcing peers on `net` with no link between them. */
async function apart(net: SimNetwork) {
  const bus = new Bus();
  const a = await announcingPeer(net, bus);
  const b = await announcingPeer(net, bus);
  net.linkDown(a.peer.id, b.peer.id);
  await net.advance(100);
  return { bus, a, b };
}

const hello = (space: string, vector: Map<PeerId, number>) =>
  encodeMessage({ type: 'hello', space, version: PROTOCOL_VERSION, reply: false, vector: toWire(vector), more: false });

describe('space announcements', () => {
  it('a space announces the counters that moved, as a hello that asks for no reply', async () => {
    const net = new SimNetwork({ seed: 1 });
    const bus = new Bus();
    const a = await announcingPeer(net, bus);
    for (let i = 0; i < 3; i++) unwrap(await a.space.collection('items').create({ n: i }));
    await net.advance(ANNOUNCE_INTERVAL_MS + 50);

    const last = bus.published.at(-1)!;
    expect(last.from).toBe(a.peer.id);
    const message = unwrap(decodeFrame(last.frame));
    expect(message).toMatchObject({ type: 'hello', space: 'space', reply: false });
    expect(message.type === 'hello' && [...message.vector.values()]).toEqual([3]);
    expect(message.type === 'hello' && [...message.vector]).toEqual([...toWire(new Map([[a.peer.id as PeerId, 3]]))]);
  });

  it('a peer pulls from an announcer it has no link to once its links bring nothing for PULL_DIAL_DELAY_MS', async () => {
    const net = new SimNetwork({ seed: 2 });
    const { bus, a, b } = await apart(net);

    unwrap(await a.space.collection('items').create({ title: 'only on a' }, 'x'));
    await net.advance(ANNOUNCE_INTERVAL_MS + PULL_DELAY_MS);
    // Heard of it, but a new link is the last resort: not yet.
    expect(bus.pulls).toEqual([]);
    await net.advance(PULL_DIAL_DELAY_MS);
    expect(bus.pulls).toEqual([[b.peer.id, a.peer.id]]);
    await net.runUntilQuiet();
    expect(b.space.collection('items').get('x')).toMatchObject({ title: 'only on a' });
    expect(b.space.stateHash()).toBe(a.space.stateHash());
  });

  it('a link opened for a pull is released once it brought what was announced', async () => {
    const net = new SimNetwork({ seed: 4 });
    const { bus, a, b } = await apart(net);
    for (let i = 0; i < 20; i++) unwrap(await a.space.collection('items').create({ n: i }, `x${i}`));
    await net.advance(ANNOUNCE_INTERVAL_MS + PULL_DELAY_MS + PULL_DIAL_DELAY_MS);
    expect(bus.pulls).toEqual([[b.peer.id, a.peer.id]]);
    await net.advance(5_000);
    expect(b.space.collection('items').all()).toHaveLength(20);
    // Brought: the link goes (well before the idle timeout), and the two stay converged without it.
    expect(bus.releases).toEqual([[b.peer.id, a.peer.id]]);
    expect(b.space.stateHash()).toBe(a.space.stateHash());
  });

  it('a pulled link that brings nothing is released after PULL_LINK_IDLE_MS; a later announcement pulls again', async () => {
    const net = new SimNetwork({ seed: 5 });
    const { bus, a, b } = await apart(net);
    unwrap(await a.space.collection('items').create({ title: 'only on a' }, 'x'));
    await net.advance(ANNOUNCE_INTERVAL_MS);
    // A's frames to B are lost from now on: the pull opens a link that brings nothing.
    net.intercept((from, to) => !(from === a.peer.id && to === b.peer.id));
    await net.advance(PULL_DELAY_MS + PULL_DIAL_DELAY_MS);
    expect(bus.pulls).toEqual([[b.peer.id, a.peer.id]]);
    await net.advance(PULL_LINK_IDLE_MS - 5_000);
    expect(bus.releases).toEqual([]);
    await net.advance(10_000);
    expect(bus.releases).toEqual([[b.peer.id, a.peer.id]]);
    // The frames flow again; A's next announcement makes B pull again, and this time it arrives.
    net.intercept(undefined);
    unwrap(await a.space.collection('items').create({ title: 'later' }, 'y'));
    await net.advance(ANNOUNCE_INTERVAL_MS + PULL_DELAY_MS + PULL_DIAL_DELAY_MS + 5_000);
    expect(bus.pulls).toHaveLength(2);
    expect(b.space.collection('items').get('x')).toMatchObject({ title: 'only on a' });
    expect(b.space.stateHash()).toBe(a.space.stateHash());
    expect(bus.releases).toHaveLength(2);
  });

  it('a peer whose links bring the announced facts pulls nothing', async () => {
    const net = new SimNetwork({ seed: 3 });
    const bus = new Bus();
    const a = await announcingPeer(net, bus);
    const b = await announcingPeer(net, bus);
    unwrap(await a.space.collection('items').create({ title: 'on both' }, 'x'));
    await net.advance(ANNOUNCE_INTERVAL_MS + PULL_DELAY_MS + PULL_DIAL_DELAY_MS);
    expect(bus.published.length).toBeGreaterThan(0);
    expect(bus.pulls).toEqual([]);
    expect(b.space.collection('items').get('x')).toMatchObject({ title: 'on both' });
  });

  it('bad announcements are refused with a typed error and change nothing', async () => {
    const net = new SimNetwork({ seed: 4 });
    const bus = new Bus();
    const a = await announcingPeer(net, bus);
    const pulls: PeerId[] = [];
    const announcer: Announcer = { join: () => {}, leave: () => {}, announce: () => {}, pull: (p) => pulls.push(p) };
    const announcements = new Announcements({
      announcers: [announcer],
      timers: new TimerScope(net.env),
      space: (id) => (id === 'space' ? (a.space as unknown as AnnouncedSpace) : undefined),
      linked: () => false,
    });
    announcements.open('space');
    const before = a.space.status().vector;
    const stranger = 'origin-we-never-heard-of' as PeerId;
    const bad: [string, Uint8Array][] = [
      ['garbage', new Uint8Array([0xff, 0xff, 0xff])],
      ['over the size limit', new Uint8Array(MAX_ANNOUNCEMENT_BYTES + 1)],
      ['not a hello', encodeMessage({ type: 'ack', space: 'space', vector: toWire(new Map([[stranger, 5]])) })],
      ['another space', hello('other', new Map([[stranger, 5]]))],
      ['too many origins', hello('space', new Map(Array.from({ length: 300 }, (_, i) => [`o${i}` as PeerId, 1])))],
    ];
    for (const [what, frame] of bad) {
      const outcome = announcements.received(stranger, 'space', frame);
      expect(outcome.isErr() && outcome.error.type, what).toBe('invalid-input');
    }
    await net.advance(PULL_DELAY_MS + PULL_DIAL_DELAY_MS);
    expect(pulls).toEqual([]);
    expect(a.space.status().vector).toEqual(before);
    // The same claim, well formed, is a hint worth a pull.
    expect(unwrap(announcements.received(stranger, 'space', hello('space', new Map([[stranger, 5]]))))).toBe('lacking');
    await net.advance(PULL_DELAY_MS + PULL_DIAL_DELAY_MS);
    expect(pulls).toEqual([stranger]);
  });
});
