/**
 * A session: the sync of one space with one remote peer over one link.
 *
 * - Anti-entropy on connect: both sides send `hello` with their vector; each then sends what the
 *   other lacks, oldest first, in frames of signed runs.
 * - Live push: when the space accepts new facts (its own or forwarded from another peer) the
 *   session sends what this remote lacks. Forwarding is what makes a line A–B–C converge.
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
import type { RunError, Run } from '../facts/run.js';
import type { PeerId, Vector } from '../facts/types.js';
import {
  MAX_FRAME_BYTES,
  MAX_HELLO_RETRIES,
  MAX_IN_FLIGHT_BYTES,
  MAX_INVALID_MESSAGES,
  MAX_RETRY_INTERVAL_MS,
  RETRANSMIT_AFTER_MS,
  SYNC_TICK_MS,
} from '../limits.js';
import { encodeMessage } from './codec.js';
import { PROTOCOL_VERSION, type Ack, type FactsMessage, type Hello, type Message, type SnapshotRef } from './messages.js';

/** Outcome of handing runs to the space. */
export interface IngestOutcome {
  /** Runs refused for a reason that is the sender's fault. */
  readonly errors: readonly RunError[];
  /** Origins of runs that were valid (new or already held), with the last counter each run covered. */
  readonly covered: ReadonlyMap<PeerId, number>;
  /** Resolves once the accepted facts are durable (false if storage failed). */
  readonly durable: Promise<boolean>;
}

/** A frame of facts read from the log for a remote. */
export interface OutgoingFrame {
  readonly frame: Uint8Array;
  /** Per origin, the last counter the frame carries. */
  readonly until: Vector;
}

/** What a session needs from its space. */
export interface SyncHost {
  readonly spaceId: string;
  readonly env: Env;
  /** Durable vector. */
  vector(): Vector;
  /** Durable counter of one origin (0 when none). */
  counter(origin: PeerId): number;
  /** Per origin, first counter still in the log. */
  logStart(): Vector;
  snapshotRef(): SnapshotRef | undefined;
  /** Read the next frame of facts the remote lacks, given what was already sent to it. */
  readFrame(sent: Vector, maxBytes: number): Promise<OutgoingFrame | undefined>;
  /** Verify and queue runs from `from`. */
  ingest(runs: readonly Run[], from: PeerId): Promise<IngestOutcome>;
  /** The remote durably holds at least `vector` (partial). */
  noteRemoteVector(peer: PeerId, vector: Vector): void;
  /** A remote broke the protocol. */
  noteInvalid(peer: PeerId, message: string): void;
  send(peer: PeerId, frame: Uint8Array): void;
  disconnect(peer: PeerId): void;
}

interface InFlight {
  readonly bytes: number;
  readonly until: Vector;
}

const advance = (into: Vector, from: ReadonlyMap<PeerId, number>): void => {
  for (const [origin, counter] of from) if (counter > (into.get(origin) ?? 0)) into.set(origin, counter);
};

export class Session {
  readonly peer: PeerId;
  readonly #host: SyncHost;
  readonly #timers: TimerScope;
  /** What the remote durably holds, as far as we know. */
  #remote: Vector = new Map();
  /** What we have sent (≥ #remote). */
  #sent: Vector = new Map();
  #inFlight: InFlight[] = [];
  #inFlightBytes = 0;
  #helloSeen = false;
  /** The remote answered at least once on this link. */
  #established = false;
  #helloRetries = 0;
  #lastProgress = 0;
  #pumping = false;
  #pumpAgain = false;
  /** Bumped whenever `#sent` is reset, so a frame read before the reset is not sent after it. */
  #epoch = 0;
  #tickScheduled = false;
  #ackOrigins = new Set<PeerId>();
  #ackScheduled = false;
  #strikes = 0;
  #closed = false;

  constructor(peer: PeerId, host: SyncHost) {
    this.peer = peer;
    this.#host = host;
    this.#timers = new TimerScope(host.env);
  }

  /** True while the remote answers: it has this space open and we are in sync with it. */
  get syncing(): boolean {
    return this.#helloSeen;
  }

  /** Bytes sent and not yet acknowledged. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  start(): void {
    this.#sendHello(true);
    this.#scheduleTick(SYNC_TICK_MS);
  }

  close(): void {
    this.#closed = true;
    this.#timers.close();
  }

  /** The space accepted new facts for these origins: acknowledge and push. */
  advanced(origins: Iterable<PeerId>): void {
    if (this.#closed) return;
    this.#queueAck(origins);
    this.pump();
  }

  /** Re-announce ourselves (e.g. after a snapshot changed what we can offer). */
  rehello(): void {
    if (!this.#closed) this.#sendHello(true);
  }

  async receive(message: Message): Promise<void> {
    if (this.#closed) return;
    switch (message.type) {
      case 'hello':
        return this.#onHello(message);
      case 'ack':
        return this.#onAck(message);
      case 'facts':
        return this.#onFacts(message);
      case 'gossip':
      case 'error':
        // Handled by the space.
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
    while (!this.#closed && this.#helloSeen && this.#inFlightBytes < MAX_IN_FLIGHT_BYTES) {
      const epoch = this.#epoch;
      const out = await this.#host.readFrame(this.#sent, MAX_FRAME_BYTES);
      if (this.#closed || out === undefined) return;
      if (epoch !== this.#epoch) continue;
      if (this.#inFlight.length === 0) this.#lastProgress = this.#host.env.now();
      this.#host.send(this.peer, out.frame);
      this.#inFlight.push({ bytes: out.frame.length, until: out.until });
      this.#inFlightBytes += out.frame.length;
      advance(this.#sent, out.until);
      this.#scheduleTick(SYNC_TICK_MS);
    }
  }

  #onHello(hello: Hello): void {
    if (hello.version !== PROTOCOL_VERSION) {
      this.#complain('version', `protocol version ${hello.version} is not ${PROTOCOL_VERSION}`);
      return;
    }
    this.#helloSeen = true;
    this.#established = true;
    this.#helloRetries = 0;
    this.#reset(hello.vector);
    this.#host.noteRemoteVector(this.peer, hello.vector);
    if (hello.reply) this.#sendHello(false);
    this.pump();
  }

  #onAck(ack: Ack): void {
    advance(this.#remote, ack.vector);
    advance(this.#sent, ack.vector);
    const before = this.#inFlight.length;
    this.#inFlight = this.#inFlight.filter((f) => {
      for (const [origin, counter] of f.until) if ((this.#remote.get(origin) ?? 0) < counter) return true;
      this.#inFlightBytes -= f.bytes;
      return false;
    });
    if (this.#inFlight.length < before) this.#lastProgress = this.#host.env.now();
    this.#host.noteRemoteVector(this.peer, ack.vector);
    this.pump();
  }

  async #onFacts(message: FactsMessage): Promise<void> {
    const outcome = await this.#host.ingest(message.runs, this.peer);
    if (this.#closed) return;
    for (const error of outcome.errors) this.#complain(error.type, error.message);
    // The sender holds what it sent us: never send it back.
    advance(this.#remote, outcome.covered);
    advance(this.#sent, outcome.covered);
    if (outcome.covered.size === 0) return;
    const origins = [...outcome.covered.keys()];
    void outcome.durable.then((ok) => {
      if (ok) this.#queueAck(origins);
    });
  }

  #complain(code: string, message: string): void {
    this.#host.noteInvalid(this.peer, `${code}: ${message}`);
    this.#host.send(this.peer, encodeMessage({ type: 'error', space: this.#host.spaceId, code, message }));
    if (++this.#strikes > MAX_INVALID_MESSAGES) this.#host.disconnect(this.peer);
  }

  #reset(vector: Vector): void {
    this.#remote = new Map(vector);
    this.#sent = new Map(vector);
    this.#inFlight = [];
    this.#inFlightBytes = 0;
    this.#epoch++;
    this.#lastProgress = this.#host.env.now();
  }

  #sendHello(reply: boolean): void {
    const snapshot = this.#host.snapshotRef();
    const hello: Hello = {
      type: 'hello',
      space: this.#host.spaceId,
      version: PROTOCOL_VERSION,
      reply,
      vector: this.#host.vector(),
      logStart: this.#host.logStart(),
      snapshot,
    };
    this.#host.send(this.peer, encodeMessage(hello));
  }

  #queueAck(origins: Iterable<PeerId>): void {
    for (const origin of origins) this.#ackOrigins.add(origin);
    if (this.#ackScheduled || this.#ackOrigins.size === 0) return;
    this.#ackScheduled = true;
    queueMicrotask(() => {
      this.#ackScheduled = false;
      if (this.#closed || !this.#helloSeen) return;
      const vector: Vector = new Map();
      for (const origin of this.#ackOrigins) {
        const counter = this.#host.counter(origin);
        if (counter > 0) vector.set(origin, counter);
      }
      this.#ackOrigins.clear();
      if (vector.size > 0) this.#host.send(this.peer, encodeMessage({ type: 'ack', space: this.#host.spaceId, vector }));
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
      // A remote that never answered may not have this space open: give up after a few tries (its
      // own hello reopens the session when it opens the space). One that answered before is only
      // out of reach: keep trying, backing off.
      if (this.#established || this.#helloRetries < MAX_HELLO_RETRIES) {
        this.#helloRetries++;
        this.#sendHello(true);
        this.#scheduleTick(Math.min(SYNC_TICK_MS * 2 ** this.#helloRetries, MAX_RETRY_INTERVAL_MS));
      }
      return;
    }
    if (this.#inFlight.length === 0) return;
    if (this.#host.env.now() - this.#lastProgress >= RETRANSMIT_AFTER_MS) {
      // Frames (or their acks) were lost. Forget them, ask the remote what it holds, and resend
      // from there once it answers.
      this.#helloSeen = false;
      this.#helloRetries = 0;
      this.#reset(this.#remote);
      this.#sendHello(true);
    }
    this.#scheduleTick(SYNC_TICK_MS);
  }
}
