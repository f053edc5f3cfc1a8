/**
 * Test helpers: hostile ends of automerge-repo channels. A raw end speaks the adapters' wire shapes
 * by hand, so it can claim any peer id, as many as it likes, and send any bytes; `handshakeAs` runs
 * Shoal's link handshake by hand with a key of the caller's choosing.
 */
import { cbor } from '@automerge/automerge-repo/slim';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { MessagePort } from 'node:worker_threads';
import { WebSocket } from 'ws';
import {
  encodeConfirm,
  encodeHello,
  encodeReply,
  ephemeral,
  NONCE_BYTES,
  parseHello,
  parseReply,
  SealedLink,
  signedBytes,
  Tag,
  type Transcript,
} from '../../transports/automerge/handshake.js';
import { SHOAL_MESSAGE_TYPE } from '../../transports/automerge/index.js';

/** A `shoal` message as a raw end sees it. */
export interface RawMessage {
  readonly senderId: string;
  readonly targetId: string;
  readonly data: Uint8Array;
}

/** What both raw ends offer. */
export interface RawEnd {
  /** Every `shoal` message that reached this end and was not taken by `next`, oldest first. */
  readonly received: RawMessage[];
  /** Called after each message is added to `received`. */
  readonly listeners: Set<() => void>;
  /** Announce `id` to the other side (MessageChannel "arrive", WebSocket "join"). */
  join(id: string): void;
  /** Post a `shoal` message claiming to come from `from`. */
  send(from: string, to: string, data: Uint8Array): void;
  close(): void;
}

/** The first message to `to` with tag `tag` not yet taken, waited for (real time). */
export function next(end: RawEnd, to: string, tag: number, timeoutMs = 5000): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const index = end.received.findIndex((m) => m.targetId === to && m.data[0] === tag);
      if (index < 0) return;
      clearTimeout(timer);
      end.listeners.delete(check);
      resolve(end.received.splice(index, 1)[0]!.data);
    };
    const timer = setTimeout(() => {
      end.listeners.delete(check);
      reject(new Error(`no message with tag ${tag} for ${to} within ${timeoutMs} ms`));
    }, timeoutMs);
    end.listeners.add(check);
    check();
  });
}

function receive(received: RawMessage[], listeners: Set<() => void>, message: RawMessage): void {
  received.push(message);
  for (const listener of [...listeners]) listener();
}

/** A raw end on one port of a MessageChannel (the other port holds the victim's adapter). */
export function rawPort(port: MessagePort | globalThis.MessagePort): RawEnd {
  const received: RawMessage[] = [];
  const listeners = new Set<() => void>();
  const p = port as MessagePort;
  p.on('message', (message: { type?: unknown; senderId?: unknown; targetId?: unknown; data?: unknown }) => {
    if (message.type !== SHOAL_MESSAGE_TYPE) return;
    const data = message.data;
    receive(received, listeners, {
      senderId: String(message.senderId),
      targetId: String(message.targetId),
      data: data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array),
    });
  });
  p.start();
  return {
    received,
    listeners,
    join: (id) => p.postMessage({ type: 'arrive', senderId: id, peerMetadata: {} }),
    send: (from, to, data) => p.postMessage({ type: SHOAL_MESSAGE_TYPE, senderId: from, targetId: to, data }),
    close: () => p.close(),
  };
}

/** A raw WebSocket client of an automerge-repo WebSocket server: one socket, any number of ids. */
export async function rawSocket(url: string): Promise<RawEnd> {
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const received: RawMessage[] = [];
  const listeners = new Set<() => void>();
  socket.on('message', (bytes: ArrayBuffer) => {
    const message = cbor.decode<{ type?: unknown; senderId?: unknown; targetId?: unknown; data?: unknown }>(
      new Uint8Array(bytes),
    );
    if (message.type !== SHOAL_MESSAGE_TYPE || !(message.data instanceof Uint8Array)) return;
    receive(received, listeners, {
      senderId: String(message.senderId),
      targetId: String(message.targetId),
      data: message.data,
    });
  });
  const post = (message: object) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(cbor.encode(message));
  };
  return {
    received,
    listeners,
    join: (id) => post({ type: 'join', senderId: id, peerMetadata: {}, supportedProtocolVersions: ['1'] }),
    send: (from, to, data) => post({ type: SHOAL_MESSAGE_TYPE, senderId: from, targetId: to, data }),
    close: () => socket.terminate(),
  };
}

/**
 * What the transport before the signed handshake took as "I run Shoal": tag 1 and a session id. A
 * hostile end sends it too, so a test fails on a transport that still believes it.
 */
export function oldHello(session: string): Uint8Array {
  return Uint8Array.from([1, ...new TextEncoder().encode(session)]);
}

/**
 * Run the link handshake by hand as the initiator with `key` (whatever id it claims), through `end`,
 * with `victim`. Resolves with the link's keys once the victim sent READY.
 */
export async function handshakeAs(
  end: RawEnd,
  key: PrivateKey,
  victim: string,
  claim: string = peerIdFromPrivateKey(key).toString(),
  timeoutMs = 5000,
): Promise<SealedLink> {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const mine = await ephemeral();
  end.send(claim, victim, encodeHello({ nonce, share: mine.share }));
  let reply = parseReply(await next(end, claim, Tag.REPLY, timeoutMs))!;
  // A late answer to an earlier try under the same id is not ours.
  while (reply.initiatorNonce.some((byte, i) => byte !== nonce[i])) {
    reply = parseReply(await next(end, claim, Tag.REPLY, timeoutMs))!;
  }
  const transcript: Transcript = {
    initiator: claim,
    responder: victim,
    initiatorNonce: nonce,
    responderNonce: reply.nonce,
    initiatorShare: mine.share,
    responderShare: reply.share,
  };
  const link = new SealedLink(await mine.secret(reply.share), transcript, 'initiator');
  const signature = await key.sign(signedBytes('initiator', transcript));
  end.send(claim, victim, encodeConfirm({ responderNonce: reply.nonce, signature }));
  const ready = link.open(await next(end, claim, Tag.READY, timeoutMs));
  if (typeof ready === 'string') throw new Error(`READY did not open: ${ready}`);
  return link;
}

/** Tags of the messages a link carries: a raw end that received one of these was linked. */
export const LINK_TAGS: readonly number[] = [Tag.FRAME, Tag.READY, Tag.BYE];

/**
 * Make `raw` a spoofer: it claims `claim` towards `victim`, says the unsigned hello of old, starts
 * a handshake of its own and answers every handshake message it gets, signing with its own `key`.
 * Returns the function that stops it.
 */
export function spoof(raw: RawEnd, claim: string, victim: string, key: PrivateKey): () => void {
  const nonce = () => crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  raw.join(claim);
  raw.send(claim, victim, oldHello('spoofer-session'));
  const answered = new Set<Uint8Array>();
  const mine = ephemeral();
  const ownNonce = nonce();
  void mine.then((e) => raw.send(claim, victim, encodeHello({ nonce: ownNonce, share: e.share })));

  const answerHello = async (hello: { nonce: Uint8Array; share: Uint8Array }): Promise<void> => {
    const e = await mine;
    const t: Transcript = {
      initiator: victim,
      responder: claim,
      initiatorNonce: hello.nonce,
      responderNonce: nonce(),
      initiatorShare: hello.share,
      responderShare: e.share,
    };
    const signature = await key.sign(signedBytes('responder', t));
    raw.send(
      claim,
      victim,
      encodeReply({ initiatorNonce: hello.nonce, nonce: t.responderNonce, share: e.share, signature }),
    );
  };
  const confirm = async (reply: { nonce: Uint8Array; share: Uint8Array }): Promise<void> => {
    const e = await mine;
    const t: Transcript = {
      initiator: claim,
      responder: victim,
      initiatorNonce: ownNonce,
      responderNonce: reply.nonce,
      initiatorShare: e.share,
      responderShare: reply.share,
    };
    const signature = await key.sign(signedBytes('initiator', t));
    raw.send(claim, victim, encodeConfirm({ responderNonce: reply.nonce, signature }));
  };
  const timer = setInterval(() => {
    for (const m of raw.received) {
      if (answered.has(m.data) || m.targetId !== claim) continue;
      answered.add(m.data);
      const hello = parseHello(m.data);
      if (hello !== undefined) void answerHello(hello);
      const reply = parseReply(m.data);
      if (reply !== undefined) void confirm(reply);
    }
  }, 5);
  return () => clearInterval(timer);
}
