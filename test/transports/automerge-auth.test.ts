/**
 * automerge-repo adapters: peer ids are claims. Every test here plays a hostile end against a
 * victim transport and checks that nothing it claims turns into a link: a spoofer of an honest
 * peer's id, ids with no key, bad, replayed and relayed signatures, a relay that injects, floods of
 * fake peers. Each hostile end also tries what the transport before the signed handshake accepted
 * (an unsigned hello), so these tests fail on it.
 */
import { MessageChannelNetworkAdapter } from '@automerge/automerge-repo-network-messagechannel';
import { WebSocketClientAdapter, WebSocketServerAdapter } from '@automerge/automerge-repo-network-websocket';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { Env } from '../../engine/env.js';
import { realEnv } from '../../engine/env.js';
import { MAX_LINKS_PER_TRANSPORT, MAX_PENDING_HANDSHAKES } from '../../engine/limits.js';
import {
  encodeConfirm,
  encodeHello,
  encodeReply,
  ephemeral,
  NONCE_BYTES,
  parseHello,
  parseReply,
  SealedLink,
  Tag,
  type Transcript,
} from '../../transports/automerge/handshake.js';
import { automergeTransport, type AutomergeTransport } from '../../transports/automerge/index.js';
import { identity, pattern, realSettle, Recorder, startTransport } from '../../testing/index.js';
import { handshakeAs, LINK_TAGS, next, oldHello, rawPort, rawSocket, spoof } from './automerge-raw.js';

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

const nonce = () => crypto.getRandomValues(new Uint8Array(NONCE_BYTES));

/** A victim transport on one port of a fresh MessageChannel, and a raw end on the other. */
async function victimWithRawEnd(init: Parameters<typeof automergeTransport>[1] = {}, env?: Env) {
  const { port1, port2 } = new MessageChannel();
  const who = await identity();
  const recorder = new Recorder();
  const transport = automergeTransport(new MessageChannelNetworkAdapter(port1), init);
  await startTransport(transport, who.key, recorder, env);
  const raw = rawPort(port2);
  cleanup.push(async () => {
    await transport.stop();
    raw.close();
    port1.close();
  });
  return { ...who, transport, recorder, raw };
}

/** Two real transports (a and b) joined through a relay that records and may inject. */
async function relayedPair() {
  const left = new MessageChannel();
  const right = new MessageChannel();
  const ka = await identity();
  const kb = await identity();
  const ra = new Recorder();
  const rb = new Recorder();
  const a = automergeTransport(new MessageChannelNetworkAdapter(left.port1));
  const b = automergeTransport(new MessageChannelNetworkAdapter(right.port1));
  // The relay passes everything on, and keeps a copy of what a sent.
  const fromA: Array<{ type: string; senderId: string; targetId: string; data?: Uint8Array }> = [];
  left.port2.onmessage = (
    e: MessageEvent<{ type: string; senderId: string; targetId: string; data?: ArrayBuffer }>,
  ) => {
    const m = e.data;
    if (m.type === 'shoal' && m.data !== undefined) fromA.push({ ...m, data: new Uint8Array(m.data) });
    right.port2.postMessage(m);
  };
  right.port2.onmessage = (e: MessageEvent) => left.port2.postMessage(e.data);
  await startTransport(a, ka.key, ra);
  await startTransport(b, kb.key, rb);
  cleanup.push(async () => {
    await Promise.all([a.stop(), b.stop()]);
    for (const port of [left.port1, left.port2, right.port1, right.port2]) port.close();
  });
  /** Post to b as if it came from a (the relay's own message). */
  const inject = (data: Uint8Array) =>
    right.port2.postMessage({ type: 'shoal', senderId: ka.id, targetId: kb.id, data });
  return { a: { ...ka, transport: a, recorder: ra }, b: { ...kb, transport: b, recorder: rb }, fromA, inject };
}

describe('automerge transport: peer ids are claims', () => {
  it("a spoofer claiming an honest peer's id, answering with its own key, gets no link and no frame", async () => {
    const v = await victimWithRawEnd();
    const honest = await identity();
    const spoofer = await identity();
    cleanup.push(spoof(v.raw, honest.id, v.id, spoofer.key));
    await until(() => v.transport.stats().authFailures >= 2, 'both of the spoofer signatures to be refused');
    await realSettle(100);
    expect(v.recorder.events).toEqual([]);
    expect(v.raw.received.filter((m) => LINK_TAGS.includes(m.data[0]!))).toEqual([]);
    expect(v.transport.stats()).toMatchObject({ authenticated: 0, framesReceived: 0 });
  });

  it('a peer id with no Ed25519 key in it cannot link: not a PeerId, a hash-only PeerId, a secp256k1 PeerId', async () => {
    const v = await victimWithRawEnd();
    const claims = [
      'mallory',
      'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', // an RSA-style id: a hash, no key inside
      peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toString(),
    ];
    for (const claim of claims) {
      v.raw.join(claim);
      v.raw.send(claim, v.id, oldHello(`session-${claim}`));
      const e = await ephemeral();
      v.raw.send(claim, v.id, encodeHello({ nonce: nonce(), share: e.share }));
    }
    await until(() => v.transport.stats().authFailures >= 3, 'three refusals');
    await realSettle(50);
    expect(v.recorder.events).toEqual([]);
    // Never answered, never asked: nobody could prove to be them (the secp256k1 key could sign,
    // but a Shoal identity, and so an origin, is an Ed25519 key).
    expect(v.raw.received).toEqual([]);
  });

  it('a confirm with a bad signature is refused, and the link does not come up', async () => {
    const v = await victimWithRawEnd();
    const claim = (await identity()).id;
    const e = await ephemeral();
    v.raw.send(claim, v.id, encodeHello({ nonce: nonce(), share: e.share }));
    const reply = parseReply(await next(v.raw, claim, Tag.REPLY))!;
    v.raw.send(claim, v.id, encodeConfirm({ responderNonce: reply.nonce, signature: new Uint8Array(64).fill(7) }));
    await until(() => v.transport.stats().authFailures >= 1, 'the refusal');
    await realSettle(50);
    expect(v.recorder.events).toEqual([]);
    expect(v.raw.received.filter((m) => m.data[0] === Tag.READY)).toEqual([]);
  });

  it("an honest peer's answers, replayed in a later handshake or with the nonce swapped in, are refused", async () => {
    // Record a real handshake between h and v through a relay…
    const pair = await relayedPair();
    const h = pair.a;
    const v = pair.b;
    await until(() => v.recorder.isUp(h.id) && h.recorder.isUp(v.id), 'the honest link');
    const recorded = pair.fromA.filter((m) => m.data !== undefined).map((m) => m.data!);
    expect(recorded.some((d) => d[0] === Tag.REPLY || d[0] === Tag.CONFIRM)).toBe(true);

    // …then play h's messages, as they were and with the victim's fresh nonce swapped in, to a new
    // transport with v's identity.
    const { port1, port2 } = new MessageChannel();
    const recorder = new Recorder();
    const again = automergeTransport(new MessageChannelNetworkAdapter(port1));
    await startTransport(again, v.key, recorder);
    const raw = rawPort(port2);
    cleanup.push(async () => {
      await again.stop();
      raw.close();
      port1.close();
    });
    raw.join(h.id);
    for (const data of recorded) raw.send(h.id, v.id, data);
    const fresh = parseHello(await next(raw, h.id, Tag.HELLO))!;
    for (const data of recorded) {
      const reply = parseReply(data);
      if (reply !== undefined) {
        raw.send(h.id, v.id, encodeReply({ ...reply, initiatorNonce: fresh.nonce }));
      }
    }
    // h started the recorded handshake when its id is the smaller (see the tie-break): then the
    // victim answers h's hello again, and h's old confirm is tried against that answer.
    const hello = recorded.map(parseHello).find((x) => x !== undefined);
    if (hello !== undefined && h.id < v.id) {
      raw.send(h.id, v.id, encodeHello(hello));
      const answer = parseReply(await next(raw, h.id, Tag.REPLY))!;
      for (const data of recorded) {
        if (data[0] !== Tag.CONFIRM) continue;
        raw.send(h.id, v.id, encodeConfirm({ responderNonce: answer.nonce, signature: data.slice(1 + NONCE_BYTES) }));
      }
    }
    await until(() => again.stats().authFailures >= 1, 'a refusal');
    await realSettle(100);
    expect(recorder.events).toEqual([]);
    expect(raw.received.filter((m) => LINK_TAGS.includes(m.data[0]!))).toEqual([]);
  });

  it("an honest peer's answer relayed from its handshake with the relay itself is refused", async () => {
    // The attacker claims h's id to v, and opens a handshake of its own (under its real id) with h,
    // passing v's challenge and share off as its own.
    const v = await victimWithRawEnd();
    const h = await identity();
    const attacker = await identity();
    const hChannel = new MessageChannel();
    const hRecorder = new Recorder();
    const hTransport = automergeTransport(new MessageChannelNetworkAdapter(hChannel.port1));
    await startTransport(hTransport, h.key, hRecorder);
    const toH = rawPort(hChannel.port2);
    cleanup.push(async () => {
      await hTransport.stop();
      toH.close();
      hChannel.port1.close();
    });
    v.raw.join(h.id);
    const challenge = await next(v.raw, h.id, Tag.HELLO);
    toH.send(attacker.id, h.id, challenge);
    const fromH = parseReply(await next(toH, attacker.id, Tag.REPLY))!;
    v.raw.send(h.id, v.id, encodeReply(fromH));
    await until(() => v.transport.stats().authFailures >= 1, 'the refusal');
    await realSettle(50);
    expect(v.recorder.events).toEqual([]);
    expect(v.raw.received.filter((m) => LINK_TAGS.includes(m.data[0]!))).toEqual([]);
  });

  it('a relay between two honest peers can only pass their messages on: frames, replays and byes it makes are dropped', async () => {
    const pair = await relayedPair();
    const { a, b } = pair;
    await until(() => a.recorder.isUp(b.id) && b.recorder.isUp(a.id), 'the link');
    expect((await a.transport.send(b.id, pattern(100, 1))).isOk()).toBe(true);
    await until(() => b.recorder.frames(a.id).length === 1, 'the first frame');
    const sealed = pair.fromA.map((m) => m.data!).find((d) => d[0] === Tag.FRAME)!;
    // A frame of the relay's own under a's id, a's frame again, a frame with one bit flipped, a bye.
    pair.inject(Uint8Array.from([Tag.FRAME, 0, 0, 0, 9, ...new Uint8Array(16), 1, 2, 3]));
    pair.inject(sealed);
    const flipped = sealed.slice();
    flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 1;
    pair.inject(flipped);
    pair.inject(Uint8Array.from([Tag.BYE, 0, 0, 0, 9, ...new Uint8Array(16)]));
    await until(() => b.transport.stats().forged >= 4, 'four forgeries');
    expect(b.recorder.frames(a.id)).toHaveLength(1);
    expect(b.recorder.isUp(a.id)).toBe(true);
    expect((await a.transport.send(b.id, pattern(100, 2))).isOk()).toBe(true);
    await until(() => b.recorder.frames(a.id).length === 2, 'the second frame');
    expect(b.recorder.violations).toEqual([]);
  });

  it('handshakes at once are bounded: past the bound hellos are ignored, and the victim answers again later', async () => {
    const v = await victimWithRawEnd({ handshakeTimeoutMs: 300 });
    const claims = await Promise.all(Array.from({ length: 100 }, async () => (await identity()).id));
    const e = await ephemeral();
    for (const claim of claims) {
      v.raw.send(claim, v.id, oldHello(`session-${claim}`));
      v.raw.send(claim, v.id, encodeHello({ nonce: nonce(), share: e.share }));
    }
    await until(() => v.transport.stats().ignored >= 100 - MAX_PENDING_HANDSHAKES / 2, 'the excess to be ignored');
    await realSettle(100);
    const replies = v.raw.received.filter((m) => m.data[0] === Tag.REPLY);
    expect(replies.length).toBe(MAX_PENDING_HANDSHAKES / 2);
    expect(v.recorder.events).toEqual([]);
    // Once they time out, a peer with a key gets in.
    await until(() => v.transport.stats().handshakeTimeouts >= MAX_PENDING_HANDSHAKES / 2, 'the timeouts');
    await realSettle(1000); // the budget per second refills
    const honest = await identity();
    await handshakeAs(v.raw, honest.key, v.id);
    await until(() => v.recorder.isUp(honest.id), 'the honest link');
    expect(v.recorder.events.filter((x) => x.kind === 'up').map((x) => x.peer)).toEqual([honest.id]);
  });

  it('a handshake we start and nobody answers is given up after the timeout and tried again with backoff, not in a loop', async () => {
    const v = await victimWithRawEnd({ handshakeTimeoutMs: 200 });
    const silent = (await identity()).id;
    v.raw.join(silent);
    await realSettle(2_000);
    const hellos = v.raw.received.filter((m) => m.data[0] === Tag.HELLO && m.targetId === silent).length;
    // Tries at about 0, 0.7, 2.0 s (timeouts of 0.2 s, then 0.5–1 s, 1–2 s of backoff): a few, not hundreds.
    expect(hellos).toBeGreaterThanOrEqual(2);
    expect(hellos).toBeLessThanOrEqual(4);
    expect(v.transport.stats().handshakeTimeouts).toBeGreaterThanOrEqual(hellos - 1);
    expect(v.recorder.events).toEqual([]);
  });

  it(`authenticated links per transport are bounded (MAX_LINKS_PER_TRANSPORT = ${MAX_LINKS_PER_TRANSPORT})`, async () => {
    // A clock that runs a second per handshake, so the budget per second is not what stops them.
    let now = 0;
    const env: Env = { ...realEnv(), now: () => now, monotonic: () => now };
    const v = await victimWithRawEnd({}, env);
    const keys = await Promise.all(Array.from({ length: MAX_LINKS_PER_TRANSPORT + 3 }, () => identity()));
    let linked = 0;
    for (const who of keys) {
      now += 1000;
      try {
        await handshakeAs(v.raw, who.key, v.id, who.id, 1000);
        linked += 1;
      } catch {
        // not answered: over the bound
      }
      v.raw.received.splice(0);
    }
    expect(linked).toBe(MAX_LINKS_PER_TRANSPORT);
    expect(v.recorder.events.filter((x) => x.kind === 'up')).toHaveLength(MAX_LINKS_PER_TRANSPORT);
  }, 120_000);
});

describe('automerge transport: many fake peers over one WebSocket', () => {
  async function hub(init: Parameters<typeof automergeTransport>[1] = {}) {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
    const who = await identity();
    const recorder = new Recorder();
    const transport = automergeTransport(
      new WebSocketServerAdapter(server as unknown as ConstructorParameters<typeof WebSocketServerAdapter>[0]),
      init,
    );
    await startTransport(transport, who.key, recorder);
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          for (const client of server.clients) client.terminate();
          server.close(() => resolve());
        }),
    );
    cleanup.push(() => transport.stop());
    return { ...who, transport, recorder, url: `ws://127.0.0.1:${address.port}` };
  }

  async function client(url: string, init: Parameters<typeof automergeTransport>[1] = {}) {
    const who = await identity();
    const recorder = new Recorder();
    const transport: AutomergeTransport = automergeTransport(new WebSocketClientAdapter(url, 200), init);
    cleanup.push(() => transport.stop());
    await startTransport(transport, who.key, recorder);
    return { ...who, transport, recorder };
  }

  it('5,000 fake peers: none gets a link, the handshakes answered are bounded, an honest client links and syncs', async () => {
    const v = await hub({ handshakeTimeoutMs: 500 });
    const early = await client(v.url);
    await until(() => v.recorder.isUp(early.id) && early.recorder.isUp(v.id), 'a peer linked before the flood');

    const raw = await rawSocket(v.url);
    cleanup.push(() => raw.close());
    const e = await ephemeral();
    const fakes = await Promise.all(
      Array.from({ length: 5000 }, async (_, i) => (i % 50 === 0 ? (await identity()).id : `fake-${i}`)),
    );
    const started = Date.now();
    for (const fake of fakes) {
      raw.join(fake);
      raw.send(fake, v.id, oldHello(`session-${fake}`));
      raw.send(fake, v.id, encodeHello({ nonce: nonce(), share: e.share }));
    }
    await until(
      () => v.transport.stats().ignored + v.transport.stats().authFailures >= 4000,
      'the flood to be judged',
      20_000,
    );
    // The peer linked before keeps working during the flood.
    expect((await early.transport.send(v.id, pattern(64, 1))).isOk()).toBe(true);
    await until(() => v.recorder.frames(early.id).length === 1, 'a frame from the early peer');

    const late = await client(v.url, { handshakeTimeoutMs: 500 });
    await until(() => v.recorder.isUp(late.id) && late.recorder.isUp(v.id), 'a peer that came after the flood', 20_000);
    expect((await late.transport.send(v.id, pattern(64, 2))).isOk()).toBe(true);
    await until(() => v.recorder.frames(late.id).length === 1, 'a frame from the late peer');

    const seconds = (Date.now() - started) / 1000;
    const ups = v.recorder.events.filter((x) => x.kind === 'up').map((x) => x.peer);
    expect(ups.sort()).toEqual([early.id, late.id].sort());
    // Answers (REPLY) and our own hellos to fakes: within the bound at once plus the budget per second.
    const budget = MAX_PENDING_HANDSHAKES / 2 + (MAX_PENDING_HANDSHAKES / 2) * Math.ceil(seconds + 1);
    expect(raw.received.filter((m) => m.data[0] === Tag.REPLY).length).toBeLessThanOrEqual(budget);
    expect(raw.received.filter((m) => m.data[0] === Tag.HELLO).length).toBeLessThanOrEqual(budget);
    expect(raw.received.filter((m) => LINK_TAGS.includes(m.data[0]!))).toEqual([]);
  }, 60_000);

  it("a spoofer that joins under a linked peer's id gets no link and no frame; the honest peer comes back", async () => {
    const v = await hub();
    const honest = await client(v.url);
    await until(() => v.recorder.isUp(honest.id) && honest.recorder.isUp(v.id), 'the honest link');
    const raw = await rawSocket(v.url);
    cleanup.push(() => raw.close());
    const spoofer = await identity();
    cleanup.push(spoof(raw, honest.id, v.id, spoofer.key));
    await until(() => v.transport.stats().authFailures >= 1, 'a refused spoofer signature');
    // The adapter gave the id to the spoofer's socket; the honest client joins again by itself.
    await until(() => v.recorder.isUp(honest.id) && honest.recorder.isUp(v.id), 'the honest link again', 20_000);
    expect((await v.transport.send(honest.id, pattern(32, 3))).isOk()).toBe(true);
    await until(() => honest.recorder.frames(v.id).length >= 1, 'a frame to the honest peer');
    expect(raw.received.filter((m) => LINK_TAGS.includes(m.data[0]!))).toEqual([]);
    expect(v.recorder.violations).toEqual([]);
  }, 60_000);
});

// The link keys are bound to the handshake they came from.
describe('SealedLink', () => {
  it("opens what the other side sealed, once, and nothing of another handshake's", async () => {
    const [ea, eb] = [await ephemeral(), await ephemeral()];
    const t: Transcript = {
      initiator: 'a',
      responder: 'b',
      initiatorNonce: nonce(),
      responderNonce: nonce(),
      initiatorShare: ea.share,
      responderShare: eb.share,
    };
    const secret = await ea.secret(eb.share);
    expect(await eb.secret(ea.share)).toEqual(secret);
    const a = new SealedLink(secret, t, 'initiator');
    const b = new SealedLink(secret, t, 'responder');
    const other = new SealedLink(secret, { ...t, responderNonce: nonce() }, 'responder');
    const sealed = a.seal(Tag.FRAME, pattern(10, 1))!;
    expect(other.open(sealed)).toBe('forged');
    const opened = b.open(sealed);
    expect(typeof opened !== 'string' && Array.from(opened.payload)).toEqual(Array.from(pattern(10, 1)));
    expect(b.open(sealed)).toBe('forged'); // a replay
    expect(a.open(a.seal(Tag.FRAME, pattern(10, 2))!)).toBe('forged'); // its own, reflected
    expect(b.open(sealed.subarray(0, 5))).toBe('malformed');
  });
});
