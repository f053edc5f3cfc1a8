/**
 * Announcements over transports that broadcast (gossipsub on libp2p; see `Announcer` in
 * engine/transport.ts). Each open space publishes the counters that moved (a `hello` that asks for
 * no reply), at most every `ANNOUNCE_INTERVAL_MS`. A peer that hears of facts it lacks lets its
 * links bring them (live push usually does): only once they stop making progress on them does it
 * pull, from a linked announcer after `PULL_DELAY_MS` (a fresh hello exchange), and through a new
 * link the transport opens to an unlinked one after `PULL_DIAL_DELAY_MS`. A link opened for a pull
 * is released once it brought what was announced (in every space that pulled over it), or after
 * `PULL_LINK_IDLE_MS` without bringing any of it: pulls do not grow the mesh for good.
 *
 * An announcement is a hint, never data: it is decoded under the limits, a bad one is refused with
 * a typed error and changes nothing, and a lying one costs at most one pull (the link then checks
 * every fact as usual). The transport authenticates who published it (gossipsub signs messages
 * with the publisher's identity key).
 */
import { err, ok, type Result } from 'neverthrow';
import type { TimerScope, Timer } from '../env.js';
import { invalidInput, type InvalidInputError } from '../errors.js';
import type { PeerId } from '../facts/types.js';
import {
  ANNOUNCE_INTERVAL_MS,
  MAX_ANNOUNCE_ORIGINS,
  MAX_ANNOUNCEMENT_BYTES,
  MAX_PENDING_PULLS,
  PULL_DELAY_MS,
  PULL_DIAL_DELAY_MS,
  PULL_LINK_IDLE_MS,
} from '../limits.js';
import type { Replica } from '../space/replica.js';
import { decodeFrame, encodeMessage } from '../sync/codec.js';
import { PROTOCOL_VERSION } from '../sync/messages.js';
import type { WireVector } from '../sync/origin-key.js';
import type { Announcer } from '../transport.js';

/** What announcements need of an open space. */
export interface AnnouncedSpace {
  readonly replica: Replica;
  /** Ask `peer` again what it holds (it then sends what we lack). */
  rehello(peer: PeerId): void;
}

export interface AnnouncementsDeps {
  /** The announcers of the peer's transports (none: this component does nothing). */
  readonly announcers: readonly Announcer[];
  readonly timers: TimerScope;
  /** The open space `id`, if it is open. */
  readonly space: (id: string) => AnnouncedSpace | undefined;
  /** Whether a link to `peer` is up. */
  readonly linked: (peer: PeerId) => boolean;
}

/** What one announcement told us. */
export type AnnouncementOutcome = 'lacking' | 'nothing-new' | 'not-open';

interface SpaceAnnouncements {
  /** Origins that moved since our last announcement. */
  readonly moved: Set<PeerId>;
  announceTimer: Timer | undefined;
  /** Announcers we may pull from: the vector each announced last, and what we held of it then. */
  readonly pulls: Map<PeerId, PendingPull>;
  pullTimer: Timer | undefined;
}

interface PendingPull {
  vector: WireVector;
  /** `progress` at the announcement, or at the last look: links may be bringing the facts. */
  held: number;
  /** Looks in a row (every PULL_DELAY_MS) that found no progress. */
  quiet: number;
}

/** A link opened for pulls: what each space pulled over it (and what it held then), and the idle timer. */
interface PulledLink {
  readonly spaces: Map<string, { vector: WireVector; held: number }>;
  idle: Timer | undefined;
}

export class Announcements {
  readonly #deps: AnnouncementsDeps;
  readonly #spaces = new Map<string, SpaceAnnouncements>();
  /** Links opened by a pull, by announcer: released once they brought what was announced. */
  readonly #pulled = new Map<PeerId, PulledLink>();

  constructor(deps: AnnouncementsDeps) {
    this.#deps = deps;
  }

  /** Space `id` opened: join its announcements and say what we hold. */
  open(id: string): void {
    if (this.#deps.announcers.length === 0 || this.#spaces.has(id)) return;
    const state: SpaceAnnouncements = {
      moved: new Set(),
      announceTimer: undefined,
      pulls: new Map(),
      pullTimer: undefined,
    };
    this.#spaces.set(id, state);
    for (const announcer of this.#deps.announcers) announcer.join(id);
    const replica = this.#deps.space(id)?.replica;
    if (replica !== undefined) this.advanced(id, replica.vector().keys());
  }

  /** Space `id` accepted new facts of `origins`: announce them (soon, with whatever moves meanwhile). */
  advanced(id: string, origins: Iterable<PeerId>): void {
    const state = this.#spaces.get(id);
    if (state === undefined) return;
    for (const origin of origins) state.moved.add(origin);
    if (this.#pulled.size > 0) this.#pullsProgressed(id);
    if (state.moved.size > 0 && state.announceTimer === undefined) {
      state.announceTimer = this.#deps.timers.after(ANNOUNCE_INTERVAL_MS, () => {
        state.announceTimer = undefined;
        this.#announce(id, state);
      });
    }
  }

  /**
   * An announcement `from` published for `space`. Bad input is refused with a typed error; a good
   * one that shows facts we lack schedules a pull.
   */
  received(from: PeerId, space: string, frame: Uint8Array): Result<AnnouncementOutcome, InvalidInputError> {
    if (frame.byteLength > MAX_ANNOUNCEMENT_BYTES) {
      return err(invalidInput(`announcement of ${frame.byteLength} bytes is over ${MAX_ANNOUNCEMENT_BYTES}`));
    }
    const message = decodeFrame(frame);
    if (message.isErr()) return err(invalidInput(`announcement: ${message.error.message}`));
    const hello = message.value;
    if (hello.type !== 'hello' || hello.space !== space) {
      return err(invalidInput(`an announcement for ${space} must be its hello, not ${hello.type}`));
    }
    if (hello.vector.size > MAX_ANNOUNCE_ORIGINS) {
      return err(invalidInput(`announcement names ${hello.vector.size} origins, over ${MAX_ANNOUNCE_ORIGINS}`));
    }
    const state = this.#spaces.get(space);
    const replica = this.#deps.space(space)?.replica;
    if (state === undefined || replica === undefined) return ok('not-open');
    if (!lacks(replica, hello.vector)) return ok('nothing-new');
    // The newest word of each announcer counts; past the bound, new announcers wait for a later one.
    const pending = state.pulls.get(from);
    if (pending !== undefined) {
      pending.vector = hello.vector;
      pending.held = progress(replica, hello.vector);
    } else if (state.pulls.size < MAX_PENDING_PULLS) {
      state.pulls.set(from, { vector: hello.vector, held: progress(replica, hello.vector), quiet: 0 });
    }
    if (state.pullTimer === undefined) this.#schedulePull(space, state);
    return ok('lacking');
  }

  /** Space `id` closed: leave its announcements. */
  close(id: string): void {
    const state = this.#spaces.get(id);
    if (state === undefined) return;
    state.announceTimer?.cancel();
    state.pullTimer?.cancel();
    this.#spaces.delete(id);
    for (const [peer, link] of this.#pulled) {
      if (link.spaces.delete(id) && link.spaces.size === 0) this.#release(peer, link);
    }
    for (const announcer of this.#deps.announcers) announcer.leave(id);
  }

  #announce(id: string, state: SpaceAnnouncements): void {
    const replica = this.#deps.space(id)?.replica;
    if (replica === undefined) return;
    // Our own origin first: the facts only we can vouch for are the ones others most need to hear of.
    const origins = [...state.moved].sort((a, b) => Number(b === replica.origin) - Number(a === replica.origin));
    const named = origins.slice(0, MAX_ANNOUNCE_ORIGINS);
    const vector = new Map<PeerId, number>();
    for (const origin of named) {
      state.moved.delete(origin);
      const counter = replica.counter(origin);
      if (counter > 0) vector.set(origin, counter);
    }
    if (vector.size > 0) {
      const frame = encodeMessage({
        type: 'hello',
        space: id,
        version: PROTOCOL_VERSION,
        reply: false,
        vector: replica.origins.toWire(vector),
        more: false,
      });
      for (const announcer of this.#deps.announcers) announcer.announce(id, frame);
    }
    this.advanced(id, []); // the origins left over go in the next one
  }

  #schedulePull(id: string, state: SpaceAnnouncements): void {
    state.pullTimer = this.#deps.timers.after(PULL_DELAY_MS, () => {
      state.pullTimer = undefined;
      this.#pull(id, state);
    });
  }

  #pull(id: string, state: SpaceAnnouncements): void {
    const space = this.#deps.space(id);
    if (space === undefined) return;
    const replica = space.replica;
    for (const [peer, pending] of state.pulls) {
      if (!lacks(replica, pending.vector)) {
        state.pulls.delete(peer); // our links brought it meanwhile
        continue;
      }
      // Links still bringing the announced facts (a chain of forwards takes a while): wait for them.
      const held = progress(replica, pending.vector);
      if (held !== pending.held) {
        pending.held = held;
        pending.quiet = 0;
        continue;
      }
      pending.quiet += 1;
      if (this.#deps.linked(peer)) {
        state.pulls.delete(peer);
        space.rehello(peer);
      } else if (pending.quiet * PULL_DELAY_MS >= PULL_DIAL_DELAY_MS) {
        // A new link is the last resort: a linked announcer that holds the facts costs nothing.
        state.pulls.delete(peer);
        this.#opened(peer, id, pending.vector, held);
        for (const announcer of this.#deps.announcers) announcer.pull(peer);
      }
    }
    if (state.pulls.size > 0) this.#schedulePull(id, state);
  }

  /** A pull opens a link to `peer` for space `id`: release it once it brought `vector`. */
  #opened(peer: PeerId, id: string, vector: WireVector, held: number): void {
    let link = this.#pulled.get(peer);
    if (link === undefined) this.#pulled.set(peer, (link = { spaces: new Map(), idle: undefined }));
    link.spaces.set(id, { vector, held });
    this.#idleFrom(peer, link);
  }

  /** (Re)start the idle countdown of a pulled link: released if nothing it was opened for arrives. */
  #idleFrom(peer: PeerId, link: PulledLink): void {
    link.idle?.cancel();
    link.idle = this.#deps.timers.after(PULL_LINK_IDLE_MS, () => {
      link.idle = undefined;
      this.#release(peer, link);
    });
  }

  /** Space `id` took in facts: pulled links that brought all they were opened for are released. */
  #pullsProgressed(id: string): void {
    const replica = this.#deps.space(id)?.replica;
    if (replica === undefined) return;
    for (const [peer, link] of this.#pulled) {
      const pulled = link.spaces.get(id);
      if (pulled === undefined) continue;
      if (!lacks(replica, pulled.vector)) {
        link.spaces.delete(id);
        if (link.spaces.size === 0) this.#release(peer, link);
        continue;
      }
      const held = progress(replica, pulled.vector);
      if (held !== pulled.held) {
        pulled.held = held;
        this.#idleFrom(peer, link); // still bringing it
      }
    }
  }

  #release(peer: PeerId, link: PulledLink): void {
    link.idle?.cancel();
    if (this.#pulled.get(peer) !== link) return;
    this.#pulled.delete(peer);
    for (const announcer of this.#deps.announcers) announcer.release?.(peer);
  }
}

/** How much the replica holds of the origins `vector` names: it grows while links bring their facts. */
function progress(replica: Replica, vector: WireVector): number {
  let held = replica.origins.size; // an origin we did not know arrived
  for (const origin of replica.origins.resolve(vector).keys()) held += replica.counter(origin);
  return held;
}

/** Whether `vector` names facts the replica does not hold (an origin it does not know counts). */
function lacks(replica: Replica, vector: WireVector): boolean {
  let unknown = false;
  const known = replica.origins.resolve(vector, (_key, counter) => {
    if (counter > 0) unknown = true;
  });
  if (unknown) return true;
  for (const [origin, counter] of known) if (counter > replica.counter(origin)) return true;
  return false;
}
