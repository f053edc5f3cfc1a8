/**
 * Pruning policy of one space (DESIGN §4): truncate the log before our latest snapshot S once
 * history blobs cover it, none of our own pending facts sits before it, and every peer heard from
 * within the prune window holds everything S covers (so nobody active will ask us for those facts).
 */
import type { Env } from '../env.js';
import type { Replica } from '../space/replica.js';
import type { PeerDirectory } from '../sync/peer-directory.js';
import { countersOf, type SnapshotCatalog } from './catalog.js';

export interface PruneDeps {
  readonly replica: Replica;
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

  constructor(deps: PruneDeps) {
    this.#deps = deps;
  }

  /** Truncate the log if it is safe now. */
  maybePrune(): void {
    const { replica, catalog, peers, env } = this.#deps;
    const own = catalog.own;
    if (this.#pruning || this.#deps.stopped() || own?.seq === undefined || own.seq <= replica.logStart) return;
    const point = catalog.historyPoint;
    if (point === undefined || point.seq < own.seq) return;
    const firstPending = replica.index.seqOf(replica.origin, this.#deps.acked() + 1);
    if (firstPending !== undefined && firstPending < own.seq) return;
    if (!peers.allHold(countersOf(own.tips), env.now() - this.#deps.pruneWindow)) return;
    this.#pruning = true;
    const cut = own.seq;
    void replica.log
      .truncate(cut)
      .map(() => {
        this.#pruning = false;
        replica.truncated(cut);
      })
      .mapErr(() => {
        this.#pruning = false;
      });
  }
}
