/**
 * The snapshot workflow of one space (DESIGN §4, §9; seeds 000–002).
 *
 * For entry S (triggered by `pending: 'snapshot'` on S, written every `snapshotEvery` entries, after
 * an idle stretch, or by `space.snapshot()`): S ends a prefix of the log in which every origin's last
 * entry is a signed run end, so the cut (per origin, its last fact up to S) has a signature behind
 * every tip. The registers of S and everything before it — the previous own snapshot and any adopted
 * ones, plus the entries after the previous one — are written canonically as chunks, tip chunks and a
 * root (engine/snapshot/build.ts): the same cut gives the same root id on every peer. The entries
 * since the last history point are written as history blobs. Then `{ snapshot, history, pending:
 * undefined }` is recorded on S in one atomic metadata write. A crash anywhere before that write
 * leaves `pending` set and the workflow runs again on open; blobs are content-addressed, so writing
 * them twice is harmless. Last, we attest our own root (see attestation.ts).
 */
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from 'neverthrow';
import type { Timer, TimerScope } from '../env.js';
import { asStorageError, closedError, invalidInput, type SnapshotError } from '../errors.js';
import type { Signer } from '../facts/sign.js';
import type { PeerId } from '../facts/types.js';
import type { SequenceId } from '../log/event-log.js';
import { MAX_SNAPSHOT_DEFER_MS, SNAPSHOT_CATCH_UP_FACTOR, SNAPSHOT_STATE_FACTOR } from '../limits.js';
import { encodeEntry } from '../log/entry-codec.js';
import { factOf } from '../log/fact-entry.js';
import type { Replica } from '../space/replica.js';
import { attest } from './attestation.js';
import { buildRoot, within } from './build.js';
import { countersOf, type HeldSnapshot, type SnapshotCatalog } from './catalog.js';
import { chainTipsOf, type SnapshotTip } from './format.js';
import type { Workers } from './workers.js';

export interface WorkflowDeps {
  readonly replica: Replica;
  readonly catalog: SnapshotCatalog;
  readonly workers: Workers;
  readonly signer: Signer;
  readonly snapshotEvery: number;
  readonly timers: TimerScope;
  /** A remote we sync with holds facts we lack: we are catching up (see SNAPSHOT_CATCH_UP_FACTOR). */
  readonly behind: () => boolean;
  /** Blobs that must survive garbage collection (a fetch in progress). */
  readonly pinned: () => Iterable<string>;
  /** A snapshot was made (attestation, pruning and the next snapshot may follow). */
  readonly made: (snapshot: HeldSnapshot) => void;
  /** A workflow failed for a reason other than closing. */
  readonly failed: (error: SnapshotError) => void;
  /** The space closed or its process died: stop before the next write. */
  readonly stopped: () => boolean;
}

export class SnapshotWorkflow {
  readonly #deps: WorkflowDeps;
  /** A workflow is running (one at a time). */
  #busy = false;
  #running: Promise<unknown> = Promise.resolve();
  /** A due snapshot waits for a catch-up to end, until this fires (see #waitForCatchUp). */
  #deferral: Timer | undefined;
  /** The wait ran out: the due snapshot goes ahead even though we are still behind. */
  #deferralOver = false;

  constructor(deps: WorkflowDeps) {
    this.#deps = deps;
  }

  get busy(): boolean {
    return this.#busy;
  }

  /**
   * The entry a snapshot may cover up to now: the last of the longest prefix of the log in which
   * every origin's last entry is signed. Undefined when that is not past our latest snapshot.
   */
  #cutPoint(): SequenceId | undefined {
    const { replica, catalog } = this.#deps;
    const at = replica.cleanHead - 1;
    const own = catalog.own;
    const since = own?.seq ?? replica.logStart - 1;
    if (at > since) return at;
    // Nothing new in the log, but snapshots adopted since our own cover facts it does not: the
    // peers that gave them to us are past our cut and cannot attest it (they pruned), so snapshot
    // again at the same entry, covering what we adopted too: the cut they hold and can attest.
    if (at === since && this.#adoptedBeyond()) return at;
    return undefined;
  }

  /** Whether a snapshot we adopted covers facts our own latest does not. */
  #adoptedBeyond(): boolean {
    const { catalog } = this.#deps;
    const own = catalog.own;
    if (own === undefined) return false;
    const covered = countersOf(own.tips);
    return catalog.adopted.some((a) => !within(a.tips, covered));
  }

  /** Take a snapshot of everything in the log now (or return the one that already covers it). */
  now(): ResultAsync<HeldSnapshot, SnapshotError> {
    const { replica, catalog } = this.#deps;
    if (replica.head === replica.logStart) return errAsync(invalidInput('the log is empty: nothing to snapshot'));
    const at = this.#cutPoint();
    const own = catalog.own;
    if (at === undefined) {
      return own !== undefined ? okAsync(own) : errAsync(invalidInput('no entry to snapshot at yet'));
    }
    return this.#markAndRun(at);
  }

  /** The workflow that runs now, if any, has ended (made its snapshot or failed). */
  settled(): Promise<void> {
    return this.#running.then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Ask for a snapshot every `snapshotEvery` entries (called as entries become durable). While we
   * catch up, a due snapshot waits for the batch that ends the catch-up (see #waitForCatchUp).
   */
  maybeRun(): void {
    const { replica, catalog } = this.#deps;
    if (this.#busy || this.#deps.stopped()) return;
    const since = (catalog.own?.seq ?? replica.logStart - 1) + 1;
    // A snapshot is built from the whole state (canonical, so the same cut gives the same root
    // everywhere): O(items). Waiting for at least items / SNAPSHOT_STATE_FACTOR entries keeps that
    // O(1) per entry however large the space grows.
    const every = Math.max(this.#deps.snapshotEvery, Math.ceil(replica.state.itemCount / SNAPSHOT_STATE_FACTOR));
    const due = replica.head - since;
    if (due <= every || this.#waitForCatchUp(due, every)) return;
    const at = this.#cutPoint();
    if (at !== undefined) void this.#markAndRun(at);
  }

  /**
   * Whether a due snapshot waits because a remote holds facts we lack: building it now costs O(items)
   * and the facts still coming make it stale at once (a fresh peer catching up would build one per
   * `snapshotEvery` entries it receives, and attest each). It waits while the log grows by at most
   * SNAPSHOT_CATCH_UP_FACTOR intervals and for at most MAX_SNAPSHOT_DEFER_MS; the batch that ends
   * the catch-up calls maybeRun, and so does the end of the wait. Entries are durable meanwhile: a
   * crash loses nothing, and the log is not pruned before a snapshot covers it.
   */
  #waitForCatchUp(due: number, every: number): boolean {
    if (this.#deferralOver || due > every * SNAPSHOT_CATCH_UP_FACTOR || !this.#deps.behind()) return false;
    this.#deferral ??= this.#deps.timers.after(MAX_SNAPSHOT_DEFER_MS, () => {
      this.#deferral = undefined;
      this.#deferralOver = true;
      this.maybeRun();
    });
    return true;
  }

  /**
   * Snapshot what is there now if there is anything new since the latest snapshot (after an idle
   * stretch: peers that hold the same facts then build the same root and can attest each other's).
   */
  runIfNew(): void {
    if (this.#busy || this.#deps.stopped()) return;
    const at = this.#cutPoint();
    if (at !== undefined) void this.#markAndRun(at);
  }

  /** Whether a snapshot now would cover something our latest does not (see runIfNew). */
  hasNew(): boolean {
    return this.#cutPoint() !== undefined;
  }

  /** A crash interrupted the workflow for entry `seq` (found `pending` on open): run it again. */
  resume(seq: SequenceId): void {
    void this.#run(seq);
  }

  /** Mark entry `seq` with `pending: 'snapshot'` (durably), then run the workflow for it. */
  #markAndRun(seq: SequenceId): ResultAsync<HeldSnapshot, SnapshotError> {
    this.#busy = true;
    return this.#deps.replica.log
      .setMetadata(seq, { pending: 'snapshot' })
      .mapErr(asStorageError)
      .andThen(() => this.#run(seq));
  }

  #run(seq: SequenceId): ResultAsync<HeldSnapshot, SnapshotError> {
    this.#busy = true;
    const result = this.#running.then(() => this.#workflow(seq));
    this.#running = result;
    return new ResultAsync(result)
      .map((held) => {
        this.#busy = false;
        this.#deferral?.cancel();
        this.#deferral = undefined;
        this.#deferralOver = false;
        this.#deps.made(held);
        return held;
      })
      .mapErr((e) => {
        this.#busy = false;
        if (e.type !== 'closed') this.#deps.failed(e);
        return e;
      });
  }

  async #workflow(seq: SequenceId): Promise<Result<HeldSnapshot, SnapshotError>> {
    const { catalog, replica } = this.#deps;
    const store = catalog.store;
    const own = catalog.own;
    if (own?.seq !== undefined && (own.seq > seq || (own.seq === seq && !this.#adoptedBeyond()))) return ok(own);
    const stopped = () => this.#deps.stopped();
    const logStart = replica.logStart;
    // The cut's tips: those of the snapshots folded in, then every signed entry before S after them.
    const bases = [...(own === undefined ? [] : [own]), ...catalog.adopted];
    const tips = new Map<PeerId, SnapshotTip>();
    const takeTip = (tip: SnapshotTip) => {
      if ((tips.get(tip.fact.origin)?.fact.counter ?? 0) < tip.fact.counter) tips.set(tip.fact.origin, tip);
    };
    for (const base of bases) {
      const root = await catalog.readRoot(base.blobId);
      if (root.isErr()) return err(root.error);
      const baseTips = await catalog.readTips(root.value);
      if (baseTips.isErr()) return err(baseTips.error);
      baseTips.value.forEach(takeTip);
    }
    // Own snapshots cover their entry and every entry before it.
    const stateFrom = own?.seq === undefined ? logStart : own.seq + 1;
    const history = catalog.historyPoint;
    const historyFrom = history?.seq ?? logStart;
    const from = Math.max(logStart, Math.min(stateFrom, historyFrom));
    // History blobs: the entries since the last history point (usually where the state starts too).
    const historyEntries: Uint8Array[] = [];
    for (let at = from; at < stateFrom;) {
      const page = await replica.log.query(at, stateFrom);
      if (page.isErr()) return err(asStorageError(page.error));
      if (page.value.entries.length === 0) break;
      page.value.entries.forEach((entry, i) => {
        if (at + i >= historyFrom) historyEntries.push(encodeEntry(entry));
      });
      at = page.value.endSequenceId;
    }
    const built = await buildRoot(
      replica,
      catalog,
      this.#deps.workers,
      {
        bases,
        from: stateFrom,
        until: seq + 1,
        tips: () => [...tips.values()],
        onEntry: (at, entry, encoded) => {
          if (entry.sig !== undefined) takeTip({ fact: factOf(entry), sig: entry.sig });
          if (at >= historyFrom) historyEntries.push(encoded);
        },
      },
      stopped,
    );
    if (built.isErr()) return err(stopped() ? closedError() : built.error);
    if (stopped()) return err(closedError());
    for (const blob of built.value.blobs) {
      const put = await store.putSnapshotBlob(blob.bytes);
      if (put.isErr()) return err(put.error);
    }
    const rootId = built.value.rootId;
    const historyId = await store.putHistory(historyEntries, Math.max(historyFrom, from), history?.blobId);
    if (historyId.isErr()) return err(historyId.error);
    const meta =
      historyId.value === undefined
        ? { snapshot: rootId, pending: undefined }
        : { snapshot: rootId, history: historyId.value, pending: undefined };
    if (stopped()) return err(closedError());
    // Until the new snapshot is attested, the attested ones it replaces stay offered: a peer lacking
    // what they cover (pruned from our log, or adopted) can adopt nothing else meanwhile.
    const superseded = await catalog.supersede(catalog.adopted.filter((a) => bases.includes(a)));
    if (superseded.isErr()) return err(superseded.error);
    if (stopped()) return err(closedError());
    const recorded = await replica.log.setMetadata(seq, meta);
    if (recorded.isErr()) return err(asStorageError(recorded.error));
    if (stopped()) return err(closedError());
    // Durable from here: the new snapshot replaces the old and folds in the adopted ones.
    const made: HeldSnapshot = { blobId: rootId, tips: chainTipsOf([...tips.values()]), seq };
    const derived =
      catalog.adopted.some((a) => bases.includes(a)) || (own !== undefined && catalog.derived(own.blobId));
    await catalog.ownMade(
      made,
      historyId.value === undefined ? undefined : { seq: seq + 1, blobId: historyId.value },
      derived,
    );
    const adoptedNow = catalog.adopted.filter((a) => bases.includes(a));
    const remaining = catalog.adopted.filter((a) => !adoptedNow.includes(a));
    // We built it, so we attest it; others' attestations come in answer to ours (attest.ts).
    catalog.attestations.add(rootId, await attest(replica.spaceId, rootId, this.#deps.signer));
    await catalog.ownAttested(); // with a quorum of one, ours is enough
    // Only once the adopted list no longer names them may their blobs go.
    if (await catalog.setAdopted(remaining)) await catalog.collect(this.#deps.pinned);
    await catalog.saveAttestations();
    return ok(made);
  }
}
