/**
 * The libp2p transport: a libp2p 3.x node that carries Shoal frames on one long-lived
 * `/shoal/sync/1.0.0` stream per peer.
 *
 * Why one stream per peer (not one per direction): frames in both directions share one ordered
 * channel, a link is "up" exactly when that one stream is open, and there is one thing to watch
 * for "down". Two peers must not both open it, so the peer with the smaller PeerId opens the stream
 * (whichever side dialled the connection) and the other waits for it. An inbound stream from a peer
 * that already has a link replaces the old one: that is what a restarted peer looks like.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { Connection, Libp2p, PeerInfo, Stream } from '@libp2p/interface';
import { mdns } from '@libp2p/mdns';
import { peerIdFromString } from '@libp2p/peer-id';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils';
import { webSockets } from '@libp2p/websockets';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2pOptions } from 'libp2p';
import { errAsync, okAsync, ResultAsync } from 'neverthrow';
import type { Env, Timer } from '../../engine/env.js';
import { describe, transportError, type TransportError } from '../../engine/errors.js';
import type { PeerId } from '../../engine/facts/types.js';
import { MAX_FRAME_BYTES } from '../../engine/limits.js';
import type { Transport, TransportContext, TransportHandler } from '../../engine/transport.js';
import { backoffDelay, type BackoffInit } from './backoff.js';
import { ensureGlobalWebSocket, installPromiseWithResolvers } from './polyfill.js';

/** The libp2p protocol id of Shoal's sync stream. */
export const SHOAL_SYNC_PROTOCOL = '/shoal/sync/1.0.0';

/** Where a node listens when `listen` is not given: every interface, a free TCP port. */
export const DEFAULT_LISTEN: readonly string[] = ['/ip4/0.0.0.0/tcp/0'];

/** How long a peer hung up by `disconnect(peer)` may not reconnect, in milliseconds. */
export const DEFAULT_BAN_MS = 10_000; // 10 s

/** The mDNS service name Shoal peers announce, so they find each other and not every libp2p node. */
export const MDNS_SERVICE_TAG = '_shoal-sync._udp.local';

/** Longest wait for the remote to accept a new `/shoal/sync/1.0.0` stream, in milliseconds. */
const STREAM_OPEN_TIMEOUT_MS = 10_000; // 10 s

/** Longest wait for one dial (all addresses of the peer, handshakes included), in milliseconds. */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000; // 10 s

/**
 * Bytes a link's reader may hold before the frame they belong to is complete. The reader drains
 * the stream between socket events, so it holds about one frame plus one socket read; a remote
 * that announces a frame over `MAX_FRAME_BYTES` is cut off before anything near this bound.
 */
const MAX_READ_BUFFER_BYTES = 4 * MAX_FRAME_BYTES; // 4 MiB

/** Streams one remote may open on one connection: the link, plus slack for a replacement. */
const MAX_SHOAL_STREAMS_PER_CONNECTION = 4; // streams

/** Options of {@link libp2pTransport}. */
export interface Libp2pTransportInit {
  /**
   * Multiaddrs to listen on: TCP (`/ip4/127.0.0.1/tcp/0`) and WebSockets (`/ip4/…/tcp/0/ws`).
   * Port 0 picks a free port; `addresses()` tells which.
   *
   * @default ['/ip4/0.0.0.0/tcp/0']
   */
  readonly listen?: readonly string[];
  /**
   * Multiaddrs to dial at start and to keep re-dialling (with backoff) whenever the connection
   * drops. Include `/p2p/<PeerId>` to make libp2p check who answers.
   *
   * @default []
   */
  readonly bootstrap?: readonly string[];
  /**
   * Find peers on the local network with multicast DNS and dial them. Networks that block
   * multicast simply find nobody; dial `bootstrap` addresses there.
   *
   * @default false
   */
  readonly mdns?: boolean;
  /**
   * Private network: a swarm key (the 95-byte text `@libp2p/pnet`'s `generateKey` writes). Only
   * nodes holding the same key can even complete a connection.
   *
   * @default undefined (public network)
   */
  readonly psk?: Uint8Array;
  /**
   * Only these PeerIds may connect, in either direction; everyone else is refused by the connection
   * gater as soon as their PeerId is known (right after the encryption handshake).
   *
   * @default undefined (anyone)
   */
  readonly allow?: readonly string[];
  /**
   * Also speak WebSockets (listen on and dial `/ws` addresses) next to TCP.
   *
   * @default true
   */
  readonly websockets?: boolean;
  /**
   * Spacing of re-dials after a dropped connection or a failed dial.
   *
   * @default { initialMs: 500, maxMs: 30000, factor: 2 }
   */
  readonly backoff?: BackoffInit;
  /**
   * How long a peer hung up by `disconnect(peer)` is refused and not re-dialled, in milliseconds.
   *
   * @default 10000
   */
  readonly banMs?: number;
  /**
   * Longest wait for one dial, handshakes included, in milliseconds. A handshake with a node on
   * another private network can hang rather than fail (the bytes it decrypts are noise), so this is
   * also how soon such a dial is given up.
   *
   * @default 10000
   */
  readonly dialTimeoutMs?: number;
}

/** Counters of one libp2p transport, for tests, benchmarks and the CLI's `status`. */
export interface Libp2pTransportStats {
  /** Frames handed to a link, and their payload bytes (length prefixes not counted). */
  readonly framesSent: number;
  readonly bytesSent: number;
  /** Frames delivered to the handler, and their payload bytes. */
  readonly framesReceived: number;
  readonly bytesReceived: number;
  /** Links that came up / went down (a link is one `/shoal/sync/1.0.0` stream). */
  readonly linksUp: number;
  readonly linksDown: number;
  /** Dials started, and how many of them failed. */
  readonly dials: number;
  readonly dialFailures: number;
  /** Connections or streams refused: peer off the allowlist, or banned by `disconnect`. */
  readonly refused: number;
  /** Links cut because the remote broke the framing (a length over `MAX_FRAME_BYTES`, bad varint). */
  readonly badFrames: number;
  /** Exceptions thrown by the handler's callbacks (a bug above the transport; the link goes on). */
  readonly handlerErrors: number;
}

/** A {@link Transport} over libp2p, with counters and a view of its live links. */
export interface Libp2pTransport extends Transport {
  /** Counters since `start`. */
  stats(): Libp2pTransportStats;
  /** Peers with a live link right now. */
  linkedPeers(): PeerId[];
  /**
   * Dial `address` now and keep re-dialling it like a `bootstrap` address (a CLI's `connect`, or an
   * address learned out of band). Resolves once the dial is started; the link reports through
   * `peerUp` as usual.
   */
  dial(address: string): ResultAsync<void, TransportError>;
}

/**
 * A Shoal transport over libp2p 3: TCP and WebSockets, noise encryption (with the peer's own
 * identity key, so the handshake proves the origin), yamux, identify; optional mDNS discovery,
 * private network (pre-shared key) and PeerId allowlist. It keeps re-dialling its `bootstrap`
 * addresses and the peers mDNS found, with capped, jittered exponential backoff.
 *
 * @example
 * ```ts
 * const peer = await createPeer({
 *   storage: sqliteStorage('./alice.db'),
 *   transports: [libp2pTransport({ listen: ['/ip4/0.0.0.0/tcp/4001'], mdns: true })],
 * });
 * console.log(peer.addresses()); // ['/ip4/192.168.1.7/tcp/4001/p2p/12D3KooW…', …]
 * ```
 */
export function libp2pTransport(init: Libp2pTransportInit = {}): Libp2pTransport {
  installPromiseWithResolvers();
  return new Libp2pShoalTransport(init);
}

/** One live `/shoal/sync/1.0.0` stream to a peer. */
interface Link {
  readonly peer: PeerId;
  readonly stream: Stream;
  readonly connection: Connection;
  readonly lp: LengthPrefixedStream<Stream>;
  /** Tail of the write chain: writes go out one after the other, in `send` order. */
  tail: Promise<void>;
  closed: boolean;
}

/** What the transport knows about one remote peer. */
interface PeerState {
  readonly id: PeerId;
  /** Where to dial it (bootstrap or mDNS); empty means "whatever the peer store knows". */
  addrs: Multiaddr[];
  /** Keep a connection to it: re-dial after every drop. */
  wanted: boolean;
  /** Consecutive failures to get a link up, for the backoff. */
  attempt: number;
  /** The scheduled dial (or stream re-open) attempt. */
  timer: Timer | undefined;
  dialing: boolean;
  opening: boolean;
  link: Link | undefined;
  /** `env.now()` until which it is refused (set by `disconnect`). */
  bannedUntil: number;
}

/** A bootstrap address without `/p2p/<id>`: dialled until it answers, then tracked by PeerId. */
interface AnonymousTarget {
  readonly addr: Multiaddr;
  attempt: number;
  timer: Timer | undefined;
}

type MutableStats = { -readonly [K in keyof Libp2pTransportStats]: Libp2pTransportStats[K] };

class Libp2pShoalTransport implements Libp2pTransport {
  readonly #init: Libp2pTransportInit;
  readonly #allow: ReadonlySet<string> | undefined;
  readonly #peers = new Map<string, PeerState>();
  readonly #anonymous: AnonymousTarget[] = [];
  readonly #stats: MutableStats = {
    framesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    bytesReceived: 0,
    linksUp: 0,
    linksDown: 0,
    dials: 0,
    dialFailures: 0,
    refused: 0,
    badFrames: 0,
    handlerErrors: 0,
  };
  #node: Libp2p | undefined;
  #self: PeerId | undefined;
  #env: Env | undefined;
  #handler: TransportHandler | undefined;
  #started = false;
  #stopped = false;

  constructor(init: Libp2pTransportInit) {
    this.#init = init;
    this.#allow = init.allow === undefined ? undefined : new Set(init.allow);
  }

  start(context: TransportContext, handler: TransportHandler): ResultAsync<void, TransportError> {
    if (this.#started) return errAsync(transportError('libp2p transport: start() was already called'));
    this.#started = true;
    this.#self = context.peerId;
    this.#env = context.env;
    this.#handler = handler;
    return ResultAsync.fromPromise(this.#start(context), (e) =>
      transportError(`libp2p transport failed to start: ${describe(e)}`, e),
    );
  }

  async #start(context: TransportContext): Promise<void> {
    const init = this.#init;
    const listen = (init.listen ?? DEFAULT_LISTEN).map((a) => multiaddr(a));
    const bootstrap = (init.bootstrap ?? []).map((a) => multiaddr(a));
    const websockets = init.websockets ?? true;
    if (websockets) await ensureGlobalWebSocket();

    const options: Libp2pOptions = {
      privateKey: context.privateKey,
      addresses: { listen: listen.map((ma) => ma.toString()) },
      transports: websockets ? [tcp(), webSockets()] : [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
      connectionGater: {
        denyDialPeer: (peer) => this.#refuse(peer.toString()),
        denyDialMultiaddr: (ma) => {
          const id = peerIdOf(ma);
          return id !== undefined && this.#refuse(id);
        },
        denyInboundEncryptedConnection: (peer) => this.#refuse(peer.toString()),
        denyOutboundEncryptedConnection: (peer) => this.#refuse(peer.toString()),
      },
      ...(init.psk === undefined ? {} : { connectionProtector: preSharedKey({ psk: init.psk }) }),
      ...(init.mdns === true ? { peerDiscovery: [mdns({ serviceTag: MDNS_SERVICE_TAG })] } : {}),
      start: false,
    };
    const node = await createLibp2p(options);
    if (node.peerId.toString() !== context.peerId) {
      throw new Error(`the node's PeerId ${node.peerId.toString()} is not the peer's origin ${context.peerId}`);
    }
    this.#node = node;
    await node.handle(SHOAL_SYNC_PROTOCOL, (stream, connection) => this.#onInboundStream(stream, connection), {
      maxInboundStreams: MAX_SHOAL_STREAMS_PER_CONNECTION,
      maxOutboundStreams: MAX_SHOAL_STREAMS_PER_CONNECTION,
    });
    node.addEventListener('connection:open', (event) => this.#onConnectionOpen(event.detail));
    node.addEventListener('peer:disconnect', (event) => this.#onPeerDisconnect(event.detail.toString() as PeerId));
    if (init.mdns === true) node.addEventListener('peer:discovery', (event) => this.#onDiscovery(event.detail));
    try {
      await node.start();
    } catch (e) {
      this.#stopped = true;
      await stopQuietly(node);
      throw e;
    }

    for (const addr of bootstrap) this.#addTarget(addr);
  }

  /** Keep a connection to `addr` from now on: dial it now, re-dial it after every drop. */
  #addTarget(addr: Multiaddr): void {
    const id = peerIdOf(addr);
    if (id === undefined) {
      const target: AnonymousTarget = { addr, attempt: 0, timer: undefined };
      this.#anonymous.push(target);
      this.#dialAnonymous(target);
    } else if (id !== this.#self) {
      const state = this.#state(id as PeerId);
      state.wanted = true;
      if (!state.addrs.some((a) => a.equals(addr))) state.addrs = [...state.addrs, addr];
      this.#dial(state);
    }
  }

  send(to: PeerId, frame: Uint8Array): ResultAsync<void, TransportError> {
    if (frame.byteLength > MAX_FRAME_BYTES) {
      return errAsync(
        transportError(`frame of ${frame.byteLength} bytes is over MAX_FRAME_BYTES (${MAX_FRAME_BYTES})`),
      );
    }
    const link = this.#peers.get(to)?.link;
    if (link === undefined || link.closed) return errAsync(transportError(`no link to ${to}`));
    const write = link.tail.then(async () => {
      if (link.closed) throw new Error('the link closed');
      await link.lp.write(frame);
    });
    // The chain must go on after a failed write; the failure itself is reported to this caller.
    link.tail = write.catch(() => undefined);
    return ResultAsync.fromPromise(write, (e) => {
      this.#teardown(link, `write failed: ${describe(e)}`, true);
      return transportError(`send to ${to} failed: ${describe(e)}`, e);
    }).map(() => {
      this.#stats.framesSent += 1;
      this.#stats.bytesSent += frame.byteLength;
    });
  }

  disconnect(peer: PeerId): void {
    const node = this.#node;
    if (node === undefined || this.#stopped || peer === this.#self) return;
    const state = this.#state(peer);
    state.bannedUntil = this.#now() + (this.#init.banMs ?? DEFAULT_BAN_MS);
    cancel(state);
    if (state.link !== undefined) this.#teardown(state.link, 'disconnected', true);
    node.hangUp(peerIdFromString(peer)).then(
      () => undefined,
      () => undefined, // already gone
    );
    // A wanted peer is tried again once the ban is over (the delay accounts for the ban).
    if (state.wanted) this.#scheduleDial(state);
  }

  addresses(): string[] {
    const node = this.#node;
    if (node === undefined || this.#stopped) return [];
    const suffix = `/p2p/${node.peerId.toString()}`;
    return node.getMultiaddrs().map((ma) => {
      const text = ma.toString();
      return text.includes('/p2p/') ? text : `${text}${suffix}`;
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const target of this.#anonymous) target.timer?.cancel();
    for (const state of this.#peers.values()) {
      cancel(state);
      // Report the links down here; node.stop() then closes them gracefully (no reset).
      if (state.link !== undefined) this.#teardown(state.link, 'stopped', false);
    }
    const node = this.#node;
    if (node !== undefined) await stopQuietly(node);
  }

  stats(): Libp2pTransportStats {
    return { ...this.#stats };
  }

  linkedPeers(): PeerId[] {
    return [...this.#peers.values()].filter((s) => s.link !== undefined).map((s) => s.id);
  }

  dial(address: string): ResultAsync<void, TransportError> {
    if (this.#node === undefined || this.#stopped) return errAsync(transportError('libp2p transport is not running'));
    let addr: Multiaddr;
    try {
      addr = multiaddr(address);
    } catch (e) {
      return errAsync(transportError(`not a multiaddr: ${address}: ${describe(e)}`, e));
    }
    this.#addTarget(addr);
    return okAsync(undefined);
  }

  // ---- links ------------------------------------------------------------------------------------

  #onConnectionOpen(connection: Connection): void {
    const peer = connection.remotePeer.toString() as PeerId;
    this.#maybeOpenStream(this.#state(peer));
  }

  /** The smaller PeerId opens the link; a link on a connection that is still open is kept. */
  #maybeOpenStream(state: PeerState): void {
    if (this.#stopped || state.opening || this.#self === undefined || !(this.#self < state.id)) return;
    if (state.link !== undefined) {
      if (state.link.connection.status === 'open') return;
      this.#teardown(state.link, 'connection closed', true);
    }
    if (this.#refuse(state.id)) return;
    const connection = this.#openConnection(state.id);
    if (connection === undefined) return;
    state.opening = true;
    connection.newStream(SHOAL_SYNC_PROTOCOL, { signal: AbortSignal.timeout(STREAM_OPEN_TIMEOUT_MS) }).then(
      (stream) => {
        state.opening = false;
        if (this.#stopped || this.#refuse(state.id) || state.link !== undefined) {
          // Stopped, banned meanwhile, or the remote opened one first: keep what is there.
          stream.abort(new Error('not needed'));
          return;
        }
        this.#attach(state, stream, connection);
      },
      (e: unknown) => {
        state.opening = false;
        // A node that does not speak Shoal is of no use on this connection; anything else is tried
        // again with backoff while the connection lasts.
        if (e instanceof Error && e.name === 'UnsupportedProtocolError') return;
        this.#scheduleStream(state);
      },
    );
  }

  #onInboundStream(stream: Stream, connection: Connection): void {
    const peer = connection.remotePeer.toString() as PeerId;
    if (this.#stopped || this.#refuse(peer)) {
      stream.abort(new Error('refused'));
      return;
    }
    const state = this.#state(peer);
    // A second stream from the same peer means it started over (restarted, or its old stream died
    // without us noticing yet): the new one is the truth.
    if (state.link !== undefined) this.#teardown(state.link, 'replaced by a new stream', true);
    this.#attach(state, stream, connection);
  }

  #attach(state: PeerState, stream: Stream, connection: Connection): void {
    if (stream.status !== 'open') return;
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: MAX_READ_BUFFER_BYTES });
    const link: Link = { peer: state.id, stream, connection, lp, tail: Promise.resolve(), closed: false };
    state.link = link;
    state.attempt = 0;
    stream.addEventListener('close', () => this.#teardown(link, 'stream closed', false));
    this.#stats.linksUp += 1;
    this.#call(() => this.#handler?.peerUp(state.id));
    void this.#read(link);
  }

  async #read(link: Link): Promise<void> {
    try {
      while (!link.closed) {
        const list = await link.lp.read();
        if (link.closed) return;
        const bytes = list.subarray();
        // A plain Uint8Array view (TCP hands out Node Buffers) over bytes nobody else writes to.
        const frame = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        this.#stats.framesReceived += 1;
        this.#stats.bytesReceived += frame.byteLength;
        this.#call(() => this.#handler?.message(link.peer, frame));
      }
    } catch (e) {
      const name = e instanceof Error ? e.name : '';
      if (!link.closed && name.startsWith('Invalid')) this.#stats.badFrames += 1;
      this.#teardown(link, `read ended: ${describe(e)}`, true);
    }
  }

  /** The link is over: report it once, and try again on a surviving connection if it is ours to open. */
  #teardown(link: Link, reason: string, abort: boolean): void {
    if (link.closed) return;
    link.closed = true;
    const state = this.#peers.get(link.peer);
    if (abort && link.stream.status === 'open') link.stream.abort(new Error(reason));
    if (state?.link !== link) return;
    state.link = undefined;
    this.#stats.linksDown += 1;
    this.#call(() => this.#handler?.peerDown(link.peer));
    if (!this.#stopped) this.#scheduleStream(state);
  }

  /** Re-open the stream later if a connection survives; if none does, `peer:disconnect` re-dials. */
  #scheduleStream(state: PeerState): void {
    if (this.#stopped || state.timer !== undefined || this.#self === undefined || !(this.#self < state.id)) return;
    const delay = this.#delay(state);
    state.timer = this.#env?.setTimer(delay, () => {
      state.timer = undefined;
      if (this.#openConnection(state.id) !== undefined) this.#maybeOpenStream(state);
      else if (state.wanted) this.#dial(state);
    });
  }

  // ---- dialling ---------------------------------------------------------------------------------

  #onPeerDisconnect(peer: PeerId): void {
    const state = this.#peers.get(peer);
    if (state?.wanted === true) this.#scheduleDial(state);
  }

  #onDiscovery(info: PeerInfo): void {
    const id = info.id.toString() as PeerId;
    if (id === this.#self || this.#refuse(id)) return;
    const state = this.#state(id);
    state.wanted = true;
    if (info.multiaddrs.length > 0) state.addrs = [...info.multiaddrs];
    if (state.timer === undefined) this.#dial(state);
  }

  #scheduleDial(state: PeerState): void {
    if (this.#stopped || state.timer !== undefined || state.dialing) return;
    const delay = this.#delay(state);
    state.timer = this.#env?.setTimer(delay, () => {
      state.timer = undefined;
      this.#dial(state);
    });
  }

  #dial(state: PeerState): void {
    const node = this.#node;
    if (node === undefined || this.#stopped || state.dialing) return;
    if (this.#openConnection(state.id) !== undefined) {
      this.#maybeOpenStream(state);
      return;
    }
    if (this.#isBanned(state.id)) {
      this.#scheduleDial(state);
      return;
    }
    state.dialing = true;
    this.#stats.dials += 1;
    const target = state.addrs.length > 0 ? state.addrs : peerIdFromString(state.id);
    node.dial(target, { signal: AbortSignal.timeout(this.#init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS) }).then(
      () => {
        state.dialing = false;
      },
      () => {
        state.dialing = false;
        this.#stats.dialFailures += 1;
        if (state.wanted) this.#scheduleDial(state);
      },
    );
  }

  #dialAnonymous(target: AnonymousTarget): void {
    const node = this.#node;
    if (node === undefined || this.#stopped) return;
    this.#stats.dials += 1;
    node.dial(target.addr, { signal: AbortSignal.timeout(this.#init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS) }).then(
      (connection) => {
        // Now it has a name: track it like any bootstrap peer from here on.
        const index = this.#anonymous.indexOf(target);
        if (index >= 0) this.#anonymous.splice(index, 1);
        const state = this.#state(connection.remotePeer.toString() as PeerId);
        state.wanted = true;
        state.addrs = [...state.addrs, target.addr];
      },
      () => {
        this.#stats.dialFailures += 1;
        if (this.#stopped) return;
        const delay = backoffDelay(target.attempt, this.#init.backoff ?? {}, this.#random());
        target.attempt += 1;
        target.timer = this.#env?.setTimer(delay, () => {
          target.timer = undefined;
          this.#dialAnonymous(target);
        });
      },
    );
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** Whether `peer` must be refused: off the allowlist, or banned by `disconnect`. Counts refusals. */
  #refuse(peer: string): boolean {
    const refused = (this.#allow !== undefined && !this.#allow.has(peer)) || this.#isBanned(peer);
    if (refused) this.#stats.refused += 1;
    return refused;
  }

  #isBanned(peer: string): boolean {
    const state = this.#peers.get(peer);
    return state !== undefined && state.bannedUntil > this.#now();
  }

  #delay(state: PeerState): number {
    const banned = state.bannedUntil - this.#now();
    if (banned > 0) return banned + 1;
    const delay = backoffDelay(state.attempt, this.#init.backoff ?? {}, this.#random());
    state.attempt += 1;
    return delay;
  }

  #openConnection(peer: PeerId): Connection | undefined {
    const node = this.#node;
    if (node === undefined) return undefined;
    return node.getConnections(peerIdFromString(peer)).find((c) => c.status === 'open');
  }

  #state(peer: PeerId): PeerState {
    let state = this.#peers.get(peer);
    if (state === undefined) {
      state = {
        id: peer,
        addrs: [],
        wanted: false,
        attempt: 0,
        timer: undefined,
        dialing: false,
        opening: false,
        link: undefined,
        bannedUntil: 0,
      };
      this.#peers.set(peer, state);
    }
    return state;
  }

  /** Run a handler callback; an exception there is a bug above us and must not kill the link. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch {
      this.#stats.handlerErrors += 1;
    }
  }

  #now(): number {
    return this.#env?.now() ?? Date.now();
  }

  #random(): number {
    return this.#env?.random() ?? Math.random();
  }
}

function cancel(state: PeerState): void {
  state.timer?.cancel();
  state.timer = undefined;
}

/** The PeerId a multiaddr names (its last `/p2p/<id>`), if any. */
function peerIdOf(ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast((c) => c.name === 'p2p')?.value;
}

/** Stop a node; a failure to stop cleanly leaves nothing for the caller to do. */
async function stopQuietly(node: Libp2p): Promise<void> {
  try {
    await node.stop();
  } catch {
    // sockets already gone
  }
}
