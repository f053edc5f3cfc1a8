/**
 * What this peer knows of every peer of a space, directly (hello, ack) or by gossip: its
 * acknowledged (durable) vector, its latest snapshot, and when it was last heard from. Gossip relays
 * changed entries epidemically, so peers learn about peers they are not linked to.
 *
 * It answers the two questions the space asks: how many peers acknowledged our fact N (ack quorum),
 * and whether every peer heard from within the prune window holds everything a snapshot covers
 * (safe pruning).
 */
import type { PeerId, Vector } from '../facts/types.js';
import type { GossipEntry, SnapshotRef } from './messages.js';
import { MAX_VECTOR_ORIGINS } from '../limits.js';
import { UnresolvedCounters, type OriginKey, type WireVector } from './origin-key.js';

interface Knowledge {
  readonly vector: Vector;
  /** Counters gossiped for origins we did not know yet. */
  unresolved: UnresolvedCounters | undefined;
  snapshot: { blobId: string; vector: Vector } | undefined;
  lastSeen: number;
  /** Bumped on every change; links remember the version they last gossiped. */
  version: number;
}

export class PeerDirectory {
  readonly #self: PeerId;
  readonly #peers = new Map<PeerId, Knowledge>();
  /** Per link, the version of each entry last gossiped on it. */
  readonly #sent = new Map<PeerId, Map<PeerId, number>>();
  #clock = 0;

  constructor(self: PeerId) {
    this.#self = self;
  }

  /** Highest version of any entry: changes when anything changed. */
  get version(): number {
    return this.#clock;
  }

  /** A peer told us (directly) it holds `vector`. Returns whether anything changed. */
  noteVector(peer: PeerId, vector: ReadonlyMap<PeerId, number>, now: number): boolean {
    const k = this.#entry(peer);
    let changed = false;
    for (const [origin, counter] of vector) {
      if (counter > (k.vector.get(origin) ?? 0)) {
        k.vector.set(origin, counter);
        changed = true;
      }
    }
    if (now > k.lastSeen) k.lastSeen = now;
    if (changed) k.version = ++this.#clock;
    return changed;
  }

  /**
   * We heard from `peer` directly. Last-seen times travel with the next real change of the entry
   * rather than causing gossip themselves: otherwise gossip would keep itself going forever.
   */
  noteSeen(peer: PeerId, now: number): void {
    const k = this.#entry(peer);
    if (now > k.lastSeen) k.lastSeen = now;
  }

  /**
   * Merge gossip; returns whether we learned anything. `resolve` maps wire vectors to known origins.
   * Last-seen times are the relaying peer's claims about time: none is believed to be later than
   * our own clock (`now`), so a peer with a clock ahead cannot hold back pruning for longer.
   */
  merge(
    entries: readonly GossipEntry[],
    resolve: (v: WireVector, unknown?: (key: OriginKey, counter: number) => void) => Vector,
    now: number,
  ): boolean {
    let learned = false;
    for (const entry of entries) {
      if (entry.peer === this.#self) continue;
      const k = this.#entry(entry.peer);
      let changed = false;
      const unknown = (key: OriginKey, counter: number) =>
        (k.unresolved ??= new UnresolvedCounters(MAX_VECTOR_ORIGINS)).note(key, counter);
      for (const [origin, counter] of resolve(entry.vector, unknown)) {
        if (counter > (k.vector.get(origin) ?? 0)) {
          k.vector.set(origin, counter);
          changed = true;
        }
      }
      // A newer last-seen time alone is taken but not relayed (see noteSeen).
      const lastSeen = Math.min(entry.lastSeen, now);
      if (lastSeen > k.lastSeen) k.lastSeen = lastSeen;
      if (entry.snapshot !== undefined && entry.snapshot.blobId !== k.snapshot?.blobId) {
        const vector = resolve(entry.snapshot.vector);
        if (total(vector) > (k.snapshot === undefined ? -1 : total(k.snapshot.vector))) {
          k.snapshot = { blobId: entry.snapshot.blobId, vector };
          changed = true;
        }
      }
      if (changed) {
        k.version = ++this.#clock;
        learned = true;
      }
    }
    return learned;
  }

  /** We learned `origin` (its key `key`): counters gossiped for it before apply now. Returns whether any did. */
  learned(origin: PeerId, key: OriginKey): boolean {
    let changed = false;
    for (const k of this.#peers.values()) {
      const counter = k.unresolved?.take(key);
      if (counter === undefined || counter <= (k.vector.get(origin) ?? 0)) continue;
      k.vector.set(origin, counter);
      k.version = ++this.#clock;
      changed = true;
    }
    return changed;
  }

  /** Counters of `origin` acknowledged by each known peer (self excluded). */
  countersOf(origin: PeerId): number[] {
    const out: number[] = [];
    for (const [peer, k] of this.#peers) if (peer !== this.#self) out.push(k.vector.get(origin) ?? 0);
    return out;
  }

  /**
   * Does every peer heard from since `since` hold at least `counters`? Undefined when they all do;
   * otherwise the earliest last-seen time among those that do not (once `since` passes it, the
   * answer may change without anything else happening).
   */
  lacking(counters: ReadonlyMap<PeerId, number>, since: number): number | undefined {
    let earliest: number | undefined;
    for (const [peer, k] of this.#peers) {
      if (peer === this.#self || k.lastSeen < since) continue;
      for (const [origin, counter] of counters) {
        if ((k.vector.get(origin) ?? 0) >= counter) continue;
        earliest = Math.min(earliest ?? k.lastSeen, k.lastSeen);
        break;
      }
    }
    return earliest;
  }

  /**
   * Gossip for `link`: our own entry and every entry that changed since we last gossiped to it.
   * Marks them sent. Empty when there is nothing new.
   */
  gossipFor(
    link: PeerId,
    self: { vector: Vector; snapshot: SnapshotRef | undefined; now: number },
    toWire: (vector: Vector) => WireVector,
  ): GossipEntry[] {
    let sent = this.#sent.get(link);
    if (sent === undefined) this.#sent.set(link, (sent = new Map<PeerId, number>()));
    const out: GossipEntry[] = [];
    const selfKey = `${total(self.vector)}:${self.snapshot?.blobId ?? ''}`;
    if (this.#selfSent.get(link) !== selfKey) {
      this.#selfSent.set(link, selfKey);
      out.push({ peer: this.#self, vector: toWire(self.vector), snapshot: self.snapshot, lastSeen: self.now });
    }
    for (const [peer, k] of this.#peers) {
      if (peer === link || peer === this.#self || (sent.get(peer) ?? 0) >= k.version) continue;
      sent.set(peer, k.version);
      out.push({
        peer,
        vector: toWire(k.vector),
        snapshot:
          k.snapshot === undefined ? undefined : { blobId: k.snapshot.blobId, vector: toWire(k.snapshot.vector) },
        lastSeen: k.lastSeen,
      });
    }
    return out;
  }

  /** The link was reset: gossip everything to it again. */
  resetLink(link: PeerId): void {
    this.#sent.delete(link);
    this.#selfSent.delete(link);
  }

  readonly #selfSent = new Map<PeerId, string>();

  #entry(peer: PeerId): Knowledge {
    let k = this.#peers.get(peer);
    if (k === undefined) {
      k = { vector: new Map(), unresolved: undefined, snapshot: undefined, lastSeen: 0, version: ++this.#clock };
      this.#peers.set(peer, k);
    }
    return k;
  }
}

function total(vector: ReadonlyMap<PeerId, number>): number {
  let sum = 0;
  for (const counter of vector.values()) sum += counter;
  return sum;
}
