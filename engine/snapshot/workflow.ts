/**
 * The snapshot workflow of one space (DESIGN §4, seeds 000–002).
 *
 * For entry S (triggered by `pending: 'snapshot'` on S, written every `snapshotEvery` entries or by
 * `space.snapshot()`): fold the previous snapshot, any adopted ones and the entries before S into
 * registers (on a Workers job), write them as chunks plus a signed root, write the entries since the
 * last history point as history blobs, then record `{ snapshot, history, pending: undefined }` on S
 * in one atomic metadata write. A crash anywhere before that write leaves `pending` set and the
 * workflow runs again on open; blobs are content-addressed, so writing them twice is harmless.
 *
 * Registers merge by stamp, so a snapshot may be the previous one's chunks plus chunks of the
 * registers of the entries since (a delta): O(tail), whatever the size of the state. When the
 * chunks hold more than twice the live items (superseded registers pile up), the snapshot is
 * compacted instead: every chunk and entry folded into one fresh set of chunks. Amortized, each
 * entry costs O(1) either way.
 */
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from 'neverthrow';
import { asStorageError, closedError, corrupt, describe, invalidInput, type SnapshotError } from '../errors.js';
import type { ChainTip } from '../facts/run.js';
import type { Signer } from '../facts/sign.js';
import type { PeerId } from '../facts/types.js';
import { COMPACT_SLACK_ITEMS, LOG_PAGE_ENTRIES } from '../limits.js';
import { encodeEntry } from '../log/entry-codec.js';
import type { SequenceId } from '../log/event-log.js';
import type { Replica } from '../space/replica.js';
import type { HeldSnapshot, SnapshotCatalog } from './catalog.js';
import { encodeRoot, encodeRootBody, rootSigningHash, type SnapshotRoot } from './format.js';
import type { Workers } from './workers.js';

export interface WorkflowDeps {
  readonly replica: Replica;
  readonly catalog: SnapshotCatalog;
  readonly workers: Workers;
  readonly signer: Signer;
  readonly snapshotEvery: number;
  /** Blobs that must survive garbage collection (a fetch in progress). */
  readonly pinned: () => Iterable<string>;
  /** A snapshot was made (gossip, pruning and the next snapshot may follow). */
  readonly made: () => void;
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

  constructor(deps: WorkflowDeps) {
    this.#deps = deps;
  }

  /** Take a snapshot of everything in the log now (or return the one that already covers it). */
  now(): ResultAsync<HeldSnapshot, SnapshotError> {
    const { replica, catalog } = this.#deps;
    const head = replica.head;
    if (head === replica.logStart) return errAsync(invalidInput('the log is empty: nothing to snapshot'));
    const own = catalog.own;
    if (own?.seq === head - 1) return okAsync(own);
    return this.#markAndRun(head - 1);
  }

  /** Ask for a snapshot every `snapshotEvery` entries. */
  maybeRun(): void {
    const { replica, catalog } = this.#deps;
    if (this.#busy || this.#deps.stopped()) return;
    const since = catalog.own?.seq ?? replica.logStart;
    const head = replica.head;
    if (head - since > this.#deps.snapshotEvery) void this.#markAndRun(head - 1);
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
    const { replica } = this.#deps;
    const result = this.#running.then(() => this.#workflow(seq, replica.logStart, replica.state.itemCount));
    this.#running = result;
    return new ResultAsync(result)
      .map((held) => {
        this.#busy = false;
        this.#deps.made();
        return held;
      })
      .mapErr((e) => {
        this.#busy = false;
        if (e.type !== 'closed') this.#deps.failed(e);
        return e;
      });
  }

  async #workflow(
    seq: SequenceId,
    logStart: SequenceId,
    liveItems: number,
  ): Promise<Result<HeldSnapshot, SnapshotError>> {
    const { catalog, replica } = this.#deps;
    const store = catalog.store;
    const own = catalog.own;
    if (own?.seq !== undefined && own.seq >= seq) return ok(own);
    const stopped = () => this.#deps.stopped();
    const job = this.#deps.workers.snapshotJob();
    const tips = new Map<PeerId, ChainTip>();
    const fold = (root: SnapshotRoot) => {
      for (const [origin, tip] of root.tips) if ((tips.get(origin)?.counter ?? 0) < tip.counter) tips.set(origin, tip);
    };
    const adoptedNow = catalog.adopted;
    const base = [...(own === undefined ? [] : [own.blobId]), ...adoptedNow.map((a) => a.blobId)];
    try {
      const roots: SnapshotRoot[] = [];
      for (const rootId of base) {
        const root = await catalog.readRoot(rootId);
        if (root.isErr()) return err(root.error);
        fold(root.value);
        roots.push(root.value);
      }
      const carried = roots.reduce((sum, root) => sum + root.items, 0);
      const compact = carried > 2 * liveItems + COMPACT_SLACK_ITEMS;
      const kept: string[] = [];
      for (const root of roots) {
        if (!compact) {
          kept.push(...root.chunks);
          continue;
        }
        for (const id of root.chunks) {
          const bytes = await store.getSnapshotBlob(id);
          if (bytes.isErr()) return err(bytes.error);
          if (bytes.value === undefined) return err(corrupt(`snapshot chunk ${id} is missing`));
          await job.addChunk(bytes.value);
        }
      }
      // Entries from the previous snapshot go into the registers; entries since the last history
      // point go into history blobs. Usually both start at the previous snapshot.
      const history = catalog.historyPoint;
      const stateFrom = own?.seq ?? logStart;
      const historyFrom = history?.seq ?? logStart;
      const from = Math.max(logStart, Math.min(stateFrom, historyFrom));
      // Each entry is encoded once: the bytes feed both the job and the history blobs.
      const historyEntries: Uint8Array[] = [];
      for (let at = from; at < seq;) {
        const page = await replica.log.query(at, Math.min(seq, at + LOG_PAGE_ENTRIES));
        if (page.isErr()) return err(asStorageError(page.error));
        const entries = page.value.entries;
        if (entries.length === 0) return err(corrupt(`log ends at ${at} before the snapshot entry ${seq}`));
        const encoded: Uint8Array[] = [];
        entries.forEach((entry, i) => {
          const bytes = encodeEntry(entry);
          if (at + i >= historyFrom) historyEntries.push(bytes);
          if (at + i < stateFrom) return;
          encoded.push(bytes);
          if ((tips.get(entry.origin)?.counter ?? 0) < entry.counter) {
            tips.set(entry.origin, { counter: entry.counter, hash: entry.hash });
          }
        });
        await job.addEntries(encoded);
        at = page.value.endSequenceId;
      }
      const built = await job.finish();
      if (stopped()) return err(closedError());
      for (const chunk of built.chunks) {
        const put = await store.putSnapshotBlob(chunk.bytes);
        if (put.isErr()) return err(put.error);
      }
      const chunks = [...kept, ...built.chunks.map((c) => c.id)];
      const items = (compact ? 0 : carried) + built.items;
      const body = encodeRootBody(replica.spaceId, replica.origin, tips, items, chunks);
      const sig = await this.#deps.signer.sign(rootSigningHash(body));
      const rootId = await store.putSnapshotBlob(encodeRoot(body, sig));
      if (rootId.isErr()) return err(rootId.error);
      const historyId = await store.putHistory(historyEntries, Math.max(historyFrom, from), history?.blobId);
      if (historyId.isErr()) return err(historyId.error);
      const meta =
        historyId.value === undefined
          ? { snapshot: rootId.value, pending: undefined }
          : { snapshot: rootId.value, history: historyId.value, pending: undefined };
      if (stopped()) return err(closedError());
      const recorded = await replica.log.setMetadata(seq, meta);
      if (recorded.isErr()) return err(asStorageError(recorded.error));
      if (stopped()) return err(closedError());
      // Durable from here: the new snapshot replaces the old and folds in the adopted ones.
      const made: HeldSnapshot = { blobId: rootId.value, tips, seq };
      catalog.ownMade(made, historyId.value === undefined ? undefined : { seq, blobId: historyId.value });
      const remaining = catalog.adopted.filter((a) => !adoptedNow.includes(a));
      // Only once the adopted list no longer names them may their blobs go.
      if (await catalog.setAdopted(remaining)) await catalog.collect(this.#deps.pinned());
      return ok(made);
    } catch (e) {
      // Jobs report corrupt input by rejecting (they may run on another thread): the edge.
      return err(corrupt(`snapshot workflow: ${describe(e)}`));
    }
  }
}
