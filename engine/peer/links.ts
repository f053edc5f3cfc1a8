/**
 * The links of one peer: which transport reaches each remote, a bounded queue of frames received from
 * each (processed in order, one at a time), decoding, and strikes. A remote that sends garbage — a
 * frame that does not decode, or a message a space refuses — gets a typed `error` and a strike;
 * strikes belong to the remote peer across spaces and sessions, and past `MAX_INVALID_MESSAGES` it is
 * disconnected.
 */
import type { PeerId } from '../facts/types.js';
import { describe } from '../errors.js';
import { BAN_MS, MAX_INBOUND_QUEUE_FRAMES, MAX_INVALID_MESSAGES } from '../limits.js';
import { decodeFrame, encodeMessage, type RunCodecCache } from '../sync/codec.js';
import type { Message } from '../sync/messages.js';
import type { Transport } from '../transport.js';

export interface LinksDeps {
  readonly codec: RunCodecCache;
  /** Monotonic ms (for bans). */
  readonly now: () => number;
  /** A decoded message arrived from `from` (frames of one remote are handed over one at a time). */
  readonly deliver: (from: PeerId, message: Message) => Promise<void>;
  readonly closed: () => boolean;
}

interface Inbox {
  readonly frames: Uint8Array[];
  running: boolean;
}

export class Links {
  readonly #deps: LinksDeps;
  /** Which transport reaches each connected remote. */
  readonly #links = new Map<PeerId, Transport>();
  readonly #inbound = new Map<PeerId, Inbox>();
  readonly #strikes = new Map<PeerId, number>();
  /** Remotes cut off for their strikes: until when, and how many times so far (each ban is longer). */
  readonly #bans = new Map<PeerId, { until: number; count: number }>();

  constructor(deps: LinksDeps) {
    this.#deps = deps;
  }

  /** Remotes linked now. */
  peers(): IterableIterator<PeerId> {
    return this.#links.keys();
  }

  has(peer: PeerId): boolean {
    return this.#links.has(peer);
  }

  /** A link to `peer` came up; false (and it is cut again) while `peer` is banned. */
  up(peer: PeerId, transport: Transport): boolean {
    const ban = this.#bans.get(peer);
    if (ban !== undefined && this.#deps.now() < ban.until) {
      transport.disconnect(peer);
      return false;
    }
    this.#links.set(peer, transport);
    return true;
  }

  /** The link went down; false when `transport` is not the one that reaches `peer`. */
  down(peer: PeerId, transport: Transport): boolean {
    if (this.#links.get(peer) !== transport) return false;
    this.#links.delete(peer);
    this.#inbound.delete(peer);
    return true;
  }

  /** Forget every link at once (the process died). */
  clear(): void {
    this.#links.clear();
    this.#inbound.clear();
  }

  send(peer: PeerId, frame: Uint8Array): void {
    const transport = this.#links.get(peer);
    if (transport === undefined || this.#deps.closed()) return;
    // A frame that cannot be sent is lost like any other: the session re-sends what is not acknowledged.
    void transport.send(peer, frame).mapErr((e) => describe(e));
  }

  disconnect(peer: PeerId): void {
    this.#links.get(peer)?.disconnect(peer);
  }

  /** `peer` broke the protocol (in `space`, or '' for a frame that named none). */
  strike(peer: PeerId, space: string, code: string, message: string): void {
    const strikes = (this.#strikes.get(peer) ?? 0) + 1;
    this.#strikes.set(peer, strikes);
    this.send(peer, encodeMessage({ type: 'error', space, code, message }));
    if (strikes <= MAX_INVALID_MESSAGES) return;
    // Cut off, and banned: BAN_MS the first time, twice as long each time after.
    const count = (this.#bans.get(peer)?.count ?? 0) + 1;
    this.#bans.set(peer, { until: this.#deps.now() + BAN_MS * 2 ** (count - 1), count });
    this.#strikes.delete(peer);
    this.disconnect(peer);
  }

  /** Whether `peer` is banned now. */
  banned(peer: PeerId): boolean {
    const ban = this.#bans.get(peer);
    return ban !== undefined && this.#deps.now() < ban.until;
  }

  /** A frame from `from`: queued (within the bound) and processed in order. */
  enqueue(from: PeerId, frame: Uint8Array): void {
    if (this.#deps.closed() || !this.#links.has(from)) return;
    let inbox = this.#inbound.get(from);
    if (inbox === undefined) {
      inbox = { frames: [], running: false };
      this.#inbound.set(from, inbox);
    }
    // Past the bound the frame is dropped; the sender's retransmission brings it back later.
    if (inbox.frames.length >= MAX_INBOUND_QUEUE_FRAMES) return;
    inbox.frames.push(frame);
    if (!inbox.running) {
      inbox.running = true;
      void this.#drain(from, inbox);
    }
  }

  async #drain(from: PeerId, inbox: Inbox): Promise<void> {
    // Frames still queued when the link went down are dropped with it: a hello among them would
    // start a session with a peer that is gone (or was just cut off).
    while (inbox.frames.length > 0 && !this.#deps.closed() && this.#inbound.get(from) === inbox) {
      const frame = inbox.frames.shift()!;
      const message = decodeFrame(frame, this.#deps.codec);
      if (message.isErr()) {
        this.strike(from, '', 'malformed', `${message.error.type}: ${message.error.message}`);
        continue;
      }
      await this.#deps.deliver(from, message.value);
    }
    inbox.running = false;
  }
}
