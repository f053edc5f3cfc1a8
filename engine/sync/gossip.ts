/**
 * Gossip of one space: what this peer hears about every peer (directly in hellos and acks, or
 * relayed in `gossip` messages) goes into the PeerDirectory, and changed entries are relayed to
 * every syncing remote at most every GOSSIP_INTERVAL_MS.
 *
 * Gossip only runs when it is useful: snapshots exist (pruning needs to know what every peer holds),
 * acknowledgements must come from more than one peer (peers we are not linked to acknowledge through
 * it), or a remote gossips to us. Otherwise a space stays quiet.
 */
import type { Env, TimerScope } from '../env.js';
import type { PeerId, Vector } from '../facts/types.js';
import { GOSSIP_INTERVAL_MS } from '../limits.js';
import type { Replica } from '../space/replica.js';
import { encodeMessage } from './codec.js';
import type { Gossip as GossipMessage, SnapshotRef } from './messages.js';
import type { PeerDirectory } from './peer-directory.js';

export interface GossipDeps {
  readonly replica: Replica;
  readonly peers: PeerDirectory;
  readonly env: Env;
  readonly timers: TimerScope;
  /** Remotes we are syncing with now. */
  readonly syncing: () => Iterable<PeerId>;
  readonly send: (peer: PeerId, frame: Uint8Array) => void;
  /** Our latest snapshot, as we announce it. */
  readonly snapshotRef: () => SnapshotRef | undefined;
  /** Whether we hold snapshots others may need. */
  readonly holdsSnapshots: () => boolean;
  readonly ackQuorum: number;
  /** We learned something about what peers hold (acks and pruning may follow). */
  readonly learned: (ownCounterMoved: boolean) => void;
  readonly closed: () => boolean;
}

export class Gossip {
  readonly #deps: GossipDeps;
  #scheduled = false;
  /** We heard gossip: relay it even before we have snapshots of our own. */
  #heard = false;

  constructor(deps: GossipDeps) {
    this.#deps = deps;
    // Gossip may name origins before we learn them: what it said of them applies once we do.
    deps.replica.origins.onAdd((origin, key) => {
      if (deps.peers.learned(origin, key)) deps.learned(true);
    });
  }

  /** `peer` told us directly that it holds `vector` (partial). */
  heardVector(peer: PeerId, vector: Vector): void {
    const { peers, replica, env } = this.#deps;
    if (!peers.noteVector(peer, vector, env.now())) return;
    this.#deps.learned(vector.has(replica.origin));
  }

  /** We heard from `peer` directly (any message). */
  heardFrom(peer: PeerId): void {
    this.#deps.peers.noteSeen(peer, this.#deps.env.now());
  }

  /** The session with `peer` was (re)established: what we told it before may be lost. */
  linkReset(peer: PeerId): void {
    this.#deps.peers.resetLink(peer);
    this.schedule();
  }

  /** A `gossip` message from a remote. */
  received(message: GossipMessage): void {
    const { peers, replica } = this.#deps;
    this.#heard = true;
    if (peers.merge(message.peers, (v, unknown) => replica.origins.resolve(v, unknown), this.#deps.env.now()))
      this.#deps.learned(true);
  }

  /** Gossip soon (at most every GOSSIP_INTERVAL_MS), when it is useful. */
  schedule(): void {
    const deps = this.#deps;
    if (this.#scheduled || deps.closed()) return;
    if (!this.#heard && deps.ackQuorum <= 1 && !deps.holdsSnapshots()) return;
    this.#scheduled = true;
    deps.timers.after(GOSSIP_INTERVAL_MS, () => {
      this.#scheduled = false;
      if (deps.closed()) return;
      const { replica, peers } = deps;
      const self = { vector: replica.vector(), snapshot: deps.snapshotRef(), now: deps.env.now() };
      for (const peer of deps.syncing()) {
        const entries = peers.gossipFor(peer, self, (v) => replica.origins.toWire(v));
        if (entries.length > 0)
          deps.send(peer, encodeMessage({ type: 'gossip', space: replica.spaceId, peers: entries }));
      }
    });
  }
}
