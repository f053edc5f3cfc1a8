/**
 * automerge-repo network adapters as Shoal transports: the conformance suite over a MessageChannel
 * and over the WebSocket client/server adapters on 127.0.0.1, then the hello/bye handshake.
 */
import type { PeerId as AutomergePeerId } from '@automerge/automerge-repo/slim';
import { MessageChannelNetworkAdapter } from '@automerge/automerge-repo-network-messagechannel';
import { WebSocketClientAdapter, WebSocketServerAdapter } from '@automerge/automerge-repo-network-websocket';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { automergeTransport, SHOAL_MESSAGE_TYPE, type AutomergeTransport } from '../../transports/automerge/index.js';
import {
  identity,
  pattern,
  realSettle,
  Recorder,
  runTransportTests,
  startTransport,
  type MakePair,
} from '../../testing/index.js';

/** A WebSocket server on a free loopback port. */
async function wsServer(): Promise<{ server: WebSocketServer; url: string; close(): Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  return {
    server,
    url: `ws://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/**
 * The server adapter types its argument through isomorphic-ws's CommonJS typings of `ws`; this test
 * imports `ws` as ESM. Same class at run time, two declarations for the compiler.
 */
const serverAdapter = (server: WebSocketServer): WebSocketServerAdapter =>
  new WebSocketServerAdapter(server as unknown as ConstructorParameters<typeof WebSocketServerAdapter>[0]);

const messageChannelPair: MakePair = async (handlers) => {
  const { port1, port2 } = new MessageChannel();
  const ka = await identity();
  const kb = await identity();
  const a = await startTransport(automergeTransport(new MessageChannelNetworkAdapter(port1)), ka.key, handlers.a);
  const b = await startTransport(automergeTransport(new MessageChannelNetworkAdapter(port2)), kb.key, handlers.b);
  return {
    a,
    b,
    settle: () => realSettle(),
    close: async () => {
      await Promise.all([a.transport.stop(), b.transport.stop()]);
      port1.close();
      port2.close();
    },
  };
};

const webSocketPair: MakePair = async (handlers) => {
  const ws = await wsServer();
  const ka = await identity();
  const kb = await identity();
  const transports: AutomergeTransport[] = [];
  const client = (): AutomergeTransport => {
    const t = automergeTransport(new WebSocketClientAdapter(ws.url));
    transports.push(t);
    return t;
  };
  const server = automergeTransport(serverAdapter(ws.server));
  transports.push(server);
  const a = await startTransport(server, ka.key, handlers.a);
  const b = await startTransport(client(), kb.key, handlers.b);
  return {
    a,
    b,
    settle: () => realSettle(),
    restartB: (handler) => startTransport(client(), kb.key, handler),
    close: async () => {
      await Promise.all(transports.map((t) => t.stop()));
      await ws.close();
    },
  };
};

runTransportTests('automerge MessageChannel adapter', messageChannelPair);
runTransportTests('automerge WebSocket client/server adapters', webSocketPair);

describe('automerge transport handshake', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await realSettle(10);
    }
  }

  async function hub(banMs?: number) {
    const ws = await wsServer();
    cleanup.push(() => ws.close());
    const who = await identity();
    const recorder = new Recorder();
    const adapter = serverAdapter(ws.server);
    const transport = automergeTransport(adapter, banMs === undefined ? {} : { banMs });
    cleanup.push(() => transport.stop());
    await startTransport(transport, who.key, recorder);
    return { ...who, ws, adapter, transport, recorder };
  }

  it('a plain automerge peer on the same adapter is not a Shoal peer, and its junk is dropped', async () => {
    const server = await hub();
    const candidates: string[] = [];
    server.adapter.on('peer-candidate', ({ peerId }) => candidates.push(peerId));
    const raw = new WebSocketClientAdapter(server.ws.url);
    cleanup.push(() => raw.disconnect());
    const rawId = 'plain-automerge-peer' as AutomergePeerId;
    raw.connect(rawId, {});
    await until(() => candidates.includes(rawId) && raw.remotePeerId !== undefined, 'the raw peer to join');
    // Shoal-typed junk: an unknown tag, and a frame from a peer that never said hello.
    raw.send({
      type: SHOAL_MESSAGE_TYPE,
      senderId: rawId,
      targetId: server.id as string as AutomergePeerId,
      data: Uint8Array.of(9),
    });
    raw.send({
      type: SHOAL_MESSAGE_TYPE,
      senderId: rawId,
      targetId: server.id as string as AutomergePeerId,
      data: Uint8Array.of(0, 1, 2),
    });
    await until(
      () => server.transport.stats().malformed + server.transport.stats().dropped >= 2,
      'both messages to be judged',
    );
    expect(server.transport.stats()).toMatchObject({ malformed: 1, dropped: 1, framesReceived: 0 });
    expect(server.recorder.events).toEqual([]);
  });

  it('after disconnect(peer) the peer is ignored for banMs, then the link comes back by itself', async () => {
    const server = await hub(300);
    const who = await identity();
    const recorder = new Recorder();
    const client = automergeTransport(new WebSocketClientAdapter(server.ws.url));
    cleanup.push(() => client.stop());
    await startTransport(client, who.key, recorder);
    await until(() => server.recorder.isUp(who.id) && recorder.isUp(server.id), 'the link');
    server.transport.disconnect(who.id);
    await until(() => !recorder.isUp(server.id), 'peer-down at the client');
    // While banned, the client's frames are not delivered (its link is down, so it cannot send).
    expect((await client.send(server.id, pattern(4, 1))).isErr()).toBe(true);
    await until(() => server.recorder.isUp(who.id) && recorder.isUp(server.id), 'the link after the ban');
    expect(server.recorder.count('up', who.id)).toBe(2);
    expect(recorder.count('up', server.id)).toBe(2);
    expect(server.recorder.violations).toEqual([]);
    expect(recorder.violations).toEqual([]);
  });
});
