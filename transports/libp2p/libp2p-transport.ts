/**
 * The libp2p transport: a libp2p 3.x node that carries Shoal frames on one long-lived
 * `/shoal/sync/1.1.0` stream per peer.
 *
 * Why one stream per peer (not one per direction): frames in both directions share one ordered
 * channel, a link is "up" exactly when that one stream is open, and there is one thing to watch
 * for "down". Two peers must not both open it, so the peer with the smaller PeerId opens the stream
 * (whichever side dialled the connection) and the other waits for it. An inbound stream from a peer
 * that already has a link replaces the old one: that is what a restarted peer looks like.
 *
 * Both ends of a new stream first send a greeting frame; the link is up (and the engine hears of
 * it) once the remote's greeting arrived. So a stream that never says anything is closed after the
 * handshake timeout without ever becoming a session, and cannot displace the live link. What a
 * remote can make a connection hold is bounded: streams open at once and over the connection's
 * life, and the time one frame may take to arrive once its length prefix has (a remote stalled
 * mid-frame loses the connection).
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import type { GossipSub, Message as PubsubMessage, TopicValidatorResult } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { Connection, Libp2p, PeerInfo, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { preSharedKey } from '@libp2p/pnet';
import { webSockets } from '@libp2p/websockets';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2pOptions } from 'libp2p';
import { errAsync, okAsync, ResultAsync } from 'neverthrow';
import { monotonicClock, TimerScope, type Env, type Timer } from '../../engine/env.js';
import { describe, transportError, type TransportError } from '../../engine/errors.js';
import { equalBytes } from '../../engine/facts/bytes.js';
import type { PeerId } from '../../engine/facts/types.js';
import {
  FRAME_READ_TIMEOUT_MS,
  LINK_HANDSHAKE_TIMEOUT_MS,
  MAX_FRAME_BYTES,
  MAX_OPEN_STREAMS_PER_CONNECTION,
  MAX_STREAMS_PER_CONNECTION,
  MIN_FRAME_READ_BYTES_PER_SECOND,
} from '../../engine/limits.js';
import type { Announcer, Transport, TransportContext, TransportHandler } from '../../engine/transport.js';
import { announcementId, decodeAnnouncement, encodeAnnouncement, spaceTopic } from './announcement.js';
import { backoffDelay, type BackoffInit } from './backoff.js';
import {
  classifyDialError,
  DIAL_FAILURE_REASONS,
  listenFailureMessage,
  oneLine,
  PROTECT_PROGRESS_EVENT,
  REMOTE_REFUSAL_MESSAGE,
  trackDialProgress,
  type DialFailure,
  type DialFailureReason,
} from './dial-failure.js';
import { FrameReader, lengthPrefix } from './frame-reader.js';
import { ensureGlobalWebSocket, installPromiseWithResolvers } from './polyfill.js';

/** The libp2p protocol id of Shoal's sync stream. */
export const SHOAL_SYNC_PROTOCOL = '/shoal/sync/1.1.0';

/** The first frame each end sends on a new sync stream; the link is up once the remote's arrived. */
export const LINK_GREETING: Uint8Array = new TextEncoder().encode('shoal-sync-link');

/** Where a node listens when `listen` is not given: every interface, a free TCP port. */
export const DEFAULT_LISTEN: readonly string[] = ['/ip4/0.0.0.0/tcp/0'];

/** How long a peer hung up by `disconnect(peer)` may not reconnect, in milliseconds. */
export const DEFAULT_BAN_MS = 10_000; // 10 s

/** The mDNS service name Shoal peers announce, so they find each other and not every libp2p node. */
export const MDNS_SERVICE_TAG = '_shoal-sync._udp.local';

/** Longest wait for the remote to accept a new `/shoal/sync/1.1.0` stream, in milliseconds. */
const STREAM_OPEN_TIMEOUT_MS = 10_000; // 10 s

/** Longest wait for one dial (all addresses of the peer, handshakes included), in milliseconds. */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000; // 10 s

/** Failed dials `dialFailures()` keeps, newest last; older ones are only counted. */
export const MAX_DIAL_FAILURES_KEPT = 64; // failures

/** Peer table size below which idle entries are kept (forgetting them is not worth a sweep). */
const MIN_SWEEP_ABOVE = 64; // peers

/** Targets given up on (own address, off our allowlist) that `dialTargets()` still shows. */
const MAX_GIVEN_UP_KEPT = 32; // targets

/** Announcers whose addresses (from their announcements) are kept for a pull; the oldest go first. */
const MAX_ANNOUNCERS_KEPT = 256; // peers

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
   * Speak TCP (listen on and dial `/tcp` addresses). Browsers have no TCP: there the default is
   * `false`, and `@libp2p/tcp` is never loaded.
   *
   * @default true in Node, false in browsers
   */
  readonly tcp?: boolean;
  /**
   * More libp2p transports, next to TCP and WebSockets. In a browser, `webRTC()` from
   * `@libp2p/webrtc` and `circuitRelayTransport()` from `@libp2p/circuit-relay-v2` (with `listen:
   * ['/p2p-circuit', '/webrtc']` and a relay in `bootstrap`) let pages reach each other directly: the
   * relay carries only the WebRTC handshake, and the sync stream never runs over a relayed
   * (limited) connection.
   *
   * @default []
   */
  readonly transports?: NonNullable<Libp2pOptions['transports']>;
  /**
   * More libp2p services, next to `identify`: `{ relay: circuitRelayServer() }` makes this peer a
   * circuit-relay-v2 relay that browsers reserve a slot on and signal WebRTC through.
   *
   * @default {}
   */
  readonly services?: Readonly<Record<string, (components: never) => unknown>>;
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
  /**
   * Longest wait for the remote's greeting on a new sync stream, in milliseconds; a stream that
   * stays silent that long is closed.
   *
   * @default LINK_HANDSHAKE_TIMEOUT_MS (10000)
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * Longest a frame may take to arrive once its first byte has, in milliseconds, plus its length
   * at `MIN_FRAME_READ_BYTES_PER_SECOND`; a remote stalled mid-frame loses the connection.
   *
   * @default FRAME_READ_TIMEOUT_MS (10000)
   */
  readonly frameReadTimeoutMs?: number;
  /**
   * Run the announcements of each open space over gossipsub (`@libp2p/gossipsub`, an optional peer
   * dependency loaded only when this is on) on the topic `/shoal/space/<id>`: for spaces whose
   * peers each link to a few others rather than to everyone. A peer that hears of facts it lacks
   * and that its links stop bringing pulls them over `/shoal/sync` from the announcer: over the link
   * it has to it (after `PULL_DELAY_MS`), or else through a dial to the addresses the announcement
   * carries (after `PULL_DIAL_DELAY_MS`). Gossipsub runs over the connections this transport has
   * (it dials nobody itself: peer exchange is off), so it adds no links.
   *
   * @default false
   */
  readonly gossipsub?: boolean;
}

/** Counters of one libp2p transport, for tests, benchmarks and the CLI's `status`. */
export interface Libp2pTransportStats {
  /** Frames handed to a link, and their payload bytes (length prefixes not counted). */
  readonly framesSent: number;
  readonly bytesSent: number;
  /** Frames delivered to the handler, and their payload bytes. */
  readonly framesReceived: number;
  readonly bytesReceived: number;
  /** Links that came up / went down (a link is one `/shoal/sync/1.1.0` stream). */
  readonly linksUp: number;
  readonly linksDown: number;
  /** Dials started, and how many of them failed. */
  readonly dials: number;
  readonly dialFailures: number;
  /** Failed dials by reason (they add up to `dialFailures`). */
  readonly dialFailuresByReason: Readonly<Record<DialFailureReason, number>>;
  /** Connections or streams refused: peer off the allowlist, or banned by `disconnect`. */
  readonly refused: number;
  /** Links cut because the remote broke the framing (a length over `MAX_FRAME_BYTES`, bad varint, no greeting first). */
  readonly badFrames: number;
  /** Sync streams closed because the remote's greeting did not come within the handshake timeout. */
  readonly handshakeTimeouts: number;
  /** Connections closed because a frame stalled midway (see `frameReadTimeoutMs`). */
  readonly readTimeouts: number;
  /** Inbound sync streams refused because their connection opened `MAX_STREAMS_PER_CONNECTION` already. */
  readonly streamsRefused: number;
  /** Exceptions thrown by the handler's callbacks (a bug above the transport; the link goes on). */
  readonly handlerErrors: number;
  /** Announcements published, and delivered to the peer (and accepted by it). */
  readonly announcementsSent: number;
  readonly announcementsReceived: number;
  /** Gossipsub messages on a space topic refused (not relayed): unsigned, out of shape, over the limits. */
  readonly badAnnouncements: number;
  /** Pulls from an announcer we had no link to (a dial, or a stream on a connection we had). */
  readonly pulls: number;
  /** Connections a pull dialled, closed again once they brought what was announced (or idled). */
  readonly pullsReleased: number;
}

/** A {@link Transport} over libp2p, with counters and a view of its live links. */
export interface Libp2pTransport extends Transport {
  /** Counters since `start`. */
  stats(): Libp2pTransportStats;
  /** Peers with a live link right now. */
  linkedPeers(): PeerId[];
  /** Every live link: to whom, over which connection, and whether it is direct or relayed. */
  links(): LinkInfo[];
  /**
   * Dial `address` now and keep re-dialling it like a `bootstrap` address (a CLI's `connect`, or an
   * address learned out of band). Resolves once the dial is started (an error only for text that is
   * not a multiaddr); the link reports through `peerUp` as usual, a failure through
   * `onDialFailure` and `dialTargets()`.
   */
  dial(address: string): ResultAsync<void, TransportError>;
  /** The last {@link MAX_DIAL_FAILURES_KEPT} failed dials, oldest first. */
  dialFailures(): DialFailure[];
  /**
   * Call `listener` on every failed dial (including a connection the remote closed right after the
   * handshake). Returns the function that stops it.
   *
   * @example
   * ```ts
   * transport.onDialFailure((f) => console.warn(`cannot reach ${f.address}: ${f.reason}: ${f.message}`));
   * ```
   */
  onDialFailure(listener: (failure: DialFailure) => void): () => void;
  /** What the transport is trying to reach, and how that goes: for a "peers" screen. */
  dialTargets(): DialTarget[];
}

/** One address or peer the transport keeps dialling (bootstrap, `dial()`, mDNS), and how it goes. */
export interface DialTarget {
  /** The address dialled: the one a live outbound connection uses, else the first one known. */
  readonly address: string;
  /** The peer, once known (a bare bootstrap address has none until it answers). */
  readonly peer: PeerId | undefined;
  /** Where it came from: `bootstrap` (init), `dial` (the method) or `mdns`. */
  readonly source: 'bootstrap' | 'dial' | 'mdns';
  /**
   * `linked`: the sync stream is up. `connecting`: a dial or the stream is under way. `waiting`: the
   * last attempt failed, the next is scheduled. `given-up`: never tried again (own address, off our
   * allowlist).
   */
  readonly state: 'linked' | 'connecting' | 'waiting' | 'given-up';
  /** Failed dials since it was last linked. */
  readonly failures: number;
  readonly lastFailure: DialFailure | undefined;
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

/** One `/shoal/sync/1.1.0` stream to a peer: waiting for the remote's greeting, then up. */
interface Link {
  readonly peer: PeerId;
  readonly stream: Stream;
  readonly connection: Connection;
  readonly reader: FrameReader;
  /** The remote greeted: the link is up (and the handler was told). */
  up: boolean;
  /** Tail of the write chain: writes go out one after the other, in `send` order. */
  tail: Promise<void>;
  closed: boolean;
  /** The greeting's deadline until up; then the deadline of a frame in progress. */
  timer: Timer | undefined;
}

/** One live link, as {@link Libp2pTransport.links} shows it. */
export interface LinkInfo {
  readonly peer: PeerId;
  /** The remote address of the connection that carries it. */
  readonly address: string;
  /** `webrtc`, `websockets`, `tcp`, or `relayed` (through a circuit-relay-v2 relay). */
  readonly kind: LinkKind;
}

/** What carries a link: see {@link LinkInfo}. */
export type LinkKind = 'webrtc' | 'websockets' | 'tcp' | 'relayed';

/** What kind of connection `address` (a connection's remote address) is. */
export function linkKindOf(address: string): LinkKind {
  // A WebRTC connection signalled through a relay keeps the relay's address before `/webrtc`.
  if (address.includes('/webrtc')) return 'webrtc';
  if (address.includes('/p2p-circuit')) return 'relayed';
  if (address.includes('/ws') || address.includes('/wss')) return 'websockets';
  return 'tcp';
}

/** Whether this code runs in a browser (or a worker): no TCP, no mDNS there. */
function inBrowser(): boolean {
  const g = globalThis as { process?: { versions?: { node?: string } } };
  return g.process?.versions?.node === undefined;
}

/** How a failed target is tracked (per peer, or per bare address). */
interface FailureTrack {
  failures: number;
  lastFailure: DialFailure | undefined;
}

/** What the transport knows about one remote peer. */
interface PeerState extends FailureTrack {
  readonly id: PeerId;
  /** Where to dial it (bootstrap or mDNS); empty means "whatever the peer store knows". */
  addrs: Multiaddr[];
  /** Keep a connection to it: re-dial after every drop. */
  wanted: boolean;
  /** How it became wanted (the first way wins). */
  source: DialTarget['source'];
  /** The address of the live outbound connection that carries its link, if it is one of ours. */
  linkedVia: string | undefined;
  /** Consecutive failures to get a link up, for the backoff. */
  attempt: number;
  /** The scheduled dial (or stream re-open) attempt. */
  timer: Timer | undefined;
  dialing: boolean;
  opening: boolean;
  link: Link | undefined;
  /** `env.now()` until which it is refused (set by `disconnect`). */
  bannedUntil: number;
  /** A pull dialled it (we had no connection): the connection is ours to close once released. */
  pulled: boolean;
}

/** A bootstrap address without `/p2p/<id>`: dialled until it answers, then tracked by PeerId. */
interface AnonymousTarget extends FailureTrack {
  readonly addr: Multiaddr;
  readonly source: DialTarget['source'];
  attempt: number;
  timer: Timer | undefined;
  dialing: boolean;
}

type MutableStats = {
  -readonly [K in keyof Libp2pTransportStats]: K extends 'dialFailuresByReason'
    ? Record<DialFailureReason, number>
    : Libp2pTransportStats[K];
};

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
    dialFailuresByReason: Object.fromEntries(DIAL_FAILURE_REASONS.map((r) => [r, 0])) as Record<
      DialFailureReason,
      number
    >,
    refused: 0,
    badFrames: 0,
    handshakeTimeouts: 0,
    readTimeouts: 0,
    streamsRefused: 0,
    handlerErrors: 0,
    announcementsSent: 0,
    announcementsReceived: 0,
    badAnnouncements: 0,
    pulls: 0,
    pullsReleased: 0,
  };
  readonly #failures: DialFailure[] = [];
  readonly #failureListeners = new Set<(failure: DialFailure) => void>();
  readonly #givenUp: DialTarget[] = [];
  /** Connections that carried a link: their closing is not a refusal. */
  readonly #linkedConnections = new WeakSet<Connection>();
  /** Inbound sync streams each connection opened so far. */
  readonly #streamsOpened = new WeakMap<Connection, number>();
  /** Streams waiting for the remote's greeting. */
  readonly #greeting = new Set<Link>();
  /** Size of the peer table past which entries that hold nothing are forgotten. */
  #sweepAbove = MIN_SWEEP_ABOVE;
  /** Where each recent announcer said it can be dialled (oldest first). */
  readonly #announcedAddrs = new Map<PeerId, Multiaddr[]>();
  /** The gossipsub service, when `gossipsub` is on and the node started. */
  #pubsub: GossipSub | undefined;
  /** Gossipsub's validation results (its enum, loaded with it). */
  #validation: typeof TopicValidatorResult | undefined;
  readonly announcer: Announcer | undefined;
  #timers: TimerScope | undefined;
  #clock: () => number = () => 0;
  #node: Libp2p | undefined;
  #self: PeerId | undefined;
  #env: Env | undefined;
  #handler: TransportHandler | undefined;
  #started = false;
  #stopped = false;

  constructor(init: Libp2pTransportInit) {
    this.#init = init;
    this.#allow = init.allow === undefined ? undefined : new Set(init.allow);
    this.announcer =
      init.gossipsub === true
        ? {
            join: (space) => this.#join(space),
            leave: (space) => this.#leave(space),
            announce: (space, frame) => this.#announce(space, frame),
            pull: (peer) => this.#pull(peer),
            release: (peer) => this.#release(peer),
          }
        : undefined;
  }

  start(context: TransportContext, handler: TransportHandler): ResultAsync<void, TransportError> {
    if (this.#started) return errAsync(transportError('libp2p transport: start() was already called'));
    const key = context.privateKey;
    if (key.type !== 'Ed25519' || key.raw.length !== 64) {
      return errAsync(transportError(`libp2p transport: the identity must be an Ed25519 key, not ${key.type}`));
    }
    this.#started = true;
    this.#self = context.peerId;
    this.#env = context.env;
    this.#timers = new TimerScope(context.env);
    this.#clock = monotonicClock(context.env);
    this.#handler = handler;
    return ResultAsync.fromPromise(this.#start(context), (e) =>
      transportError(`libp2p transport failed to start: ${listenFailureMessage(e) ?? oneLine(e)}`, e),
    );
  }

  async #start(context: TransportContext): Promise<void> {
    const init = this.#init;
    const listen = (init.listen ?? DEFAULT_LISTEN).map((a) => multiaddr(a));
    const bootstrap = (init.bootstrap ?? []).map((a) => multiaddr(a));
    const websockets = init.websockets ?? true;
    const useTcp = init.tcp ?? !inBrowser();
    if (websockets) await ensureGlobalWebSocket();
    // Loaded only when used, so a browser bundle never runs (or fetches) Node-only code.
    const transports: NonNullable<Libp2pOptions['transports']> = [];
    if (useTcp) transports.push((await import('@libp2p/tcp')).tcp());
    if (websockets) transports.push(webSockets());
    transports.push(...(init.transports ?? []));
    const discovery = init.mdns === true ? [(await import('@libp2p/mdns')).mdns({ serviceTag: MDNS_SERVICE_TAG })] : [];
    const gossip = init.gossipsub === true ? await import('@libp2p/gossipsub') : undefined;
    this.#validation = gossip?.TopicValidatorResult;
    const pubsub =
      gossip === undefined
        ? {}
        : {
            pubsub: gossip.gossipsub({
              // Announcements are hints: one published before the topic has peers is simply lost.
              allowPublishToZeroTopicPeers: true,
              ignoreDuplicatePublishError: true,
              fastMsgIdFn: announcementId,
            }),
          };

    const options: Libp2pOptions = {
      // The engine's key is not a libp2p object: libp2p gets its own, from the same 64 bytes
      // (seed ‖ public key), so its PeerId is the engine's.
      privateKey: privateKeyFromRaw(context.privateKey.raw),
      addresses: { listen: listen.map((ma) => ma.toString()) },
      transports,
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { ...(init.services as Libp2pOptions['services']), ...pubsub, identify: identify() },
      connectionGater: {
        denyDialPeer: (peer) => this.#refuse(peer.toString()),
        denyDialMultiaddr: (ma) => {
          const id = peerIdOf(ma);
          return id !== undefined && this.#refuse(id);
        },
        denyInboundEncryptedConnection: (peer) => this.#refuse(peer.toString()),
        denyOutboundEncryptedConnection: (peer) => this.#refuse(peer.toString()),
      },
      ...(init.psk === undefined ? {} : { connectionProtector: reportingProtector(init.psk) }),
      ...(discovery.length > 0 ? { peerDiscovery: discovery } : {}),
      start: false,
    };
    const node = await createLibp2p(options);
    if (node.peerId.toString() !== context.peerId) {
      throw new Error(`the node's PeerId ${node.peerId.toString()} is not the peer's origin ${context.peerId}`);
    }
    this.#node = node;
    await node.handle(SHOAL_SYNC_PROTOCOL, (stream, connection) => this.#onInboundStream(stream, connection), {
      maxInboundStreams: MAX_OPEN_STREAMS_PER_CONNECTION,
      maxOutboundStreams: MAX_OPEN_STREAMS_PER_CONNECTION,
    });
    this.#pubsub = (node.services as { pubsub?: GossipSub }).pubsub;
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

    for (const addr of bootstrap) this.#addTarget(addr, 'bootstrap');
  }

  /** Keep a connection to `addr` from now on: dial it now, re-dial it after every drop. */
  #addTarget(addr: Multiaddr, source: DialTarget['source']): void {
    const id = peerIdOf(addr);
    if (id === this.#self || (id === undefined && this.#isOwnAddress(addr))) {
      this.#giveUp(addr, id as PeerId | undefined, source, 'self', "that is this peer's own address");
      return;
    }
    if (id !== undefined && this.#allow !== undefined && !this.#allow.has(id)) {
      this.#giveUp(addr, id as PeerId, source, 'not-allowed', `${id} is not on our allowlist (allow): not dialled`);
      return;
    }
    if (id === undefined) {
      if (this.#anonymous.some((t) => t.addr.equals(addr))) return;
      const target: AnonymousTarget = {
        addr,
        source,
        attempt: 0,
        timer: undefined,
        dialing: false,
        failures: 0,
        lastFailure: undefined,
      };
      this.#anonymous.push(target);
      this.#dialAnonymous(target);
    } else {
      const state = this.#state(id as PeerId);
      if (!state.wanted) state.source = source;
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
    return ResultAsync.fromPromise(this.#write(link, frame), (e) => {
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
    this.#timers?.close();
    for (const link of [...this.#greeting]) this.#teardown(link, 'stopped', false);
    for (const state of this.#peers.values()) {
      cancel(state);
      // Report the links down here; node.stop() then closes them gracefully (no reset).
      if (state.link !== undefined) this.#teardown(state.link, 'stopped', false);
    }
    const node = this.#node;
    if (node !== undefined) await stopQuietly(node);
  }

  stats(): Libp2pTransportStats {
    return { ...this.#stats, dialFailuresByReason: { ...this.#stats.dialFailuresByReason } };
  }

  dialFailures(): DialFailure[] {
    return [...this.#failures];
  }

  onDialFailure(listener: (failure: DialFailure) => void): () => void {
    this.#failureListeners.add(listener);
    return () => this.#failureListeners.delete(listener);
  }

  dialTargets(): DialTarget[] {
    const targets: DialTarget[] = [];
    for (const state of this.#peers.values()) {
      if (!state.wanted) continue;
      const first = state.addrs[0];
      const address =
        state.linkedVia ?? (first === undefined ? `/p2p/${state.id}` : withPeerId(first.toString(), state.id));
      const busy = state.dialing || state.opening || this.#openConnection(state.id) !== undefined;
      targets.push({
        address,
        peer: state.id,
        source: state.source,
        state: state.link !== undefined ? 'linked' : busy ? 'connecting' : 'waiting',
        failures: state.failures,
        lastFailure: state.lastFailure,
      });
    }
    for (const target of this.#anonymous) {
      targets.push({
        address: target.addr.toString(),
        peer: undefined,
        source: target.source,
        state: target.dialing ? 'connecting' : 'waiting',
        failures: target.failures,
        lastFailure: target.lastFailure,
      });
    }
    return [...targets, ...this.#givenUp];
  }

  linkedPeers(): PeerId[] {
    return [...this.#peers.values()].filter((s) => s.link !== undefined).map((s) => s.id);
  }

  links(): LinkInfo[] {
    const out: LinkInfo[] = [];
    for (const state of this.#peers.values()) {
      if (state.link === undefined) continue;
      const address = state.link.connection.remoteAddr.toString();
      out.push({ peer: state.id, address, kind: linkKindOf(address) });
    }
    return out;
  }

  dial(address: string): ResultAsync<void, TransportError> {
    if (this.#node === undefined || this.#stopped) return errAsync(transportError('libp2p transport is not running'));
    let addr: Multiaddr;
    try {
      addr = multiaddr(address);
    } catch (e) {
      return errAsync(transportError(`not a multiaddr: ${address}: ${describe(e)}`, e));
    }
    this.#addTarget(addr, 'dial');
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
        if (this.#stopped || this.#refuse(state.id) || state.link !== undefined) {
          // Stopped, banned meanwhile, or the remote opened one first: keep what is there.
          state.opening = false;
          stream.abort(new Error('not needed'));
          return;
        }
        // Still opening until the remote greets (or does not).
        if (!this.#attach(state, stream, connection)) state.opening = false;
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
    // Each stream may become a session: a connection gets a bounded number of them in its life.
    const opened = (this.#streamsOpened.get(connection) ?? 0) + 1;
    this.#streamsOpened.set(connection, opened);
    if (opened > MAX_STREAMS_PER_CONNECTION) {
      this.#stats.streamsRefused += 1;
      stream.abort(new Error('too many streams on this connection'));
      connection.abort(new Error(`more than ${MAX_STREAMS_PER_CONNECTION} sync streams on one connection`));
      return;
    }
    // A stream from a peer that has a link means it started over (restarted, or its old stream died
    // without us noticing yet): once it greets, it replaces the old one.
    this.#attach(this.#state(peer), stream, connection);
  }

  /** Take a new stream: greet, and wait (bounded) for the remote's greeting. False if it is closed already. */
  #attach(state: PeerState, stream: Stream, connection: Connection): boolean {
    if (stream.status !== 'open') return false;
    const link: Link = {
      peer: state.id,
      stream,
      connection,
      reader: new FrameReader(MAX_FRAME_BYTES, this.#clock),
      up: false,
      tail: Promise.resolve(),
      closed: false,
      timer: undefined,
    };
    this.#greeting.add(link);
    link.timer = this.#timers?.after(this.#init.handshakeTimeoutMs ?? LINK_HANDSHAKE_TIMEOUT_MS, () => {
      link.timer = undefined;
      if (link.up) return;
      this.#stats.handshakeTimeouts += 1;
      this.#teardown(link, 'no greeting in time', true);
    });
    stream.addEventListener('message', (event) => this.#onData(link, event.data));
    stream.addEventListener('close', () => this.#teardown(link, 'stream closed', false));
    stream.addEventListener('remoteCloseWrite', () => this.#teardown(link, 'the remote closed the stream', true));
    this.#write(link, LINK_GREETING).catch((e: unknown) =>
      this.#teardown(link, `greeting failed: ${describe(e)}`, true),
    );
    return true;
  }

  /** Bytes from the remote: frames out of them, the greeting first. */
  #onData(link: Link, data: Uint8Array | Iterable<Uint8Array>): void {
    for (const chunk of data instanceof Uint8Array ? [data] : data) {
      if (link.closed) return;
      const frames = link.reader.push(chunk);
      if (!Array.isArray(frames)) {
        this.#stats.badFrames += 1;
        this.#teardown(link, frames.error, true);
        return;
      }
      for (const frame of frames) {
        if (link.closed) return;
        if (!link.up) {
          if (!equalBytes(frame, LINK_GREETING)) {
            this.#stats.badFrames += 1;
            this.#teardown(link, 'the first frame is not the greeting', true);
            return;
          }
          this.#up(link);
          continue;
        }
        this.#stats.framesReceived += 1;
        this.#stats.bytesReceived += frame.byteLength;
        this.#call(() => this.#handler?.message(link.peer, frame));
      }
    }
    if (link.up && !link.closed) this.#watchFrame(link);
  }

  /** The remote greeted: the link is up, and replaces any older one to the same peer. */
  #up(link: Link): void {
    this.#greeting.delete(link);
    link.timer?.cancel();
    link.timer = undefined;
    const state = this.#state(link.peer);
    if (link.stream.direction === 'outbound') state.opening = false;
    if (this.#stopped || this.#refuse(state.id)) {
      this.#teardown(link, 'refused', true);
      return;
    }
    if (state.link !== undefined) this.#teardown(state.link, 'replaced by a new stream', true);
    link.up = true;
    state.link = link;
    state.attempt = 0;
    state.failures = 0;
    state.linkedVia =
      link.connection.direction === 'outbound'
        ? withPeerId(link.connection.remoteAddr.toString(), state.id)
        : undefined;
    this.#linkedConnections.add(link.connection);
    this.#stats.linksUp += 1;
    this.#call(() => this.#handler?.peerUp(state.id));
  }

  /**
   * A frame in progress must end by its deadline: the read timeout from its first byte, plus its
   * length at the slowest rate allowed. A remote stalled mid-frame loses the connection.
   */
  #watchFrame(link: Link): void {
    const progress = link.reader.inProgress();
    if (progress === undefined) {
      link.timer?.cancel();
      link.timer = undefined;
      return;
    }
    if (link.timer !== undefined) return; // it looks again when it fires
    const deadline =
      progress.startedAt +
      (this.#init.frameReadTimeoutMs ?? FRAME_READ_TIMEOUT_MS) +
      ((progress.length ?? 0) * 1000) / MIN_FRAME_READ_BYTES_PER_SECOND;
    link.timer = this.#timers?.after(Math.max(0, deadline - this.#clock()), () => {
      link.timer = undefined;
      if (link.closed) return;
      const now = link.reader.inProgress();
      if (now === undefined) return;
      if (now.startedAt === progress.startedAt && now.length === progress.length) {
        this.#stats.readTimeouts += 1;
        this.#teardown(link, 'stalled mid-frame', true);
        link.connection.abort(new Error('a frame stalled midway'));
        return;
      }
      this.#watchFrame(link); // another frame, or the length became known: a new deadline
    });
  }

  /** Send one frame on the link's stream, after the ones before it. */
  #write(link: Link, frame: Uint8Array): Promise<void> {
    const write = link.tail.then(async () => {
      if (link.closed) throw new Error('the link closed');
      const prefixSent = link.stream.send(lengthPrefix(frame.byteLength));
      const frameSent = link.stream.send(frame);
      if (!prefixSent || !frameSent) await link.stream.onDrain();
    });
    // The chain must go on after a failed write; the failure itself is reported to this caller.
    link.tail = write.catch(() => undefined);
    return write;
  }

  /** The link is over: report it once, and try again on a surviving connection if it is ours to open. */
  #teardown(link: Link, reason: string, abort: boolean): void {
    if (link.closed) return;
    link.closed = true;
    link.timer?.cancel();
    link.timer = undefined;
    this.#greeting.delete(link);
    const state = this.#peers.get(link.peer);
    if (abort && link.stream.status === 'open') link.stream.abort(new Error(reason));
    if (state === undefined) return;
    if (!link.up) {
      // Our stream never got a greeting: open another later.
      if (link.stream.direction === 'outbound' && state.opening) {
        state.opening = false;
        if (!this.#stopped) this.#scheduleStream(state);
      }
      return;
    }
    if (state.link !== link) return;
    state.link = undefined;
    this.#stats.linksDown += 1;
    this.#call(() => this.#handler?.peerDown(link.peer));
    if (!this.#stopped) this.#scheduleStream(state);
  }

  /** Re-open the stream later if a connection survives; if none does, `peer:disconnect` re-dials. */
  #scheduleStream(state: PeerState): void {
    if (this.#stopped || state.timer !== undefined || this.#self === undefined || !(this.#self < state.id)) return;
    const delay = this.#delay(state);
    state.timer = this.#timers?.after(delay, () => {
      state.timer = undefined;
      if (this.#openConnection(state.id) !== undefined) this.#maybeOpenStream(state);
      else if (state.wanted) this.#dial(state);
    });
  }

  // ---- announcements (gossipsub) ----------------------------------------------------------------

  #join(space: string): void {
    const pubsub = this.#pubsub;
    const result = this.#validation;
    if (pubsub === undefined || result === undefined || this.#stopped) return;
    const topic = spaceTopic(space);
    // Gossipsub asks once per new message, before relaying it: a bad one is rejected, which also
    // lowers the score of the peer that sent it. So the engine hears of each announcement here.
    pubsub.topicValidators.set(topic, (_from, message) => {
      const valid = this.#onAnnouncement(space, message);
      if (!valid) this.#stats.badAnnouncements += 1;
      return valid ? result.Accept : result.Reject;
    });
    pubsub.subscribe(topic);
  }

  #leave(space: string): void {
    const pubsub = this.#pubsub;
    if (pubsub === undefined || this.#stopped) return;
    const topic = spaceTopic(space);
    pubsub.unsubscribe(topic);
    pubsub.topicValidators.delete(topic);
  }

  #announce(space: string, frame: Uint8Array): void {
    const pubsub = this.#pubsub;
    const node = this.#node;
    if (pubsub === undefined || node === undefined || this.#stopped) return;
    const message = encodeAnnouncement(
      node.getMultiaddrs().map((ma) => ma.bytes),
      frame,
    );
    this.#stats.announcementsSent += 1;
    // A publish that fails (the node stopping) is a lost hint: the links still sync.
    pubsub.publish(spaceTopic(space), message).catch(() => undefined);
  }

  /** An announcement on `space`'s topic: false when it is unsigned or does not decode (engine's part too). */
  #onAnnouncement(space: string, message: PubsubMessage): boolean {
    if (message.type !== 'signed') return false;
    const decoded = decodeAnnouncement(message.data);
    if (decoded.isErr()) return false;
    if (this.#stopped) return true;
    const from = message.from.toString() as PeerId;
    let valid = true;
    this.#call(() => {
      valid = this.#handler?.announcement?.(from, space, decoded.value.frame) ?? true;
    });
    if (!valid) return false;
    this.#stats.announcementsReceived += 1;
    const addrs: Multiaddr[] = [];
    for (const bytes of decoded.value.addrs) {
      const addr = announcedAddr(bytes, from);
      if (addr !== undefined) addrs.push(addr);
    }
    this.#announcedAddrs.delete(from);
    this.#announcedAddrs.set(from, addrs);
    if (this.#announcedAddrs.size > MAX_ANNOUNCERS_KEPT) {
      this.#announcedAddrs.delete(this.#announcedAddrs.keys().next().value!);
    }
    return true;
  }

  /** Get a link to an announcer: a stream on a connection we have, or a dial to where it said it is. */
  #pull(peer: PeerId): void {
    if (this.#node === undefined || this.#stopped || peer === this.#self || this.#refuse(peer)) return;
    const state = this.#state(peer);
    if (state.link !== undefined) return;
    this.#stats.pulls += 1;
    // A peer we keep dialling has addresses of our choosing; any other is dialled where it said it is.
    const announced = this.#announcedAddrs.get(peer);
    if (!state.wanted && announced !== undefined) state.addrs = announced;
    if (!state.wanted && this.#openConnection(peer) === undefined) state.pulled = true;
    this.#dial(state);
  }

  /** A pull's link is done: hang up the connection the pull dialled, unless the peer is one we keep. */
  #release(peer: PeerId): void {
    const node = this.#node;
    const state = this.#peers.get(peer);
    if (node === undefined || this.#stopped || state === undefined || !state.pulled) return;
    state.pulled = false;
    if (state.wanted) return;
    this.#stats.pullsReleased += 1;
    cancel(state);
    node.hangUp(peerIdFromString(peer)).then(
      () => undefined,
      () => undefined, // already gone
    );
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
    if (!state.wanted) state.source = 'mdns';
    state.wanted = true;
    if (info.multiaddrs.length > 0) state.addrs = [...info.multiaddrs];
    if (state.timer === undefined) this.#dial(state);
  }

  #scheduleDial(state: PeerState): void {
    if (this.#stopped || state.timer !== undefined || state.dialing) return;
    const delay = this.#delay(state);
    state.timer = this.#timers?.after(delay, () => {
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
    const address = state.addrs[0];
    const { progress, onProgress } = trackDialProgress();
    node.dial(target, { signal: AbortSignal.timeout(this.#dialTimeoutMs()), onProgress }).then(
      (connection) => {
        state.dialing = false;
        this.#watchForRefusal(connection, state, address);
      },
      (e: unknown) => {
        state.dialing = false;
        if (this.#stopped) return;
        const { reason, message } = classifyDialError(e, {
          address,
          progress,
          psk: this.#init.psk !== undefined,
          timeoutMs: this.#dialTimeoutMs(),
        });
        const where = address === undefined ? `/p2p/${state.id}` : withPeerId(address.toString(), state.id);
        this.#dialFailed(state, { address: where, peer: state.id, reason, message });
        if (reason === 'self' || (reason === 'not-allowed' && !this.#isBanned(state.id))) {
          // Dialling it again cannot go differently.
          state.wanted = false;
          cancel(state);
          this.#rememberGivenUp({ ...this.#targetOf(state, where), state: 'given-up' });
          return;
        }
        if (state.wanted) this.#scheduleDial(state);
      },
    );
  }

  #dialAnonymous(target: AnonymousTarget): void {
    const node = this.#node;
    if (node === undefined || this.#stopped) return;
    this.#stats.dials += 1;
    target.dialing = true;
    const { progress, onProgress } = trackDialProgress();
    node.dial(target.addr, { signal: AbortSignal.timeout(this.#dialTimeoutMs()), onProgress }).then(
      (connection) => {
        target.dialing = false;
        // Now it has a name: track it like any bootstrap peer from here on.
        const index = this.#anonymous.indexOf(target);
        if (index >= 0) this.#anonymous.splice(index, 1);
        const state = this.#state(connection.remotePeer.toString() as PeerId);
        if (!state.wanted) state.source = target.source;
        state.wanted = true;
        if (!state.addrs.some((a) => a.equals(target.addr))) state.addrs = [...state.addrs, target.addr];
        this.#watchForRefusal(connection, state, target.addr);
      },
      (e: unknown) => {
        target.dialing = false;
        if (this.#stopped) return;
        const { reason, message } = classifyDialError(e, {
          address: target.addr,
          progress,
          psk: this.#init.psk !== undefined,
          timeoutMs: this.#dialTimeoutMs(),
        });
        this.#dialFailed(target, { address: target.addr.toString(), reason, message });
        // Only "self" is final here: behind a bare address, a refused peer may be a banned one.
        if (reason === 'self') {
          const index = this.#anonymous.indexOf(target);
          if (index >= 0) this.#anonymous.splice(index, 1);
          this.#rememberGivenUp({
            address: target.addr.toString(),
            peer: undefined,
            source: target.source,
            state: 'given-up',
            failures: target.failures,
            lastFailure: target.lastFailure,
          });
          return;
        }
        const delay = backoffDelay(target.attempt, this.#init.backoff ?? {}, this.#random());
        target.attempt += 1;
        target.timer = this.#timers?.after(delay, () => {
          target.timer = undefined;
          this.#dialAnonymous(target);
        });
      },
    );
  }

  /**
   * A dial that connected but whose connection the remote closes before any link came up was
   * refused by the remote (its allowlist, or a ban): count it as a failed dial, with that reason.
   */
  #watchForRefusal(connection: Connection, state: PeerState, address: Multiaddr | undefined): void {
    const opened = this.#now();
    connection.addEventListener('close', () => {
      if (this.#stopped || this.#linkedConnections.has(connection) || state.link !== undefined) return;
      if (this.#isBanned(state.id)) return; // we hung up ourselves
      if (this.#now() - opened > this.#dialTimeoutMs()) return; // it lived: not a refusal at the door
      const where = withPeerId((address ?? connection.remoteAddr).toString(), state.id);
      this.#dialFailed(state, {
        address: where,
        peer: state.id,
        reason: 'not-allowed',
        message: REMOTE_REFUSAL_MESSAGE,
      });
    });
  }

  /** Count and report a failed dial. */
  #dialFailed(track: FailureTrack, failure: Omit<DialFailure, 'at'>): void {
    const full: DialFailure = { ...failure, at: this.#now() };
    this.#stats.dialFailures += 1;
    this.#stats.dialFailuresByReason[full.reason] += 1;
    this.#failures.push(full);
    if (this.#failures.length > MAX_DIAL_FAILURES_KEPT) this.#failures.shift();
    track.failures += 1;
    track.lastFailure = full;
    for (const listener of this.#failureListeners) this.#call(() => listener(full));
  }

  /** A target that cannot work (our own address, off our allowlist): report it once, never dial it. */
  #giveUp(
    addr: Multiaddr,
    peer: PeerId | undefined,
    source: DialTarget['source'],
    reason: DialFailureReason,
    message: string,
  ): void {
    const address = addr.toString();
    const track: FailureTrack = { failures: 0, lastFailure: undefined };
    this.#dialFailed(track, { address, ...(peer === undefined ? {} : { peer }), reason, message });
    this.#rememberGivenUp({
      address,
      peer,
      source,
      state: 'given-up',
      failures: track.failures,
      lastFailure: track.lastFailure,
    });
  }

  #rememberGivenUp(target: DialTarget): void {
    const index = this.#givenUp.findIndex((t) => t.address === target.address);
    if (index >= 0) this.#givenUp.splice(index, 1);
    this.#givenUp.push(target);
    if (this.#givenUp.length > MAX_GIVEN_UP_KEPT) this.#givenUp.shift();
  }

  #targetOf(state: PeerState, address: string): DialTarget {
    return {
      address,
      peer: state.id,
      source: state.source,
      state: 'waiting',
      failures: state.failures,
      lastFailure: state.lastFailure,
    };
  }

  /** Whether a bare address is one this node listens on (dialling it would reach ourselves). */
  #isOwnAddress(addr: Multiaddr): boolean {
    const bare = addr.toString();
    return this.addresses().some((own) => own.replace(/\/p2p\/[^/]+$/, '') === bare);
  }

  #dialTimeoutMs(): number {
    return this.#init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
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
    // A limited connection (relayed through circuit-relay-v2) is only for signalling: the relay caps
    // its bytes and lifetime, so the link waits for a direct one.
    return node.getConnections(peerIdFromString(peer)).find((c) => c.status === 'open' && c.limits === undefined);
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
        pulled: false,
        source: 'bootstrap',
        linkedVia: undefined,
        failures: 0,
        lastFailure: undefined,
      };
      this.#peers.set(peer, state);
      // Every identity that ever connects gets an entry: forget the ones that hold nothing, so the
      // table follows the peers that matter (linked, wanted, busy, banned), not all ever seen.
      if (this.#peers.size > this.#sweepAbove) {
        for (const other of this.#peers.values()) if (this.#idle(other)) this.#peers.delete(other.id);
        this.#sweepAbove = Math.max(MIN_SWEEP_ABOVE, 2 * this.#peers.size);
      }
    }
    return state;
  }

  /** Nothing to remember about it: not wanted, not linked or linking, nothing scheduled, no ban. */
  #idle(state: PeerState): boolean {
    return (
      !state.wanted &&
      state.link === undefined &&
      !state.dialing &&
      !state.opening &&
      state.timer === undefined &&
      state.bannedUntil <= this.#now()
    );
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

/** `address` ending in `/p2p/<peer>`. */
function withPeerId(address: string, peer: string): string {
  return address.includes('/p2p/') ? address : `${address}/p2p/${peer}`;
}

/**
 * `@libp2p/pnet`'s protector, reporting the start of its handshake as a progress event of the dial,
 * so a dial that fails there is known to have failed on the swarm key.
 */
function reportingProtector(psk: Uint8Array): NonNullable<Libp2pOptions['connectionProtector']> {
  return () => {
    const inner = preSharedKey({ psk })();
    return {
      protect: (connection, options) => {
        (options as { onProgress?: (event: { type: string }) => void } | undefined)?.onProgress?.({
          type: PROTECT_PROGRESS_EVENT,
        });
        return inner.protect(connection, options);
      },
    };
  };
}

/** An address from `from`'s announcement, ending in `/p2p/<from>`; undefined if it is not one. */
function announcedAddr(bytes: Uint8Array, from: PeerId): Multiaddr | undefined {
  let addr: Multiaddr;
  try {
    addr = multiaddr(bytes);
  } catch {
    return undefined;
  }
  const named = peerIdOf(addr);
  if (named === undefined) return addr.encapsulate(`/p2p/${from}`);
  return named === from ? addr : undefined;
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
