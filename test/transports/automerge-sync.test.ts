/**
 * Two Shoal peers syncing through automerge-repo network adapters: a MessageChannel, and the
 * WebSocket client/server adapters on 127.0.0.1.
 */
import { MessageChannelNetworkAdapter } from '@automerge/automerge-repo-network-messagechannel';
import { WebSocketClientAdapter, WebSocketServerAdapter } from '@automerge/automerge-repo-network-websocket';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createPeer, memoryStorage, type Peer, type Space } from '../../engine/index.js';
import type { Transport } from '../../engine/transport.js';
import { automergeTransport } from '../../transports/automerge/index.js';
import { identity } from '../../testing/index.js';
import { unwrap } from '../support/peers.js';
import { LINK_TAGS, rawPort, spoof } from './automerge-raw.js';
import { eventually } from './network-peers.js';

interface Item {
  title: string;
  n: number;
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function peerOn(transport: Transport): Promise<{ peer: Peer; space: Space }> {
  const peer = unwrap(await createPeer({ storage: memoryStorage(), transports: [transport] }));
  cleanup.push(() => peer.close());
  return { peer, space: unwrap(await peer.space('list')) };
}

async function syncBothWays(a: { space: Space }, b: { space: Space }): Promise<void> {
  const writes = [a, b].flatMap((p, i) =>
    Array.from({ length: 500 }, (_, k) =>
      p.space.collection<Item>('items').create({ title: `peer ${i} item ${k}`, n: k }),
    ),
  );
  for (const w of writes) unwrap(await w);
  await eventually(
    () =>
      a.space.stateHash() === b.space.stateHash() &&
      a.space.collection('items').all().length === 1000 &&
      a.space.status().pending === 0 &&
      b.space.status().pending === 0,
    'convergence',
  );
  expect(b.space.collection('items').all()).toEqual(a.space.collection('items').all());
}

describe('Shoal over automerge-repo adapters', () => {
  it('two peers sync over a MessageChannel', async () => {
    const { port1, port2 } = new MessageChannel();
    cleanup.push(() => {
      port1.close();
      port2.close();
    });
    const a = await peerOn(automergeTransport(new MessageChannelNetworkAdapter(port1)));
    const b = await peerOn(automergeTransport(new MessageChannelNetworkAdapter(port2)));
    await syncBothWays(a, b);
  });

  it('two peers sync over the WebSocket client and server adapters on loopback', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          for (const client of server.clients) client.terminate();
          server.close(() => resolve());
        }),
    );
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
    const hub = new WebSocketServerAdapter(
      server as unknown as ConstructorParameters<typeof WebSocketServerAdapter>[0],
    );
    const a = await peerOn(automergeTransport(hub));
    const b = await peerOn(automergeTransport(new WebSocketClientAdapter(`ws://127.0.0.1:${address.port}`)));
    await syncBothWays(a, b);
  });

  it("a spoofer claiming the honest peer's id on a second adapter gets no session: every note arrives, the spoofer sees no frame", async () => {
    // The victim reaches the honest peer on one MessageChannel and the spoofer on another; the
    // spoofer claims the honest peer's id and answers every handshake with its own key.
    const toHonest = new MessageChannel();
    const toSpoofer = new MessageChannel();
    cleanup.push(() => {
      for (const port of [toHonest.port1, toHonest.port2, toSpoofer.port1, toSpoofer.port2]) port.close();
    });
    const victimPeer = unwrap(
      await createPeer({
        storage: memoryStorage(),
        transports: [
          automergeTransport(new MessageChannelNetworkAdapter(toHonest.port1)),
          automergeTransport(new MessageChannelNetworkAdapter(toSpoofer.port1)),
        ],
      }),
    );
    cleanup.push(() => victimPeer.close());
    const victim = { peer: victimPeer, space: unwrap(await victimPeer.space('list')) };
    const honest = await peerOn(automergeTransport(new MessageChannelNetworkAdapter(toHonest.port2)));
    const raw = rawPort(toSpoofer.port2);
    cleanup.push(spoof(raw, honest.peer.id, victim.peer.id, (await identity()).key));

    for (let k = 0; k < 20; k++) {
      unwrap(await honest.space.collection<Item>('notes').create({ title: `note ${k}`, n: k }));
      if (k % 4 === 0) unwrap(await victim.space.collection<Item>('notes').create({ title: `reply ${k}`, n: k }));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await eventually(
      () =>
        victim.space.stateHash() === honest.space.stateHash() &&
        victim.space.collection('notes').all().length === 25 &&
        victim.space.status().pending === 0 &&
        honest.space.status().pending === 0,
      'all 25 notes on both peers',
    );
    expect(victim.space.status().peers).toEqual([honest.peer.id]);
    expect(raw.received.filter((m) => LINK_TAGS.includes(m.data[0]!))).toEqual([]);
  });
});
