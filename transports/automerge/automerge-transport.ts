/**
 * Any automerge-repo `NetworkAdapter` (MessageChannel, BroadcastChannel, WebSocket client/server)
 * as a Shoal transport.
 *
 * The adapters carry messages of any `type` they do not know unchanged, so Shoal rides on them as
 * `{ type: 'shoal', senderId, targetId, data }`. `data` starts with a one-byte tag:
 *
 * - `FRAME` + the frame's bytes;
 * - `HELLO` / `HELLO_REPLY` + the sender's session id: "I run Shoal and I am (re)starting a link
 *   with you". A link is up once hellos have crossed, so a plain automerge Repo on the same adapter
 *   never shows up as a Shoal peer, and a peer that restarted without its adapter noticing (a new
 *   session id) gets a fresh link;
 * - `BYE`: "I dropped the link" (`disconnect` or `stop`). Adapters have no per-peer hang-up, so this
 *   is how the other side learns it.
 *
 * The tag also keeps `data` from ever being empty, which the WebSocket adapters refuse to send.
 */
import type { Message, NetworkAdapterInterface, PeerId as AutomergePeerId } from '@automerge/automerge-repo/slim';
import { errAsync, okAsync, type ResultAsync } from 'neverthrow';
import type { Env, Timer } from '../../engine/env.js';
import { describe, transportError, type TransportError } from '../../engine/errors.js';
import type { PeerId } from '../../engine/facts/types.js';
import { MAX_FRAME_BYTES } from '../../engine/limits.js';
import type { Transport, TransportContext, TransportHandler } from '../../engine/transport.js';

/** The automerge-repo message type Shoal's traffic travels as. */
export const SHOAL_MESSAGE_TYPE = 'shoal';

/** How long a peer dropped by `disconnect(peer)` is ignored, in milliseconds. */
export const DEFAULT_AUTOMERGE_BAN_MS = 10_000; // 10 s

const FRAME = 0;
const HELLO = 1;
const HELLO_REPLY = 2;
const BYE = 3;

/** Longest session id accepted in a hello (ours are 16 hex characters). */
const MAX_SESSION_LENGTH = 64; // characters

/** Options of {@link automergeTransport}. */
export interface AutomergeTransportInit {
  /**
   * How long a peer dropped by `disconnect(peer)` is ignored before a new hello is offered, in
   * milliseconds.
   *
   * @default 10000
   */
  readonly banMs?: number;
}

/** Counters of one automerge transport. */
export interface AutomergeTransportStats {
  readonly framesSent: number;
  readonly bytesSent: number;
  readonly framesReceived: number;
  readonly bytesReceived: number;
  /** Frames from a peer whose link is not up (banned, or never said hello): dropped. */
  readonly dropped: number;
  /** `shoal` messages that do not parse (no data, unknown tag, oversized): dropped. */
  readonly malformed: number;
}

/** A {@link Transport} over an automerge-repo network adapter, with counters. */
export interface AutomergeTransport extends Transport {
  stats(): AutomergeTransportStats;
}

/**
 * Wrap an automerge-repo `NetworkAdapter` as a Shoal transport. The transport owns the adapter: it
 * calls `adapter.connect(peerId)` at start and `adapter.disconnect()` at stop (closing your own
 * `WebSocketServer` or `MessagePort` is still yours to do).
 *
 * Adapters carry whatever they are given and have no backpressure: flow control is the sync
 * layer's (bounded bytes in flight per link). Frames are at most `MAX_FRAME_BYTES`, which every
 * adapter here carries (WebSocket servers accept 100 MiB messages by default).
 *
 * @example
 * ```ts
 * import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket';
 * const peer = await createPeer({
 *   storage: memoryStorage(),
 *   transports: [automergeTransport(new WebSocketClientAdapter('ws://localhost:3030'))],
 * });
 * ```
 */
export function automergeTransport(
  adapter: NetworkAdapterInterface,
  init: AutomergeTransportInit = {},
): AutomergeTransport {
  return new AutomergeShoalTransport(adapter, init);
}

interface Remote {
  readonly id: PeerId;
  /** The adapter announced it (peer-candidate) and has not reported it gone. */
  candidate: boolean;
  up: boolean;
  /** Its session id while up. */
  session: string | undefined;
  bannedUntil: number;
  timer: Timer | undefined;
}

type MutableStats = { -readonly [K in keyof AutomergeTransportStats]: AutomergeTransportStats[K] };

class AutomergeShoalTransport implements AutomergeTransport {
  readonly #adapter: NetworkAdapterInterface;
  readonly #banMs: number;
  readonly #remotes = new Map<string, Remote>();
  readonly #stats: MutableStats = {
    framesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    bytesReceived: 0,
    dropped: 0,
    malformed: 0,
  };
  #self: PeerId | undefined;
  #session = '';
  #env: Env | undefined;
  #handler: TransportHandler | undefined;
  #stopped = false;

  constructor(adapter: NetworkAdapterInterface, init: AutomergeTransportInit) {
    this.#adapter = adapter;
    this.#banMs = init.banMs ?? DEFAULT_AUTOMERGE_BAN_MS;
  }

  start(context: TransportContext, handler: TransportHandler): ResultAsync<void, TransportError> {
    if (this.#self !== undefined) return errAsync(transportError('automerge transport: start() was already called'));
    this.#self = context.peerId;
    this.#env = context.env;
    this.#handler = handler;
    this.#session = Array.from(context.env.randomBytes(8), (b) => b.toString(16).padStart(2, '0')).join('');
    const adapter = this.#adapter;
    adapter.on('peer-candidate', this.#onCandidate);
    adapter.on('peer-disconnected', this.#onDisconnected);
    adapter.on('message', this.#onMessage);
    try {
      adapter.connect(context.peerId as string as AutomergePeerId, { isEphemeral: true });
    } catch (e) {
      this.#detach();
      return errAsync(transportError(`automerge adapter failed to connect: ${describe(e)}`, e));
    }
    return okAsync(undefined);
  }

  send(to: PeerId, frame: Uint8Array): ResultAsync<void, TransportError> {
    if (frame.byteLength > MAX_FRAME_BYTES) {
      return errAsync(
        transportError(`frame of ${frame.byteLength} bytes is over MAX_FRAME_BYTES (${MAX_FRAME_BYTES})`),
      );
    }
    if (this.#remotes.get(to)?.up !== true) return errAsync(transportError(`no link to ${to}`));
    const data = new Uint8Array(frame.byteLength + 1);
    data[0] = FRAME;
    data.set(frame, 1);
    const sent = this.#post(to, data);
    if (sent !== undefined) return errAsync(sent);
    this.#stats.framesSent += 1;
    this.#stats.bytesSent += frame.byteLength;
    return okAsync(undefined);
  }

  disconnect(peer: PeerId): void {
    if (this.#stopped || this.#env === undefined) return;
    const remote = this.#remote(peer);
    remote.bannedUntil = this.#env.now() + this.#banMs;
    if (remote.up) {
      this.#post(peer, Uint8Array.of(BYE));
      this.#down(remote);
    }
    remote.timer?.cancel();
    // Once the ban is over, offer a new link if the adapter still sees the peer.
    remote.timer = this.#env.setTimer(this.#banMs + 1, () => {
      remote.timer = undefined;
      if (!this.#stopped && remote.candidate && !remote.up) this.#hello(remote, HELLO);
    });
  }

  addresses(): string[] {
    return [];
  }

  stop(): Promise<void> {
    if (this.#stopped || this.#self === undefined) return Promise.resolve();
    this.#stopped = true;
    for (const remote of this.#remotes.values()) {
      remote.timer?.cancel();
      remote.timer = undefined;
      if (remote.up) {
        this.#post(remote.id, Uint8Array.of(BYE));
        this.#down(remote);
      }
    }
    this.#detach();
    try {
      this.#adapter.disconnect();
    } catch {
      // The adapter is going away either way.
    }
    return Promise.resolve();
  }

  stats(): AutomergeTransportStats {
    return { ...this.#stats };
  }

  // ---- adapter events (arrow functions: registered and removed as they are) ---------------------

  readonly #onCandidate = (payload: { peerId: AutomergePeerId }): void => {
    const id = payload.peerId as string as PeerId;
    if (this.#stopped || id === this.#self) return;
    const remote = this.#remote(id);
    // Adapters may announce one peer twice (MessageChannel: "arrive" and "welcome").
    if (remote.candidate) return;
    remote.candidate = true;
    // Deferred: the WebSocket server adapter announces a peer before it can route to it.
    queueMicrotask(() => {
      if (!this.#stopped && remote.candidate && !remote.up && !this.#banned(remote)) this.#hello(remote, HELLO);
    });
  };

  readonly #onDisconnected = (payload: { peerId: AutomergePeerId }): void => {
    const remote = this.#remotes.get(payload.peerId);
    if (remote === undefined) return;
    remote.candidate = false;
    if (remote.up) this.#down(remote);
  };

  readonly #onMessage = (message: Message): void => {
    if (this.#stopped || message.type !== SHOAL_MESSAGE_TYPE) return;
    // Everything in the message came off the wire: check its shape before using it.
    const from = message.senderId as unknown;
    const target = message.targetId as unknown;
    const data = message.data as unknown;
    if (typeof from !== 'string' || from === this.#self || target !== this.#self) {
      this.#stats.malformed += 1;
      return;
    }
    if (!(data instanceof Uint8Array) || data.byteLength === 0 || data.byteLength > MAX_FRAME_BYTES + 1) {
      this.#stats.malformed += 1;
      return;
    }
    switch (data[0]) {
      case FRAME: {
        if (this.#remotes.get(from)?.up !== true) {
          this.#stats.dropped += 1;
          return;
        }
        const frame = data.subarray(1);
        this.#stats.framesReceived += 1;
        this.#stats.bytesReceived += frame.byteLength;
        this.#call(() => this.#handler?.message(from as PeerId, frame));
        return;
      }
      case HELLO:
      case HELLO_REPLY: {
        const session =
          data.byteLength - 1 <= MAX_SESSION_LENGTH ? new TextDecoder().decode(data.subarray(1)) : undefined;
        if (session === undefined || session === '') {
          this.#stats.malformed += 1;
          return;
        }
        this.#onHello(this.#remote(from as PeerId), session, data[0] === HELLO);
        return;
      }
      case BYE: {
        const remote = this.#remotes.get(from);
        if (remote?.up === true) this.#down(remote);
        return;
      }
      default:
        this.#stats.malformed += 1;
    }
  };

  #onHello(remote: Remote, session: string, wantsReply: boolean): void {
    if (this.#banned(remote)) return;
    if (remote.up && remote.session === session) return; // a repeat: nothing new
    // Not up yet, or up with an older session: the remote restarted, so the old link is gone.
    if (remote.up) this.#down(remote);
    remote.up = true;
    remote.session = session;
    // Reply before telling the handler: its first frames must follow our hello on the channel.
    if (wantsReply) this.#hello(remote, HELLO_REPLY);
    this.#call(() => this.#handler?.peerUp(remote.id));
  }

  // ---- helpers ----------------------------------------------------------------------------------

  #hello(remote: Remote, tag: typeof HELLO | typeof HELLO_REPLY): void {
    const session = new TextEncoder().encode(this.#session);
    const data = new Uint8Array(session.byteLength + 1);
    data[0] = tag;
    data.set(session, 1);
    this.#post(remote.id, data);
  }

  #down(remote: Remote): void {
    remote.up = false;
    remote.session = undefined;
    this.#call(() => this.#handler?.peerDown(remote.id));
  }

  /** Hand a message to the adapter; some adapters throw (socket not open): that is a value here. */
  #post(to: PeerId, data: Uint8Array): TransportError | undefined {
    const self = this.#self;
    if (self === undefined) return transportError('automerge transport not started');
    const message: Message = {
      type: SHOAL_MESSAGE_TYPE,
      senderId: self as string as AutomergePeerId,
      targetId: to as string as AutomergePeerId,
      data,
    };
    try {
      this.#adapter.send(message);
      return undefined;
    } catch (e) {
      return transportError(`automerge adapter could not send to ${to}: ${describe(e)}`, e);
    }
  }

  #banned(remote: Remote): boolean {
    return this.#env !== undefined && remote.bannedUntil > this.#env.now();
  }

  #remote(id: PeerId): Remote {
    let remote = this.#remotes.get(id);
    if (remote === undefined) {
      remote = { id, candidate: false, up: false, session: undefined, bannedUntil: 0, timer: undefined };
      this.#remotes.set(id, remote);
    }
    return remote;
  }

  #detach(): void {
    this.#adapter.off('peer-candidate', this.#onCandidate);
    this.#adapter.off('peer-disconnected', this.#onDisconnected);
    this.#adapter.off('message', this.#onMessage);
  }

  /** Run a handler callback; an exception there is a bug above us and must not break the adapter. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch {
      // Nothing sensible to do in the transport; the link goes on.
    }
  }
}
