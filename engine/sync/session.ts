/**
 * A session: the sync of one space with one remote peer over one link.
 *
 * - Anti-entropy on connect: both sides send `hello` with their vector; each then sends what the
 *   other lacks, oldest first, in frames of signed runs.
 * - Live push: when the space accepts new facts (its own or forwarded from another peer) the
 *   session sends what this remote lacks. Forwarding is what makes a line A–B–C converge.
 * - Lazy push (Plumtree): a link starts eager (facts are pushed over it, forwarded ones in batches
 *   one forward delay apart). A receiver that gets a frame of facts it already held sends `prune`:
 *   the link turns lazy and carries only announcements (acks, at most every LAZY_ANNOUNCE_MS), so
 *   the mesh settles into a spanning tree of eager links. A peer that hears over a lazy link of facts
 *   its eager links did not bring within GRAFT_AFTER_MS sends `graft`: the link turns eager again.
 *   A lazy link still pushes what the remote lacks after LAZY_PUSH_AFTER_MS, so liveness never
 *   hangs on a prune or graft getting through, or on an eager neighbour that withholds.
 * - Flow control: at most `MAX_IN_FLIGHT_BYTES` sent and not yet acknowledged; the remote's `ack`s
 *   (its durable vector) release the window.
 * - Loss: frames not acknowledged within `RETRANSMIT_AFTER_MS` are forgotten and everything is
 *   offered again from the remote's last known vector (after a fresh hello exchange). Duplicates and
 *   replays change nothing on the receiver.
 *
 * The session holds no facts: it reads them from the log through its host (the space) when it has
 * window to send them, so a peer with a million facts to send never holds them all in memory.
 */
import type { Env } from '../env.js';
import { TimerScope } from '../env.js';
import type { PeerId, Vector } from '../facts/types.js';
import {
  ANNOUNCE_DELAY_MS,
  FORWARD_DELAY_MS,
  GRAFT_AFTER_MS,
  LAZY_ANNOUNCE_MS,
  LAZY_PUSH_AFTER_MS,
  MAX_FRAME_BYTES,
  MAX_DRIFT_HOLD_MS,
  MAX_RETRANSMIT_BACKOFF_MS,
  MAX_UNRESOLVED_ORIGINS,
  MAX_VECTOR_PAGE_ORIGINS,
  MAX_IDLE_RETRY_INTERVAL_MS,
  MAX_IN_FLIGHT_BYTES,
  MAX_RETRY_INTERVAL_MS,
  RETRANSMIT_AFTER_MS,
  SYNC_TICK_MS,
} from '../limits.js';
import type { Replica } from '../space/replica.js';
import { encodeMessage } from './codec.js';
import { CounterVector } from './counter-vector.js';
import { UnresolvedCounters, type OriginKey, type WireVector } from './origin-key.js';
import type { Gossip as GossipComponent } from './gossip.js';
import type { Ingest } from './ingest.js';

import {
  PROTOCOL_VERSION,
  type Ack,
  type BlobMessage,
  type BlobRequest,
  type ErrorMessage,
  type Gone,
  type FactsMessage,
  type Gossip,
  type Hello,
  type Message,
  type SnapshotOffer,
  type Have,
  type AttestRequest,
  type AttestationMessage,
} from './messages.js';

/** A frame of facts read from the log for a remote. */
export interface OutgoingFrame {
  /** Absent when nothing is ready to send now. */
  readonly frame?: Uint8Array | undefined;
  /** Per origin, the last counter the frame carries. */
  readonly until: Vector;
  /** Facts forwarded from other origins that are held back until this time (see FORWARD_DELAY_MS). */
  readonly heldBackUntil?: number | undefined;
  /** The remote lacks facts this log no longer has (pruned): it needs a snapshot. */
  readonly needsSnapshot?: boolean | undefined;
}

/**
 * Reads the next frame of facts a remote lacks, given what was already sent to it. Facts of other
 * origins that arrived after `forwardBefore` are held back: the remote probably got them from
 * elsewhere, and its announcements will say so.
 */
export type FrameReader = (
  sent: ReadonlyMap<PeerId, number>,
  maxBytes: number,
  forwardBefore: number,
  candidates: Set<PeerId>,
) => Promise<OutgoingFrame | undefined>;

/** How a space reaches its remotes. */
export interface SpaceLink {
  send(peer: PeerId, frame: Uint8Array): void;
  /**
   * The remote broke the protocol: it gets a typed `error` and a strike (strikes belong to the peer,
   * across spaces and sessions; past the limit it is disconnected).
   */
  complain(peer: PeerId, code: string, message: string): void;
}

/** Messages a session leaves to other parts of the space: gossip, snapshot offers and blob transfer. */
export type OtherMessage =
  Gossip | SnapshotOffer | BlobRequest | BlobMessage | Gone | AttestRequest | AttestationMessage;

/** What a session works with: the space's replica and the components it talks to. */
export interface SessionDeps {
  readonly replica: Replica;
  readonly env: Env;
  /** The space's monotonic clock (arrival times of facts are on it too). */
  readonly monotonic: () => number;
  readonly readFrame: FrameReader;
  readonly ingest: Ingest;
  readonly gossip: GossipComponent;
  readonly link: SpaceLink;
  /** Offer the remote (which holds `sent`) snapshots covering what we pruned. */
  /** Offer `peer` our snapshots that cover more than `sent`; false when there is none to offer. */
  readonly offerSnapshots: (peer: PeerId, sent: Vector) => boolean;
  readonly other: (peer: PeerId, message: OtherMessage) => void;
  /** The remote answered our hello (again): it syncs with us now. */
  readonly linked: (peer: PeerId) => void;
}

interface InFlight {
  readonly bytes: number;
  readonly until: Vector;
  /** When it was sent (env ms), to measure how long acknowledgements take. */
  readonly sentAt: number;
}

/** A wire vector cut into pages that each fit a message. */
function pagesOf(vector: WireVector): WireVector[] {
  if (vector.size <= MAX_VECTOR_PAGE_ORIGINS) return [vector];
  const pages: Map<OriginKey, number>[] = [];
  for (const [key, counter] of vector) {
    let page = pages[pages.length - 1];
    if (page === undefined || page.size >= MAX_VECTOR_PAGE_ORIGINS) pages.push((page = new Map<OriginKey, number>()));
    page.set(key, counter);
  }
  return pages;
}

export class Session {
  readonly peer: PeerId;
  readonly #deps: SessionDeps;
  readonly #replica: Replica;
  /** Intervals are measured on a clock that never goes back (see Env.monotonic). */
  readonly #now: () => number;
  readonly #timers: TimerScope;
  /** What the remote durably holds, as far as we know. */
  #remote: CounterVector;
  /** What we have sent (≥ #remote). */
  #sent: CounterVector;
  #inFlight: InFlight[] = [];
  #inFlightBytes = 0;
  #helloSeen = false;
  /** The remote said it does not have this space open (it will say hello when it opens it). */
  #notOpen = false;
  /** Until then, facts the remote refused for clock drift are not re-offered. */
  #driftHoldUntil = 0;
  /** Consecutive clock-drift refusals (the hold doubles with each). */
  #driftRefusals = 0;
  /** When snapshots may be offered again to a remote that still needs one, and how often they were. */
  #offerAt = 0;
  #offers = 0;
  #helloRetries = 0;
  #lastProgress = 0;
  #pumping = false;
  #pumpAgain = false;
  /** Bumped whenever `#sent` is reset, so a frame read before the reset is not sent after it. */
  #epoch = 0;
  #tickScheduled = false;
  /** The pump scheduled for later, and when it runs. */
  #pumpTimer: { cancel(): void } | undefined;
  #pumpAt = 0;
  /** Whether facts are pushed to this remote (an eager link of the tree) or only announced (lazy). */
  #eager = true;
  /**
   * Forwarded facts that arrived before this are pushed to an eager remote: moved up when the
   * batch timer fires, so forwarded facts go out in one frame per forward delay, not one per arrival.
   */
  #releasedBefore = 0;
  /** Since when our own facts wait for a lazy remote (undefined: it holds them all). */
  #ownWaitingSince: number | undefined;
  #graftScheduled = false;
  /** Per origin, the last counter of valid runs this remote sent us (see #redundant). */
  readonly #brought: CounterVector;
  /**
   * How long facts of other origins wait before we forward them to this remote. Jittered per
   * session, so that of the remote's neighbours holding the same facts one goes first and the
   * remote's announcement spares the others.
   */
  readonly #forwardDelay: number;
  #lastHello = 0;
  /** The remote's hello said more pages of its vector follow (`have`): do not send before they came. */
  #awaitingPages = false;
  /** Window resets and hello answers since the remote last made progress (each doubles the wait). */
  #fruitless = 0;
  #lastWindowReset = 0;
  #lastHelloAnswer = Number.NEGATIVE_INFINITY;
  /** Smoothed time to acknowledgement and its variation (ms), for the retransmission timeout. */
  #srtt: number | undefined;
  #rttvar = 0;
  /** Until then, only our own facts are sent (see #onHello). */
  #holdOthersUntil = 0;
  /**
   * Origins the remote may still lack (a superset: the frame reader drops those it finds sent), so
   * a pump looks at what changed, not at every origin of the space.
   */
  #lacking = new Set<PeerId>();
  /** The last pump stopped because the window was full. */
  #windowFull = false;
  /** When the log last had nothing to send this remote (durable version, epoch). */
  #drained: { version: number; epoch: number } | undefined;
  /** Origins to announce to the remote at the next announcement. */
  readonly #announce = new Set<PeerId>();
  #announceScheduled = false;
  /** What we told the remote we hold (hello, acks), so acks only carry what moved. */
  #told: CounterVector;
  /** Counters the remote claimed for origins we do not know yet (applied once we learn them). */
  readonly #unresolved = new UnresolvedCounters(MAX_UNRESOLVED_ORIGINS);
  readonly #stopListening: () => void;
  #closed = false;

  constructor(peer: PeerId, deps: SessionDeps) {
    this.peer = peer;
    this.#deps = deps;
    this.#replica = deps.replica;
    this.#now = deps.monotonic;
    this.#timers = new TimerScope(deps.env);
    this.#forwardDelay = Math.round(FORWARD_DELAY_MS * (1 + 3 * deps.env.random()));
    const slots = deps.replica.origins.slots;
    this.#remote = new CounterVector(slots);
    this.#sent = new CounterVector(slots);
    this.#brought = new CounterVector(slots);
    this.#told = new CounterVector(slots);
    this.#stopListening = deps.replica.origins.onAdd((origin, key) => this.#learned(origin, key));
  }

  /** True while the remote answers: it has this space open and we are in sync with it. */
  get syncing(): boolean {
    return this.#helloSeen;
  }

  /** Bytes sent and not yet acknowledged. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /** The remote told us it does not have this space open (and has not said hello since). */
  get notOpen(): boolean {
    return this.#notOpen && !this.#helloSeen;
  }

  /**
   * Read-only, for `space.whenSynced`: the remote answered our hello (every page of its vector
   * came), it holds durably at least `ours` (as its hello, acks and the facts it sent say), and
   * `ours` covers every counter it told us of, origins we have not learned yet included.
   */
  inSync(ours: ReadonlyMap<PeerId, number>): boolean {
    if (this.#closed || !this.#helloSeen || this.#awaitingPages || this.#unresolved.size > 0) return false;
    for (const [origin, counter] of ours) if ((this.#remote.get(origin) ?? 0) < counter) return false;
    for (const [origin, counter] of this.#remote) if ((ours.get(origin) ?? 0) < counter) return false;
    return true;
  }

  /**
   * Whether the remote durably holds facts we do not: we are catching up from it (its hello and
   * acks say so; a claim, so whoever acts on it bounds how long it waits).
   */
  get ahead(): boolean {
    if (this.#closed || !this.#helloSeen) return false;
    for (const [origin, counter] of this.#remote) if (this.#replica.counter(origin) < counter) return true;
    return false;
  }

  start(): void {
    this.#sendHello(true);
    this.#scheduleTick(SYNC_TICK_MS);
  }

  close(): void {
    this.#closed = true;
    this.#timers.close();
    this.#stopListening();
  }

  /** The space learned `origin`: what the remote said it holds of it, unknown until now, applies. */
  #learned(origin: PeerId, key: OriginKey): void {
    if (this.#unresolved.size === 0) return;
    const counter = this.#unresolved.take(key);
    if (counter === undefined || this.#closed) return;
    const vector: Vector = new Map([[origin, counter]]);
    this.#remote.advance(vector);
    this.#sent.advance(vector);
    this.#deps.gossip.heardVector(this.peer, vector);
  }

  /** The space accepted new facts for these origins: announce them (soon) and push what is ready. */
  advanced(origins: Iterable<PeerId>, own: PeerId): void {
    if (this.#closed) return;
    let ready = false;
    let forward = false;
    for (const origin of origins) {
      this.#announce.add(origin);
      if (this.#replica.counter(origin) <= (this.#sent.get(origin) ?? 0)) continue; // it has them
      this.#lacking.add(origin);
      if (origin === own) ready = true;
      else forward = true;
    }
    this.#scheduleAnnouncement();
    if (!this.#eager) {
      // A lazy remote gets announcements only; what it still lacks after LAZY_PUSH_AFTER_MS goes anyway.
      if (ready || forward) this.#schedulePump(LAZY_PUSH_AFTER_MS);
      return;
    }
    // Our own facts go out at once; forwarded ones in the next batch, one forward delay away,
    // unless the remote announces it has them by then.
    if (ready) this.pump();
    else if (forward) this.#schedulePump(this.#forwardDelay);
  }

  /**
   * Coalesce announcements: one ack per remote per ANNOUNCE_DELAY_MS over an eager link (it paces
   * the sender's window), per LAZY_ANNOUNCE_MS over a lazy one, whatever the write rate.
   */
  #scheduleAnnouncement(): void {
    if (this.#announce.size === 0 || this.#announceScheduled) return;
    this.#announceScheduled = true;
    this.#timers.after(this.#eager ? ANNOUNCE_DELAY_MS : LAZY_ANNOUNCE_MS, () => this.#announceNow());
  }

  #announceNow(): void {
    this.#announceScheduled = false;
    const origins = [...this.#announce];
    this.#announce.clear();
    this.#sendAck(origins);
  }

  /**
   * Ask the remote what it holds now, and let it answer (it resets what it sends us and offers
   * snapshots again if we need one). After a link came up again, or a snapshot fetch was abandoned.
   */
  rehello(): void {
    if (this.#closed) return;
    this.#helloRetries = 0;
    this.#notOpen = false;
    this.#sendHello(true);
  }

  async receive(message: Message): Promise<void> {
    if (this.#closed) return;
    // The remote is reachable again while we wait for a hello answer: ask now, not at the next retry.
    if (!this.#helloSeen && message.type !== 'hello' && this.#now() - this.#lastHello >= SYNC_TICK_MS / 4) {
      this.#sendHello(true);
    }
    this.#deps.gossip.heardFrom(this.peer);
    switch (message.type) {
      case 'hello':
        return this.#onHello(message);
      case 'have':
        return this.#onHave(message);
      case 'ack':
        return this.#onAck(message);
      case 'facts':
        return this.#onFacts(message);
      case 'error':
        return this.#onError(message);
      case 'prune':
        return this.#turnLazy();
      case 'graft':
        return this.#onGraft();
      default:
        this.#deps.other(this.peer, message);
        return;
    }
  }

  /** Send what the remote lacks, while the window allows. */
  pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void this.#pumpLoop().finally(() => {
      this.#pumping = false;
      if (this.#pumpAgain) {
        this.#pumpAgain = false;
        this.pump();
      }
    });
  }

  async #pumpLoop(): Promise<void> {
    while (!this.#closed && this.#helloSeen && !this.#awaitingPages && this.#inFlightBytes < MAX_IN_FLIGHT_BYTES) {
      const epoch = this.#epoch;
      const version = this.#replica.durableVersion;
      // Nothing became durable and nothing was reset since the log had nothing for this remote.
      if (this.#drained !== undefined && this.#drained.version === version && this.#drained.epoch === epoch) return;
      const now = this.#now();
      // Right after (re)connecting, only our own facts: every neighbour of the remote is about to
      // offer it the same forwarded facts, and its announcements will tell us which it still lacks.
      // A remote that stopped acknowledging (lost, partitioned) gets our own facts at most: no
      // point pouring forwarded ones into the void.
      const stalled = this.#inFlight.length > 0 && now - this.#lastProgress > this.#forwardDelay;
      const holding = stalled || now < this.#holdOthersUntil;
      const holdOwn = this.#holdOwn(now);
      const own = this.#replica.origin;
      const lazyBefore = now - LAZY_PUSH_AFTER_MS;
      const forwardBefore = this.#eager ? Math.max(this.#releasedBefore, now - this.#forwardDelay) : lazyBefore;
      if (holdOwn) this.#lacking.delete(own);
      const out = await this.#deps.readFrame(this.#sent, MAX_FRAME_BYTES, holding ? -1 : forwardBefore, this.#lacking);
      if (holdOwn) this.#lacking.add(own);
      if (this.#closed) return;
      if (out?.needsSnapshot === true) this.#offerSnapshots(now);
      if (holdOwn) this.#schedulePump(this.#ownWaitingSince! + LAZY_PUSH_AFTER_MS - now);
      if (out?.heldBackUntil !== undefined) {
        this.#schedulePump(
          holding
            ? Math.max(this.#holdOthersUntil - now, this.#forwardDelay)
            : this.#eager
              ? this.#forwardDelay
              : out.heldBackUntil - lazyBefore,
        );
      }
      if (out === undefined && epoch === this.#epoch) this.#drained = { version, epoch };
      if (out?.frame === undefined) return;
      if (epoch !== this.#epoch) continue;
      if (this.#inFlight.length === 0) this.#lastProgress = this.#now();
      this.#deps.link.send(this.peer, out.frame);
      this.#inFlight.push({ bytes: out.frame.length, until: out.until, sentAt: this.#now() });
      this.#inFlightBytes += out.frame.length;
      this.#sent.advance(out.until);
      this.#scheduleTick(SYNC_TICK_MS);
    }
    if (this.#inFlightBytes >= MAX_IN_FLIGHT_BYTES) this.#windowFull = true;
  }

  /**
   * Whether our own facts are held back from this remote now: it is lazy, and they have not waited
   * LAZY_PUSH_AFTER_MS yet (its announcements will show whether it got them over the tree).
   */
  #holdOwn(now: number): boolean {
    const own = this.#replica.origin;
    if ((this.#sent.get(own) ?? 0) >= this.#replica.counter(own)) {
      this.#ownWaitingSince = undefined;
      return false;
    }
    this.#ownWaitingSince ??= now;
    return !this.#eager && now - this.#ownWaitingSince < LAZY_PUSH_AFTER_MS;
  }

  /** Push no more to this remote, announce only; it may hold more than we do already (see #heardLazy). */
  #turnLazy(): void {
    this.#eager = false;
    this.#heardLazy(this.#remote);
  }

  /** The remote asks us to push to it again (its eager links did not bring what we announced). */
  #onGraft(): void {
    this.#eager = true;
    this.#releasedBefore = this.#now();
    this.#drained = undefined;
    this.pump();
  }

  /**
   * A lazy remote told us it holds `vector`: if that is more than we hold and our eager links do
   * not bring it within GRAFT_AFTER_MS, graft the remote.
   */
  #heardLazy(vector: ReadonlyMap<PeerId, number>): void {
    if (this.#eager || this.#graftScheduled || !this.#ahead(vector)) return;
    this.#graftScheduled = true;
    this.#timers.after(GRAFT_AFTER_MS, () => {
      this.#graftScheduled = false;
      if (this.#eager || !this.#ahead(this.#remote)) return;
      // Say what we hold first, so the remote pushes only what we lack, not what came meanwhile.
      this.#announceNow();
      this.#eager = true;
      this.#deps.link.send(this.peer, encodeMessage({ type: 'graft', space: this.#replica.spaceId }));
    });
  }

  /** `vector` holds facts we have not even queued, or the remote named origins we have not learned yet. */
  #ahead(vector: ReadonlyMap<PeerId, number>): boolean {
    if (this.#unresolved.size > 0) return true;
    for (const [origin, counter] of vector) if (counter > (this.#replica.tip(origin)?.counter ?? 0)) return true;
    return false;
  }

  #onHello(hello: Hello): void {
    if (hello.version !== PROTOCOL_VERSION) {
      this.#complain('version', `protocol version ${hello.version} is not ${PROTOCOL_VERSION}`);
      return;
    }
    this.#helloSeen = true;
    this.#notOpen = false;
    this.#helloRetries = 0;
    this.#unresolved.clear();
    const vector = this.#replica.origins.resolve(hello.vector, this.#unresolved.note);
    // A hello says what the remote holds now: send from there. What is in flight stays counted
    // against the window unless the backoff allows a reset, so replayed hellos cannot make us
    // send more than the window per (growing) retransmission interval.
    const now = this.#now();
    const resetWindow = now - this.#lastWindowReset >= this.#backoff();
    if (resetWindow) {
      this.#fruitless++;
      // A (re)started remote may need a snapshot at once, whatever we offered before.
      this.#offerAt = 0;
      this.#offers = 0;
    }
    this.#reset(vector, resetWindow);
    this.#awaitingPages = hello.more;
    this.#deps.gossip.linkReset(this.peer);
    this.#holdOthersUntil = now + this.#forwardDelay;
    this.#deps.gossip.heardVector(this.peer, vector);
    this.#heardLazy(vector);
    this.#deps.linked(this.peer);
    // Our hello can be big (the whole vector): answer at most once per backoff interval. Not at all
    // when ours crossed this one (sent just now): it tells the remote what an answer would. Were
    // ours lost, the remote asks again a hello tick later, and gets its answer then.
    const crossed = now - this.#lastHello < SYNC_TICK_MS / 4;
    if (hello.reply && !crossed && now - this.#lastHelloAnswer >= this.#backoff()) {
      this.#lastHelloAnswer = now;
      this.#sendHello(false);
    }
    this.pump();
  }

  /** The next page of the remote's hello vector. */
  #onHave(have: Have): void {
    const vector = this.#replica.origins.resolve(have.vector, this.#unresolved.note);
    this.#remote.advance(vector);
    this.#sent.advance(vector);
    this.#deps.gossip.heardVector(this.peer, vector);
    this.#heardLazy(vector);
    if (!have.more && this.#awaitingPages) {
      this.#awaitingPages = false;
      this.pump();
    }
  }

  /**
   * How long before the window may be reset again or another hello answered, doubling with every
   * one that brought no progress from the remote (RFC 6298's backoff), up to MAX_RETRANSMIT_BACKOFF_MS.
   */
  #backoff(): number {
    return Math.min(this.#retransmitAfter() * 2 ** this.#fruitless, MAX_RETRANSMIT_BACKOFF_MS);
  }

  /** The remote made progress (acknowledged what we sent, or sent us new facts). */
  #progress(): void {
    this.#fruitless = 0;
    this.#lastHelloAnswer = Number.NEGATIVE_INFINITY;
  }

  #onAck(ack: Ack): void {
    const vector = this.#replica.origins.resolve(ack.vector, this.#unresolved.note);
    // The remote got facts we never sent it (from a snapshot or another peer): what it lacks now
    // may start beyond a gap we could not fill before.
    let jumped = false;
    for (const [origin, counter] of vector) if (counter > (this.#sent.get(origin) ?? 0)) jumped = true;
    this.#remote.advance(vector);
    this.#sent.advance(vector);
    const now = this.#now();
    let oldestReleased: number | undefined;
    this.#inFlight = this.#inFlight.filter((f) => {
      for (const [origin, counter] of f.until) if ((this.#remote.get(origin) ?? 0) < counter) return true;
      this.#inFlightBytes -= f.bytes;
      oldestReleased = Math.min(oldestReleased ?? f.sentAt, f.sentAt);
      return false;
    });
    if (oldestReleased !== undefined) {
      this.#lastProgress = now;
      this.#driftRefusals = 0;
      this.#progress();
      this.#sampleAckDelay(now - oldestReleased);
    }
    this.#deps.gossip.heardVector(this.peer, vector);
    this.#heardLazy(vector);
    if (jumped) {
      this.#drained = undefined;
      this.pump();
    } else if (this.#windowFull && this.#inFlightBytes < MAX_IN_FLIGHT_BYTES) {
      // A full window held things back.
      this.#windowFull = false;
      this.pump();
    }
  }

  async #onFacts(message: FactsMessage): Promise<void> {
    if (this.#eager && this.#redundant(message)) {
      this.#turnLazy();
      this.#deps.link.send(this.peer, encodeMessage({ type: 'prune', space: this.#replica.spaceId }));
    }
    const outcome = await this.#deps.ingest.ingest(message.runs, this.peer);
    if (this.#closed) return;
    for (const [code, retryAfter] of outcome.refused) {
      // Not the sender's fault (its clock is off, or it brought too many new origins at once): no
      // strike, but a typed refusal, so it holds back instead of sending them again at once.
      const text = code === 'clock-drift' ? 'facts from a clock ahead of ours' : 'too many new origins: later';
      this.#deps.link.send(
        this.peer,
        encodeMessage({ type: 'error', space: this.#replica.spaceId, code, message: text, retryAfter }),
      );
    }
    // The sender holds what it sent us: never send it back.
    this.#brought.advance(outcome.covered);
    this.#remote.advance(outcome.covered);
    this.#sent.advance(outcome.covered);
    if (outcome.covered.size === 0) return;
    const origins = [...outcome.covered.keys()];
    void outcome.durable.then((ok) => {
      if (!ok || this.#closed) return;
      // Acknowledged with the next announcement: frames arriving together cost one ack.
      for (const origin of origins) this.#announce.add(origin);
      this.#scheduleAnnouncement();
    });
  }

  /**
   * Everything in `message` is held already, and not all of it came over this link before (a
   * resend after a lost ack or a hello is no sign of a redundant link): another link brought it
   * first.
   */
  #redundant(message: FactsMessage): boolean {
    let held = message.runs.length > 0;
    let elsewhere = false;
    for (const run of message.runs) {
      const end = run.first + run.facts.length - 1;
      const tip = this.#replica.tip(run.origin)?.counter;
      if (tip === undefined || end > tip) {
        held = false;
        continue;
      }
      if (end > (this.#brought.get(run.origin) ?? 0)) elsewhere = true;
    }
    return held && elsewhere;
  }

  /**
   * The remote needs facts we pruned: offer our snapshots, and again with backoff while it still
   * needs them (an offer, a blob or the remote's fetch may be lost; a newer snapshot may replace
   * the one it was fetching).
   */
  #offerSnapshots(now: number): void {
    if (now < this.#offerAt) {
      this.#schedulePump(this.#offerAt - now);
      return;
    }
    // Nothing to offer: what we know of the remote may be stale (an announcement of facts it got
    // from a snapshot was lost). Ask it what it holds; its answer ends this if it needs nothing.
    if (!this.#deps.offerSnapshots(this.peer, new Map(this.#sent))) this.#sendHello(true);
    this.#offers++;
    const delay = Math.min(RETRANSMIT_AFTER_MS * 2 ** this.#offers, MAX_IDLE_RETRY_INTERVAL_MS);
    this.#offerAt = now + delay;
    this.#schedulePump(delay);
  }

  /** A typed complaint from the remote about something we sent. */
  #onError(error: ErrorMessage): void {
    const now = this.#now();
    switch (error.code) {
      case 'not-open':
        this.#notOpen = true;
        return;
      case 'clock-drift':
      case 'budget': {
        // Hold back re-offering for as long as the remote says (our clock is ahead of its clock, or
        // we brought it more new origins than it takes per minute), longer with every refusal in a row.
        this.#driftRefusals++;
        const backoff = Math.min(RETRANSMIT_AFTER_MS * 2 ** this.#driftRefusals, MAX_DRIFT_HOLD_MS);
        this.#driftHoldUntil = now + Math.max(backoff, Math.min(error.retryAfter ?? 0, MAX_DRIFT_HOLD_MS));
        return;
      }
      default:
        // The remote refused something else; retransmission from its vector covers what matters.
        return;
    }
  }

  #complain(code: string, message: string): void {
    this.#deps.link.complain(this.peer, code, message);
  }

  /** Start sending from `vector` (what the remote holds); with `window`, forget what is in flight. */
  #reset(vector: ReadonlyMap<PeerId, number>, window: boolean): void {
    const slots = this.#replica.origins.slots;
    this.#remote = new CounterVector(slots, vector);
    this.#sent = new CounterVector(slots, vector);
    this.#lacking = new Set();
    for (const [origin, tip] of this.#replica.durableTips())
      if (tip.counter > (vector.get(origin) ?? 0)) this.#lacking.add(origin);
    if (window) {
      this.#inFlight = [];
      this.#inFlightBytes = 0;
      this.#lastWindowReset = this.#now();
      this.#lastProgress = this.#now();
    }
    this.#epoch++;
  }

  /** Our hello: the first page of our vector, then the rest in `have` messages. */
  #sendHello(reply: boolean): void {
    this.#lastHello = this.#now();
    const vector = this.#replica.vector();
    this.#told = new CounterVector(this.#replica.origins.slots, vector);
    const space = this.#replica.spaceId;
    const pages = pagesOf(this.#replica.origins.toWire(vector));
    pages.forEach((page, i) => {
      const more = i < pages.length - 1;
      const message: Hello | Have =
        i === 0
          ? { type: 'hello', space, version: PROTOCOL_VERSION, reply, vector: page, more }
          : { type: 'have', space, vector: page, more };
      this.#deps.link.send(this.peer, encodeMessage(message));
    });
  }

  /**
   * Tell the remote what we hold of `origins`, even what we told it before (the ack may have been
   * lost): it offered us a snapshot we do not need, so its picture of us is stale.
   */
  tell(origins: Iterable<PeerId>): void {
    this.#sendAck(origins, true);
  }

  /** Tell the remote our counters for `origins` (those that moved since we last told it, or all). */
  #sendAck(origins: Iterable<PeerId>, again = false): void {
    if (this.#closed || !this.#helloSeen) return;
    const vector: Vector = new Map();
    for (const origin of origins) {
      const counter = this.#replica.counter(origin);
      if (counter > 0 && (again || counter > (this.#told.get(origin) ?? 0))) {
        vector.set(origin, counter);
        this.#told.set(origin, counter);
      }
    }
    if (vector.size === 0) return;
    for (const page of pagesOf(this.#replica.origins.toWire(vector))) {
      this.#deps.link.send(this.peer, encodeMessage({ type: 'ack', space: this.#replica.spaceId, vector: page }));
    }
  }

  /**
   * How long to wait for an acknowledgement before assuming loss: at least RETRANSMIT_AFTER_MS, and
   * more when this remote is slow to acknowledge (a busy receiver working through a full window),
   * after TCP's smoothed estimate (RFC 6298: srtt + 4 · rttvar).
   */
  #retransmitAfter(): number {
    return this.#srtt === undefined
      ? RETRANSMIT_AFTER_MS
      : Math.max(RETRANSMIT_AFTER_MS, this.#srtt + 4 * this.#rttvar);
  }

  #sampleAckDelay(sample: number): void {
    if (this.#srtt === undefined) {
      this.#srtt = sample;
      this.#rttvar = sample / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - sample);
      this.#srtt = 0.875 * this.#srtt + 0.125 * sample;
    }
  }

  /** Pump in `ms` (or sooner, if a pump is already scheduled sooner); forwarded facts held until then go. */
  #schedulePump(ms: number): void {
    if (this.#closed) return;
    const at = this.#now() + Math.max(0, ms);
    if (this.#pumpTimer !== undefined) {
      if (this.#pumpAt <= at) return;
      this.#pumpTimer.cancel();
    }
    this.#pumpAt = at;
    this.#pumpTimer = this.#timers.after(at - this.#now(), () => {
      this.#pumpTimer = undefined;
      this.#releasedBefore = this.#now();
      this.#drained = undefined;
      this.pump();
    });
  }

  #scheduleTick(ms: number): void {
    if (this.#tickScheduled || this.#closed) return;
    this.#tickScheduled = true;
    this.#timers.after(ms, () => {
      this.#tickScheduled = false;
      this.#tick();
    });
  }

  #tick(): void {
    if (this.#closed) return;
    if (!this.#helloSeen) {
      // Ask again, backing off, for as long as the link is up: a remote out of reach (a partition,
      // a lost hello) answers once it can. One that said it does not have this space open is asked
      // rarely (its own hello starts the session when it opens the space).
      this.#helloRetries++;
      this.#sendHello(true);
      const cap = this.#notOpen ? MAX_IDLE_RETRY_INTERVAL_MS : MAX_RETRY_INTERVAL_MS;
      this.#scheduleTick(Math.min(SYNC_TICK_MS * 2 ** this.#helloRetries, cap));
      return;
    }
    const now = this.#now();
    if (this.#awaitingPages && now - this.#lastHello >= this.#retransmitAfter()) {
      // The rest of the remote's vector did not come (lost): go on without it (at worst we send
      // facts it holds, which it acknowledges as duplicates).
      this.#awaitingPages = false;
      this.pump();
    }
    if (this.#inFlight.length === 0) return;
    if (now < this.#driftHoldUntil) {
      // The remote refused our facts for clock drift: re-offering sooner is pointless.
      this.#scheduleTick(this.#driftHoldUntil - now);
      return;
    }
    if (now - this.#lastProgress >= this.#backoff()) {
      // Frames (or their acks) were lost. Forget them, ask the remote what it holds, and resend
      // from there once it answers; the next time waits twice as long unless it makes progress.
      this.#helloSeen = false;
      this.#helloRetries = 0;
      this.#fruitless++;
      this.#reset(this.#remote, true);
      this.#sendHello(true);
    }
    this.#scheduleTick(SYNC_TICK_MS);
  }
}
