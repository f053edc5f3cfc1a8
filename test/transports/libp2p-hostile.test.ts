/**
 * The libp2p transport against hand-made libp2p clients that speak `/shoal/sync` badly: many
 * streams on one connection, a frame that stalls after its length prefix, a stream that never
 * says anything. Each is bounded (`MAX_STREAMS_PER_CONNECTION`, the frame read timeout, the
 * handshake timeout), and an honest peer is served all along.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterEach, describe, expect, it } from 'vitest';
import { FRAME_READ_TIMEOUT_MS, MAX_STREAMS_PER_CONNECTION } from '../../engine/limits.js';
import { lengthPrefix } from '../../transports/libp2p/frame-reader.js';
import {
  LINK_GREETING,
  libp2pTransport,
  SHOAL_SYNC_PROTOCOL,
  type Libp2pTransport,
  type Libp2pTransportInit,
} from '../../transports/libp2p/index.js';
import { identity, pattern, realSettle, Recorder, startTransport } from '../../testing/index.js';
import { FAST_BACKOFF } from './network-peers.js';

const running: Array<{ stop(): unknown }> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});

async function until(done: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await realSettle(10);
  }
}

/** A victim transport on 127.0.0.1 with its recorder. */
async function victim(init: Libp2pTransportInit = {}) {
  const who = await identity();
  const recorder = new Recorder();
  const transport: Libp2pTransport = libp2pTransport({ ...FAST_BACKOFF, listen: ['/ip4/127.0.0.1/tcp/0'], ...init });
  running.push(transport);
  await startTransport(transport, who.key, recorder);
  return { ...who, transport, recorder, address: multiaddr(transport.addresses()[0]) };
}

/** A bare libp2p node: it speaks the protocol id, and whatever bytes the test writes. */
async function rogue(): Promise<{ node: Libp2p; id: string; key: PrivateKey }> {
  const who = await identity();
  const node = await createLibp2p({
    privateKey: who.key,
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  running.push(node);
  return { node, id: who.id, key: who.key };
}

/** `frame` as it goes on the wire: length prefix, then the bytes. */
const framed = (frame: Uint8Array) => Uint8Array.from([...lengthPrefix(frame.byteLength), ...frame]);

/** An honest peer links to `v` and a frame gets through, both ways. */
async function honestPeerIsServed(v: Awaited<ReturnType<typeof victim>>): Promise<void> {
  const who = await identity();
  const recorder = new Recorder();
  const transport = libp2pTransport({
    ...FAST_BACKOFF,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [v.address.toString()],
  });
  running.push(transport);
  await startTransport(transport, who.key, recorder);
  await until(() => v.recorder.isUp(who.id) && recorder.isUp(v.id), 'an honest link');
  expect((await transport.send(v.id, pattern(100, 1))).isOk()).toBe(true);
  expect((await v.transport.send(who.id, pattern(100, 2))).isOk()).toBe(true);
  await until(() => v.recorder.frames(who.id).length === 1 && recorder.frames(v.id).length === 1, 'a frame each way');
}

describe('libp2p transport: hostile clients', () => {
  it(`200 streams on one connection: at most ${MAX_STREAMS_PER_CONNECTION} become links, then the connection is closed`, async () => {
    const v = await victim();
    const r = await rogue();
    const connection = await r.node.dial(v.address);
    for (let i = 0; i < 200 && connection.status === 'open'; i++) {
      try {
        const stream = await connection.newStream(SHOAL_SYNC_PROTOCOL);
        stream.send(framed(LINK_GREETING));
      } catch {
        // refused (too many open at once, or the connection is going): try the next
      }
      await realSettle(2);
    }
    await until(() => connection.status !== 'open', 'the connection to be closed');
    const ups = v.recorder.count('up', r.id);
    expect(ups).toBeGreaterThan(0);
    expect(ups).toBeLessThanOrEqual(MAX_STREAMS_PER_CONNECTION);
    expect(v.transport.stats().streamsRefused).toBeGreaterThanOrEqual(1);
    expect(v.recorder.violations).toEqual([]);
    await honestPeerIsServed(v);
  });

  it('links stalled mid-frame (a length prefix, then nothing) lose their connection after the read timeout', async () => {
    const v = await victim({ frameReadTimeoutMs: 300 });
    const rogues = await Promise.all(Array.from({ length: 8 }, () => rogue()));
    const streams: Stream[] = [];
    for (const r of rogues) {
      const stream = await r.node.dialProtocol(v.address, SHOAL_SYNC_PROTOCOL);
      stream.send(framed(LINK_GREETING));
      streams.push(stream);
      await realSettle(250); // libp2p takes at most 5 new connections a second from one host
    }
    await until(() => rogues.every((r) => v.recorder.isUp(r.id)), 'the rogue links');
    for (const stream of streams) {
      stream.send(lengthPrefix(1000));
      stream.send(new Uint8Array(10));
    }
    const started = Date.now();
    await until(() => rogues.every((r) => !v.recorder.isUp(r.id)), 'the stalled links to be cut', 30_000);
    // Cut by the 300 ms read timeout given, not by the default one (which would take 10 s at least):
    // a bound that holds on a loaded machine too.
    expect(Date.now() - started).toBeLessThan(FRAME_READ_TIMEOUT_MS);
    expect(v.transport.stats().readTimeouts).toBe(rogues.length);
    await until(
      () => rogues.every((r) => r.node.getConnections().every((c) => c.status !== 'open')),
      'the rogue connections to be closed',
    );
    for (const r of rogues) expect(v.recorder.frames(r.id)).toEqual([]);
    await honestPeerIsServed(v);
  });

  it('a slow frame that keeps coming within its allowance is delivered', async () => {
    const v = await victim({ frameReadTimeoutMs: 300 });
    const r = await rogue();
    const stream = await r.node.dialProtocol(v.address, SHOAL_SYNC_PROTOCOL);
    stream.send(framed(LINK_GREETING));
    await until(() => v.recorder.isUp(r.id), 'the link');
    // 64 KiB over ~600 ms: past the bare 300 ms, within 300 ms + 64 KiB at 64 KiB/s.
    const frame = pattern(64 * 1024, 5);
    const bytes = framed(frame);
    for (let offset = 0; offset < bytes.byteLength; offset += 8 * 1024) {
      stream.send(bytes.subarray(offset, offset + 8 * 1024));
      await realSettle(75);
    }
    await until(() => v.recorder.frames(r.id).length === 1, 'the slow frame');
    expect(v.recorder.isUp(r.id)).toBe(true);
    expect(v.transport.stats().readTimeouts).toBe(0);
  });

  it('a stream that never greets is closed after the handshake timeout, never becomes a session, and does not displace the live link', async () => {
    const v = await victim({ handshakeTimeoutMs: 300 });
    const r = await rogue();
    // A link that greeted…
    const live = await r.node.dialProtocol(v.address, SHOAL_SYNC_PROTOCOL);
    live.send(framed(LINK_GREETING));
    await until(() => v.recorder.isUp(r.id), 'the live link');
    // …then a second stream on the same connection that says nothing.
    const silent = await r.node.dialProtocol(v.address, SHOAL_SYNC_PROTOCOL);
    await until(() => v.transport.stats().handshakeTimeouts === 1, 'the handshake timeout', 5_000);
    await until(() => silent.status !== 'open', 'the silent stream to be closed');
    expect(v.recorder.count('up', r.id)).toBe(1);
    expect(v.recorder.count('down', r.id)).toBe(0);
    live.send(framed(pattern(10, 7)));
    await until(() => v.recorder.frames(r.id).length === 1, 'a frame on the live link');

    // A peer whose only stream never greets is never up at all.
    const quiet = await rogue();
    const stream = await quiet.node.dialProtocol(v.address, SHOAL_SYNC_PROTOCOL);
    await until(() => stream.status !== 'open', 'the quiet stream to be closed', 5_000);
    expect(v.recorder.count('up', quiet.id)).toBe(0);
    expect(v.recorder.violations).toEqual([]);
  });

  it('a first frame that is not the greeting cuts the stream', async () => {
    const v = await victim();
    const r = await rogue();
    const stream = await r.node.dialProtocol(v.address, SHOAL_SYNC_PROTOCOL);
    stream.send(framed(pattern(40, 3)));
    await until(() => stream.status !== 'open', 'the stream to be cut');
    expect(v.transport.stats().badFrames).toBe(1);
    expect(v.recorder.events).toEqual([]);
  });
});
