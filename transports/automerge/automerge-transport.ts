/**
 * Any automerge-repo `NetworkAdapter` (MessageChannel, BroadcastChannel, WebSocket client/server)
 * as a Shoal transport.
 *
 * The adapters carry messages of any `type` they do not know unchanged, so Shoal rides on them as
 * `{ type: 'shoal', senderId, targetId, data }`, where `data` starts with a one-byte tag (see
 * `handshake.ts`). The tag also keeps `data` from ever being empty, which the WebSocket adapters
 * refuse to send.
 *
 * A peer id on an adapter is only a claim, so no link comes up on it: a link comes up when the
 * signed handshake of `handshake.ts` succeeds (each side signs the other's fresh nonce with the key
 * its PeerId names) and every later message is sealed under that handshake's keys. Until then the
 * engine hears nothing (no `peerUp`, no frame). Handshakes are bounded (at once, per second, and in
 * time), and so are links; a handshake we started that fails is tried again with backoff. A plain
 * automerge Repo on the same adapter never answers the handshake, so it never shows up as a Shoal
 * peer; a peer that restarted runs a new handshake, and the new link replaces the old one.
 */
import type { Message, NetworkAdapterInterface, PeerId as AutomergePeerId } from '@automerge/automerge-repo/slim';
import { errAsync, okAsync, type ResultAsync } from 'neverthrow';
import { monotonicClock, TimerScope, type Env, type Timer } from '../../engine/env.js';
import { describe, transportError, type TransportError } from '../../engine/errors.js';
import { toHex } from '../../engine/facts/bytes.js';
import type { IdentityKey, PeerId } from '../../engine/facts/types.js';
import {
  HANDSHAKE_RETRY_MAX_MS,
  HANDSHAKE_RETRY_MIN_MS,
  LINK_HANDSHAKE_TIMEOUT_MS,
  MAX_FRAME_BYTES,
  MAX_HANDSHAKES_PER_SECOND,
  MAX_LINKS_PER_TRANSPORT,
  MAX_ORIGIN_LENGTH,
  MAX_PENDING_HANDSHAKES,
} from '../../engine/limits.js';
import type { Transport, TransportContext, TransportHandler } from '../../engine/transport.js';
import {
  encodeConfirm,
  encodeHello,
  encodeReply,
  ephemeral,
  NONCE_BYTES,
  parseConfirm,
  parseHello,
  parseReply,
  publicKeyOf,
  SEALED_HEADER_BYTES,
  SealedLink,
  signedBytes,
  Tag,
  verifySignature,
  type Ephemeral,
  type Hello,
  type SealedTag,
  type Transcript,
} from './handshake.js';

/** The automerge-repo message type Shoal's traffic travels as. */
export const SHOAL_MESSAGE_TYPE = 'shoal';

/** How long a peer dropped by `disconnect(peer)` is ignored, in milliseconds. */
export const DEFAULT_AUTOMERGE_BAN_MS = 10_000; // 10 s

/** Remotes one transport tracks at once (linked, handshaking, banned, or waiting to be tried again). */
const MAX_TRACKED_REMOTES = MAX_LINKS_PER_TRANSPORT + MAX_PENDING_HANDSHAKES; // remotes

/** Options of {@link automergeTransport}. */
export interface AutomergeTransportInit {
  /**
   * How long a peer dropped by `disconnect(peer)` is ignored before a new handshake is offered, in
   * milliseconds.
   *
   * @default 10000
   */
  readonly banMs?: number;
  /**
   * Longest a link handshake may take before it is given up, in milliseconds.
   *
   * @default LINK_HANDSHAKE_TIMEOUT_MS (10000)
   */
  readonly handshakeTimeoutMs?: number;
}

/** Counters of one automerge transport. */
export interface AutomergeTransportStats {
  readonly framesSent: number;
  readonly bytesSent: number;
  readonly framesReceived: number;
  readonly bytesReceived: number;
  /** Messages from a peer with no link (never authenticated, banned, or gone): dropped. */
  readonly dropped: number;
  /** `shoal` messages that do not parse (no data, unknown tag, wrong length, oversized): dropped. */
  readonly malformed: number;
  /** Handshakes that ended in a link. */
  readonly authenticated: number;
  /** Handshakes refused: a bad signature, a peer id without an Ed25519 key, a bad ECDH share. */
  readonly authFailures: number;
  /** Handshakes that did not finish within the handshake timeout. */
  readonly handshakeTimeouts: number;
  /** Candidates and hellos ignored: too many handshakes at once or per second, or too many links. */
  readonly ignored: number;
  /** Sealed messages under a peer's id whose tag or sequence number is wrong: someone else's, or replayed. */
  readonly forged: number;
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

/** Our HELLO to a remote, waiting for its REPLY, then (keys made, CONFIRM sent) for its READY. */
interface Initiation {
  readonly nonce: Uint8Array;
  /** Our ECDH share, once made (the HELLO goes out then). */
  ephemeral: Ephemeral | undefined;
  /** A REPLY is being checked: others are not looked at meanwhile. */
  busy: boolean;
  /** The link keys, once the REPLY checked out. */
  link: SealedLink | undefined;
  readonly timer: Timer;
}

/** Our REPLY to a remote's HELLO, waiting for its CONFIRM. Keyed by our nonce. */
interface Response {
  readonly remote: PeerId;
  /** What our REPLY signed, once it is out. */
  transcript: Transcript | undefined;
  /** The link keys, once our REPLY is out. */
  link: SealedLink | undefined;
  busy: boolean;
  readonly timer: Timer;
}

/** What the transport knows about one remote peer. */
interface Remote {
  readonly id: PeerId;
  /** The adapter announced it (peer-candidate) and has not reported it gone. */
  candidate: boolean;
  /** The authenticated link, while up. */
  link: SealedLink | undefined;
  initiation: Initiation | undefined;
  /** Monotonic time until which it is ignored (set by `disconnect`). */
  bannedUntil: number;
  /** Handshakes we started with it that failed since its last link (for the backoff). */
  failures: number;
  /** The next handshake we start with it. */
  retry: Timer | undefined;
}

type MutableStats = { -readonly [K in keyof AutomergeTransportStats]: AutomergeTransportStats[K] };

class AutomergeShoalTransport implements AutomergeTransport {
  readonly #adapter: NetworkAdapterInterface;
  readonly #banMs: number;
  readonly #handshakeTimeoutMs: number;
  readonly #remotes = new Map<string, Remote>();
  /** Responses in progress, by our nonce (hex). */
  readonly #responses = new Map<string, Response>();
  readonly #stats: MutableStats = {
    framesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    bytesReceived: 0,
    dropped: 0,
    malformed: 0,
    authenticated: 0,
    authFailures: 0,
    handshakeTimeouts: 0,
    ignored: 0,
    forged: 0,
  };
  #self: PeerId | undefined;
  #key: IdentityKey | undefined;
  #env: Env | undefined;
  #clock: () => number = () => 0;
  #timers: TimerScope | undefined;
  #handler: TransportHandler | undefined;
  #stopped = false;
  #initiations = 0;
  #links = 0;
  /**
   * Half of each handshake bound is for handshakes we start, half for those we answer: an adapter
   * announcing thousands of ids cannot crowd out the peers that come to us, nor the other way round.
   */
  #initiationBudget: Budget | undefined;
  #responseBudget: Budget | undefined;

  constructor(adapter: NetworkAdapterInterface, init: AutomergeTransportInit) {
    this.#adapter = adapter;
    this.#banMs = init.banMs ?? DEFAULT_AUTOMERGE_BAN_MS;
    this.#handshakeTimeoutMs = init.handshakeTimeoutMs ?? LINK_HANDSHAKE_TIMEOUT_MS;
  }

  start(context: TransportContext, handler: TransportHandler): ResultAsync<void, TransportError> {
    if (this.#self !== undefined) return errAsync(transportError('automerge transport: start() was already called'));
    if (context.privateKey.type !== 'Ed25519') {
      return errAsync(transportError(`automerge transport: the identity must be an Ed25519 key`));
    }
    this.#self = context.peerId;
    this.#key = context.privateKey;
    this.#env = context.env;
    this.#clock = monotonicClock(context.env);
    this.#initiationBudget = new Budget(MAX_HANDSHAKES_PER_SECOND / 2, this.#clock);
    this.#responseBudget = new Budget(MAX_HANDSHAKES_PER_SECOND / 2, this.#clock);
    this.#timers = new TimerScope(context.env);
    this.#handler = handler;
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
    const remote = this.#remotes.get(to);
    if (remote?.link === undefined) return errAsync(transportError(`no link to ${to}`));
    const sent = this.#postSealed(remote, Tag.FRAME, frame);
    if (sent !== undefined) return errAsync(sent);
    this.#stats.framesSent += 1;
    this.#stats.bytesSent += frame.byteLength;
    return okAsync(undefined);
  }

  disconnect(peer: PeerId): void {
    if (this.#stopped || this.#env === undefined) return;
    const remote = this.#remotes.get(peer);
    if (remote === undefined) return; // never linked: nothing to hang up, nothing we would answer
    remote.bannedUntil = this.#clock() + this.#banMs;
    this.#cancelHandshakes(remote);
    if (remote.link !== undefined) {
      this.#postSealed(remote, Tag.BYE);
      this.#down(remote);
    }
    // Once the ban is over, offer a new link if the adapter still sees the peer.
    this.#schedule(remote, this.#banMs + 1);
  }

  addresses(): string[] {
    return [];
  }

  stop(): Promise<void> {
    if (this.#stopped || this.#self === undefined) return Promise.resolve();
    this.#stopped = true;
    this.#timers?.close();
    this.#responses.clear();
    for (const remote of this.#remotes.values()) {
      remote.initiation = undefined;
      if (remote.link !== undefined) {
        this.#postSealed(remote, Tag.BYE);
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
    if (this.#stopped || typeof id !== 'string' || id === this.#self || id.length > MAX_ORIGIN_LENGTH) return;
    // An id with no Ed25519 key in it (a plain automerge Repo's random id) can never prove itself.
    if (publicKeyOf(id) === undefined) return;
    const remote = this.#track(id);
    if (remote === undefined) {
      this.#stats.ignored += 1;
      return;
    }
    // Adapters may announce one peer twice (MessageChannel: "arrive" and "welcome").
    if (remote.candidate) return;
    remote.candidate = true;
    // Deferred: the WebSocket server adapter announces a peer before it can route to it.
    queueMicrotask(() => this.#initiate(remote));
  };

  readonly #onDisconnected = (payload: { peerId: AutomergePeerId }): void => {
    const remote = this.#remotes.get(payload.peerId);
    if (remote === undefined) return;
    remote.candidate = false;
    this.#cancelHandshakes(remote);
    if (remote.link !== undefined) this.#down(remote);
    this.#forgetIfIdle(remote);
  };

  readonly #onMessage = (message: Message): void => {
    if (this.#stopped || message.type !== SHOAL_MESSAGE_TYPE) return;
    // Everything in the message came off the wire: check its shape before using it.
    const from = message.senderId as unknown;
    const target = message.targetId as unknown;
    const data = message.data as unknown;
    if (typeof from !== 'string' || from === this.#self || target !== this.#self || from.length > MAX_ORIGIN_LENGTH) {
      this.#stats.malformed += 1;
      return;
    }
    if (
      !(data instanceof Uint8Array) ||
      data.byteLength === 0 ||
      data.byteLength > MAX_FRAME_BYTES + SEALED_HEADER_BYTES
    ) {
      this.#stats.malformed += 1;
      return;
    }
    const id = from as PeerId;
    switch (data[0]) {
      case Tag.FRAME:
      case Tag.BYE:
        this.#onSealed(id, data);
        return;
      case Tag.READY:
        this.#onReady(id, data);
        return;
      case Tag.HELLO:
        this.#onHello(id, data);
        return;
      case Tag.REPLY:
        void this.#onReply(id, data);
        return;
      case Tag.CONFIRM:
        void this.#onConfirm(id, data);
        return;
      default:
        this.#stats.malformed += 1;
    }
  };

  // ---- the handshake ----------------------------------------------------------------------------

  /** Start a handshake with a candidate, unless one is under way, it is linked, banned or waiting. */
  #initiate(remote: Remote): void {
    if (this.#stopped || !remote.candidate || remote.link !== undefined || remote.initiation !== undefined) return;
    if (remote.retry !== undefined || this.#banned(remote) || this.#responding(remote.id)) return;
    if (this.#initiations >= MAX_PENDING_HANDSHAKES / 2 || !this.#initiationBudget!.take()) {
      // Busy with others: try again later, not in a loop.
      this.#stats.ignored += 1;
      this.#schedule(remote, this.#backoff(remote.failures + 1));
      return;
    }
    const nonce = this.#env!.randomBytes(NONCE_BYTES);
    const initiation: Initiation = {
      nonce,
      ephemeral: undefined,
      busy: false,
      link: undefined,
      timer: this.#timers!.after(this.#handshakeTimeoutMs, () => {
        if (remote.initiation !== initiation) return;
        this.#stats.handshakeTimeouts += 1;
        this.#initiationFailed(remote);
      }),
    };
    remote.initiation = initiation;
    this.#initiations += 1;
    void ephemeral().then(
      (share) => {
        if (remote.initiation !== initiation || this.#stopped) return;
        initiation.ephemeral = share;
        this.#post(remote.id, encodeHello({ nonce, share: share.share }));
      },
      () => {
        if (remote.initiation === initiation) this.#initiationFailed(remote);
      },
    );
  }

  /** A remote starts a handshake: answer it (within the bounds), even while linked (it restarted). */
  #onHello(from: PeerId, data: Uint8Array): void {
    const hello = parseHello(data);
    if (hello === undefined) {
      this.#stats.malformed += 1;
      return;
    }
    if (publicKeyOf(from) === undefined) {
      // No key in that id: nobody can prove to be it.
      this.#stats.authFailures += 1;
      return;
    }
    const remote = this.#remotes.get(from);
    if (remote !== undefined && this.#banned(remote)) {
      this.#stats.dropped += 1;
      return;
    }
    // Both started at once: the smaller PeerId's handshake goes on, the other side answers it.
    if (remote?.initiation !== undefined && this.#self! < from) return;
    if (remote?.link === undefined && this.#links >= MAX_LINKS_PER_TRANSPORT) {
      this.#stats.ignored += 1;
      return;
    }
    if (this.#responses.size >= MAX_PENDING_HANDSHAKES / 2 || !this.#responseBudget!.take()) {
      this.#stats.ignored += 1;
      return;
    }
    const nonce = this.#env!.randomBytes(NONCE_BYTES);
    const key = toHex(nonce);
    const response: Response = {
      remote: from,
      transcript: undefined,
      link: undefined,
      busy: true,
      timer: this.#timers!.after(this.#handshakeTimeoutMs, () => {
        if (this.#responses.get(key) !== response) return;
        this.#stats.handshakeTimeouts += 1;
        this.#endResponse(key);
      }),
    };
    this.#responses.set(key, response);
    void this.#reply(key, response, hello, nonce);
  }

  /** Make our share and keys, sign the transcript so far, and answer. */
  async #reply(key: string, response: Response, hello: Hello, nonce: Uint8Array): Promise<void> {
    try {
      const mine = await ephemeral();
      if (this.#responses.get(key) !== response) return;
      const transcript: Transcript = {
        initiator: response.remote,
        responder: this.#self!,
        initiatorNonce: hello.nonce,
        responderNonce: nonce,
        initiatorShare: hello.share,
        responderShare: mine.share,
      };
      const secret = await mine.secret(hello.share);
      const signature = await this.#key!.sign(signedBytes('responder', transcript));
      if (this.#responses.get(key) !== response || this.#stopped) return;
      response.transcript = transcript;
      response.link = new SealedLink(secret, transcript, 'responder');
      response.busy = false;
      this.#post(response.remote, encodeReply({ initiatorNonce: hello.nonce, nonce, share: mine.share, signature }));
    } catch {
      // Their share is not a point on the curve.
      if (this.#responses.get(key) !== response) return;
      this.#stats.authFailures += 1;
      this.#endResponse(key);
    }
  }

  /** The answer to our HELLO: check the signature, make the keys, answer the remote's challenge. */
  async #onReply(from: PeerId, data: Uint8Array): Promise<void> {
    const reply = parseReply(data);
    if (reply === undefined) {
      this.#stats.malformed += 1;
      return;
    }
    const remote = this.#remotes.get(from);
    const initiation = remote?.initiation;
    if (
      remote === undefined ||
      initiation === undefined ||
      initiation.ephemeral === undefined ||
      initiation.busy ||
      initiation.link !== undefined ||
      !equal(reply.initiatorNonce, initiation.nonce)
    ) {
      this.#stats.dropped += 1; // not an answer to a HELLO of ours that is waiting
      return;
    }
    initiation.busy = true;
    const transcript: Transcript = {
      initiator: this.#self!,
      responder: from,
      initiatorNonce: initiation.nonce,
      responderNonce: reply.nonce,
      initiatorShare: initiation.ephemeral.share,
      responderShare: reply.share,
    };
    let link: SealedLink;
    let signature: Uint8Array;
    try {
      if (!(await verifySignature(from, signedBytes('responder', transcript), reply.signature))) {
        throw new Error('bad signature');
      }
      const secret = await initiation.ephemeral.secret(reply.share);
      link = new SealedLink(secret, transcript, 'initiator');
      signature = await this.#key!.sign(signedBytes('initiator', transcript));
    } catch {
      if (remote.initiation !== initiation) return;
      this.#stats.authFailures += 1;
      this.#initiationFailed(remote);
      return;
    }
    if (remote.initiation !== initiation || this.#stopped) return;
    initiation.link = link;
    initiation.busy = false;
    this.#post(from, encodeConfirm({ responderNonce: reply.nonce, signature }));
  }

  /** The answer to our REPLY: check the signature; the link is up, and READY tells the remote so. */
  async #onConfirm(from: PeerId, data: Uint8Array): Promise<void> {
    const confirm = parseConfirm(data);
    if (confirm === undefined) {
      this.#stats.malformed += 1;
      return;
    }
    const key = toHex(confirm.responderNonce);
    const response = this.#responses.get(key);
    const transcript = response?.transcript;
    const link = response?.link;
    if (response === undefined || response.remote !== from || response.busy || !transcript || !link) {
      this.#stats.dropped += 1;
      return;
    }
    response.busy = true;
    const ok = await verifySignature(from, signedBytes('initiator', transcript), confirm.signature);
    if (this.#responses.get(key) !== response || this.#stopped) return;
    this.#endResponse(key);
    if (!ok) {
      this.#stats.authFailures += 1;
      return;
    }
    const remote = this.#track(from, true);
    if (
      remote === undefined ||
      this.#banned(remote) ||
      (remote.link === undefined && this.#links >= MAX_LINKS_PER_TRANSPORT)
    ) {
      this.#stats.ignored += 1;
      return;
    }
    this.#up(remote, link, true);
  }

  /** The responder accepted us: the link is up. */
  #onReady(from: PeerId, data: Uint8Array): void {
    const remote = this.#remotes.get(from);
    const link = remote?.initiation?.link;
    if (remote === undefined || link === undefined) {
      this.#stats.dropped += 1;
      return;
    }
    const opened = link.open(data);
    if (typeof opened === 'string') {
      this.#stats[opened] += 1;
      return;
    }
    if (remote.link === undefined && this.#links >= MAX_LINKS_PER_TRANSPORT) {
      this.#stats.ignored += 1;
      this.#initiationFailed(remote);
      return;
    }
    this.#up(remote, link, false);
  }

  /** A frame or a hang-up on a link: only under its keys. */
  #onSealed(from: PeerId, data: Uint8Array): void {
    const remote = this.#remotes.get(from);
    const link = remote?.link;
    if (remote === undefined || link === undefined) {
      this.#stats.dropped += 1;
      return;
    }
    const opened = link.open(data);
    if (typeof opened === 'string') {
      this.#stats[opened] += 1;
      return;
    }
    if (opened.tag === Tag.BYE) {
      this.#down(remote);
      this.#forgetIfIdle(remote);
      return;
    }
    const frame = opened.payload;
    this.#stats.framesReceived += 1;
    this.#stats.bytesReceived += frame.byteLength;
    this.#call(() => this.#handler?.message(remote.id, frame));
  }

  /** A handshake finished: the new link replaces any old one (the remote restarted). */
  #up(remote: Remote, link: SealedLink, sendReady: boolean): void {
    this.#cancelHandshakes(remote);
    remote.retry?.cancel();
    remote.retry = undefined;
    remote.failures = 0;
    if (remote.link !== undefined) this.#down(remote);
    remote.link = link;
    this.#links += 1;
    this.#stats.authenticated += 1;
    // READY before telling the handler: its first frames must follow READY on the channel.
    if (sendReady) this.#postSealed(remote, Tag.READY);
    this.#call(() => this.#handler?.peerUp(remote.id));
  }

  #down(remote: Remote): void {
    if (remote.link === undefined) return;
    remote.link = undefined;
    this.#links -= 1;
    this.#call(() => this.#handler?.peerDown(remote.id));
  }

  /** Our handshake failed or timed out: try again later, with backoff, while the adapter sees the peer. */
  #initiationFailed(remote: Remote): void {
    this.#endInitiation(remote);
    remote.failures += 1;
    if (remote.candidate && remote.link === undefined) this.#schedule(remote, this.#backoff(remote.failures));
    else this.#forgetIfIdle(remote);
  }

  #endInitiation(remote: Remote): void {
    const initiation = remote.initiation;
    if (initiation === undefined) return;
    initiation.timer.cancel();
    remote.initiation = undefined;
    this.#initiations -= 1;
  }

  #endResponse(key: string): void {
    const response = this.#responses.get(key);
    if (response === undefined) return;
    response.timer.cancel();
    this.#responses.delete(key);
    // A candidate we did not start with because it was starting with us: our turn now.
    const remote = this.#remotes.get(response.remote);
    if (remote !== undefined && remote.link === undefined && !this.#responding(remote.id)) {
      queueMicrotask(() => this.#initiate(remote));
    }
  }

  #cancelHandshakes(remote: Remote): void {
    this.#endInitiation(remote);
    for (const [key, response] of this.#responses) {
      if (response.remote !== remote.id) continue;
      response.timer.cancel();
      this.#responses.delete(key);
    }
  }

  #responding(id: PeerId): boolean {
    for (const response of this.#responses.values()) if (response.remote === id) return true;
    return false;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** Start a handshake with `remote` in `ms` (replacing any scheduled one). */
  #schedule(remote: Remote, ms: number): void {
    remote.retry?.cancel();
    remote.retry = this.#timers?.after(ms, () => {
      remote.retry = undefined;
      this.#initiate(remote);
      this.#forgetIfIdle(remote);
    });
  }

  /** Capped exponential backoff with jitter, for the `failures`-th failed handshake in a row. */
  #backoff(failures: number): number {
    const base = Math.min(HANDSHAKE_RETRY_MAX_MS, HANDSHAKE_RETRY_MIN_MS * 2 ** Math.min(failures - 1, 16));
    return base / 2 + (base / 2) * (this.#env?.random() ?? 0);
  }

  /** Seal and send on a link; a link whose sequence numbers ran out is dropped (a new handshake follows). */
  #postSealed(remote: Remote, tag: SealedTag, payload?: Uint8Array): TransportError | undefined {
    const data = remote.link?.seal(tag, payload);
    if (data === undefined) {
      if (remote.link !== undefined) {
        this.#down(remote);
        if (remote.candidate) this.#schedule(remote, 0);
      }
      return transportError(`no link to ${remote.id}`);
    }
    return this.#post(remote.id, data);
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
    return remote.bannedUntil > this.#clock();
  }

  /**
   * The remote's entry, made if there is room: the table is bounded, an adapter may announce
   * anything. A peer that just proved its key (`forLink`) takes the place of one that has not.
   */
  #track(id: PeerId, forLink = false): Remote | undefined {
    let remote = this.#remotes.get(id);
    if (remote !== undefined) return remote;
    if (this.#remotes.size >= MAX_TRACKED_REMOTES) {
      for (const other of this.#remotes.values()) this.#forgetIfIdle(other);
    }
    if (this.#remotes.size >= MAX_TRACKED_REMOTES && forLink) {
      for (const other of this.#remotes.values()) {
        if (other.link !== undefined || this.#banned(other)) continue;
        this.#cancelHandshakes(other);
        other.retry?.cancel();
        this.#remotes.delete(other.id);
        break;
      }
    }
    if (this.#remotes.size >= MAX_TRACKED_REMOTES) return undefined;
    remote = {
      id,
      candidate: false,
      link: undefined,
      initiation: undefined,
      bannedUntil: 0,
      failures: 0,
      retry: undefined,
    };
    this.#remotes.set(id, remote);
    return remote;
  }

  /** Drop an entry that holds nothing: no link, no handshake, not announced, not banned, nothing scheduled. */
  #forgetIfIdle(remote: Remote): void {
    if (remote.candidate || remote.link !== undefined || remote.initiation !== undefined) return;
    if (remote.retry !== undefined || this.#banned(remote)) return;
    this.#remotes.delete(remote.id);
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

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A token bucket: `perSecond` tokens a second, at most `perSecond` saved up. */
class Budget {
  readonly #perSecond: number;
  readonly #clock: () => number;
  #tokens: number;
  #at: number;

  constructor(perSecond: number, clock: () => number) {
    this.#perSecond = perSecond;
    this.#clock = clock;
    this.#tokens = perSecond;
    this.#at = clock();
  }

  take(): boolean {
    const now = this.#clock();
    this.#tokens = Math.min(this.#perSecond, this.#tokens + ((now - this.#at) * this.#perSecond) / 1000);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
