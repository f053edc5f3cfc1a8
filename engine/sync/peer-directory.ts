/**
 * What this peer knows of the other peers of a space, and how far it trusts it.
 *
 * - **Direct knowledge** comes from a remote on an authenticated link (its hello, have and ack
 *   messages): what it holds, and when we last heard from it on our own clock. It decides pruning
 *   (every peer heard from directly within the prune window must hold what a snapshot covers) and
 *   counts towards the acknowledgement quorum.
 * - **Signed statements** come by gossip, relayed unchanged from peer to peer: a peer's own signed
 *   claim of what it holds. They count towards the acknowledgement quorum (so acknowledgements
 *   reach an author that is not linked to the acknowledging peer), never towards pruning: a peer we
 *   never heard from directly cannot hold our log hostage, whatever it (or a relay) claims. Pruning
 *   stays safe: every peer keeps its log until the peers it hears directly hold it, so facts flow on
 *   along every link.
 *
 * Unsigned claims about third parties are not accepted at all.
 */
import type { PeerId, Vector } from '../facts/types.js';
import { MAX_GOSSIP_PEERS, MAX_UNRESOLVED_ORIGINS } from '../limits.js';
import type { Statement } from './messages.js';
import { CounterVector, OriginSlots } from './counter-vector.js';
import { UnresolvedCounters, type OriginKey, type WireVector } from './origin-key.js';

interface Direct {
  readonly vector: CounterVector;
  lastSeen: number;
}

interface Signed {
  /** The latest statement, as received (relayed unchanged). */
  statement: Statement;
  /** Counters of every statement taken so far, merged. */
  readonly vector: Vector;
  /** Counters stated for origins we did not know yet. */
  unresolved: UnresolvedCounters | undefined;
}

export class PeerDirectory {
  readonly #self: PeerId;
  readonly #slots: OriginSlots;
  readonly #direct = new Map<PeerId, Direct>();
  readonly #signed = new Map<PeerId, Signed>();
  /** Per link, the seq of each peer's statement last gossiped on it. */
  readonly #sent = new Map<PeerId, Map<PeerId, number>>();

  /** `slots`: the space's origin slots, which the per-peer vectors are kept over (see CounterVector). */
  constructor(self: PeerId, slots: OriginSlots = new OriginSlots()) {
    this.#self = self;
    this.#slots = slots;
  }

  /** `peer` told us directly it holds `vector` (partial). Returns whether anything changed. */
  noteVector(peer: PeerId, vector: ReadonlyMap<PeerId, number>, now: number): boolean {
    const k = this.#directEntry(peer, now);
    let changed = false;
    for (const [origin, counter] of vector) {
      if (counter > (k.vector.get(origin) ?? 0)) {
        k.vector.set(origin, counter);
        changed = true;
      }
    }
    return changed;
  }

  /** We heard from `peer` directly (any message). */
  noteSeen(peer: PeerId, now: number): void {
    this.#directEntry(peer, now);
  }

  /** The statement we hold from `peer`, if any. */
  statementOf(peer: PeerId): Statement | undefined {
    return this.#signed.get(peer)?.statement;
  }

  /**
   * Whether a statement by `peer` with `seq` would be news (and there is room for it): the caller
   * checks its signature only then.
   */
  wants(peer: PeerId, seq: number): boolean {
    if (peer === this.#self) return false;
    const held = this.#signed.get(peer);
    if (held !== undefined) return seq > held.statement.seq;
    return this.#signed.size < MAX_GOSSIP_PEERS;
  }

  /**
   * Take in a statement whose signature checked out. `resolve` maps its vector to the origins we
   * know (the others apply once we learn them). Returns whether anything changed.
   */
  takeStatement(
    statement: Statement,
    resolve: (v: WireVector, unknown?: (key: OriginKey, counter: number) => void) => Vector,
  ): boolean {
    if (!this.wants(statement.peer, statement.seq)) return false;
    let k = this.#signed.get(statement.peer);
    if (k === undefined) {
      k = { statement, vector: new Map(), unresolved: undefined };
      this.#signed.set(statement.peer, k);
    }
    const entry = k;
    entry.statement = statement;
    const unknown = (key: OriginKey, counter: number) =>
      (entry.unresolved ??= new UnresolvedCounters(MAX_UNRESOLVED_ORIGINS)).note(key, counter);
    for (const [origin, counter] of resolve(statement.vector, unknown)) {
      if (counter > (entry.vector.get(origin) ?? 0)) entry.vector.set(origin, counter);
    }
    return true;
  }

  /** We learned `origin` (its key `key`): counters stated for it before apply now. Returns whether any did. */
  learned(origin: PeerId, key: OriginKey): boolean {
    let changed = false;
    for (const k of this.#signed.values()) {
      const counter = k.unresolved?.take(key);
      if (counter === undefined || counter <= (k.vector.get(origin) ?? 0)) continue;
      k.vector.set(origin, counter);
      changed = true;
    }
    return changed;
  }

  /**
   * Counters of `origin` held by each other peer, as far as it told us directly or signed: what the
   * acknowledgement quorum counts.
   */
  countersOf(origin: PeerId): number[] {
    const out: number[] = [];
    for (const [peer, k] of this.#direct) {
      if (peer === this.#self) continue;
      out.push(Math.max(k.vector.get(origin) ?? 0, this.#signed.get(peer)?.vector.get(origin) ?? 0));
    }
    for (const [peer, k] of this.#signed) if (!this.#direct.has(peer)) out.push(k.vector.get(origin) ?? 0);
    return out;
  }

  /**
   * Does every peer heard from directly since `since` hold at least `counters`? Undefined when they
   * all do; otherwise the earliest last-seen time among those that do not (once `since` passes it,
   * the answer may change without anything else happening).
   */
  lacking(counters: ReadonlyMap<PeerId, number>, since: number): number | undefined {
    let earliest: number | undefined;
    for (const [peer, k] of this.#direct) {
      if (peer === this.#self || k.lastSeen < since) continue;
      const signed = this.#signed.get(peer)?.vector;
      for (const [origin, counter] of counters) {
        if (Math.max(k.vector.get(origin) ?? 0, signed?.get(origin) ?? 0) >= counter) continue;
        earliest = Math.min(earliest ?? k.lastSeen, k.lastSeen);
        break;
      }
    }
    return earliest;
  }

  /**
   * Statements to gossip on `link`: every one it has not had from us yet (ours included, never its
   * own back). Marks them sent.
   */
  gossipFor(link: PeerId, own: Statement | undefined): Statement[] {
    let sent = this.#sent.get(link);
    if (sent === undefined) this.#sent.set(link, (sent = new Map<PeerId, number>()));
    const out: Statement[] = [];
    const offer = (statement: Statement) => {
      if (statement.peer === link || (sent.get(statement.peer) ?? -1) >= statement.seq) return;
      sent.set(statement.peer, statement.seq);
      out.push(statement);
    };
    if (own !== undefined) offer(own);
    for (const k of this.#signed.values()) offer(k.statement);
    return out;
  }

  /** The link was reset: gossip everything to it again. */
  resetLink(link: PeerId): void {
    this.#sent.delete(link);
  }

  #directEntry(peer: PeerId, now: number): Direct {
    let k = this.#direct.get(peer);
    if (k === undefined) {
      k = { vector: new CounterVector(this.#slots), lastSeen: now };
      this.#direct.set(peer, k);
    } else if (now > k.lastSeen) k.lastSeen = now;
    return k;
  }
}
