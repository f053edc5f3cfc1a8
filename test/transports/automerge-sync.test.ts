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
import { unwrap } from '../support/peers.js';
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
});
