/**
 * Pruning policy of one space (DESIGN §4): truncate the log before our latest snapshot S once
 * history blobs cover it, none of our own pending facts sits before it, and every peer heard from
 * within the prune window holds everything S covers (so nobody active will ask us for those facts).
 */
import type { Env, Timer, TimerScope } from '../env.js';
import type { Replica } from '../space/replica.js';
import type { PeerDirectory } from '../sync/peer-directory.js';
import { countersOf, type SnapshotCatalog } from './catalog.js';

export interface PruneDeps {
  readonly replica: Replica;
  readonly timers: TimerScope;
  /** Distinct attesters our snapshot needs before we prune behind it. */
  readonly quorum: number;
  readonly catalog: SnapshotCatalog;
  readonly peers: PeerDirectory;
  readonly env: Env;
  readonly pruneWindow: number;
  /** Our own facts up to this counter are acknowledged. */
  readonly acked: () => number;
  readonly stopped: () => boolean;
}

export class Pruner {
  readonly #deps: PruneDeps;
  #pruning = false;
  /** A re-check scheduled for a time (env ms) when a silent peer's window lapses. */
  #recheck: { at: number; timer: Timer } | undefined;

  constructor(deps: PruneDeps) {
    this.#deps = deps;
  }

  #recheckAt(at: number): void {
    if (this.#recheck !== undefined && this.#recheck.at <= at) return;
    this.#recheck?.timer.cancel();
    const timer = this.#deps.timers.after(at - this.#deps.env.now(), () => {
      this.#recheck = undefined;
      this.maybePrune();
    });
    this.#recheck = { at, timer };
  }

  #cancelRecheck(): void {
    this.#recheck?.timer.cancel();
    this.#recheck = undefined;
  }

  /** Truncate the log if it is safe now. */
  maybePrune(): void {
    const { replica, catalog, peers, env } = this.#deps;
    const own = catalog.own;
    if (this.#pruning || this.#deps.stopped()) return;
    if (own?.seq === undefined || own.seq <= replica.logStart) return this.#cancelRecheck();
    const point = catalog.historyPoint;
    if (point === undefined || point.seq < own.seq) return;
    // Only behind a snapshot enough peers attest: one a catching-up peer can adopt. Until then the
    // facts stay, so a peer that is the only one left with them can still serve them.
    if (catalog.attestations.count(own.blobId) < this.#deps.quorum) return;
    const firstPending = replica.index.seqOf(replica.origin, this.#deps.acked() + 1);
    if (firstPending !== undefined && firstPending < own.seq) return;
    const window = this.#deps.pruneWindow;
    const lacking = peers.lacking(countersOf(own.tips), env.now() - window);
    if (lacking !== undefined) {
      // A peer seen within the window lacks what the snapshot covers. If it stays silent, its window
      // lapses at `lacking + window` with nothing else happening: look again then.
      this.#recheckAt(lacking + window + 1);
      return;
    }
    this.#cancelRecheck();
    this.#pruning = true;
    const cut = own.seq;
    void replica.log
      .truncate(cut)
      .map(() => {
        this.#pruning = false;
        replica.truncated(cut);
        if (catalog.own?.seq === cut) catalog.prunedToOwn();
      })
      .mapErr(() => {
        this.#pruning = false;
      });
  }
}
