/**
 * Building a snapshot root for a cut: the registers of every fact the cut covers (per origin, up to
 * its tip), from a base snapshot held here plus the log entries after it, written canonically
 * (engine/snapshot/format.ts). The same cut gives the same root on every peer; that is what the
 * workflow (our own snapshots) and attestation (other peers' snapshots) both rely on.
 */
import { err, ok, type Result } from 'neverthrow';
import { asStorageError, corrupt, describe, type CorruptError, type StorageError } from '../errors.js';
import type { PeerId } from '../facts/types.js';
import { LOG_PAGE_ENTRIES } from '../limits.js';
import { encodeEntry } from '../log/entry-codec.js';
import type { SequenceId } from '../log/event-log.js';
import type { FactEntry } from '../log/fact-entry.js';
import type { Replica } from '../space/replica.js';
import type { HeldSnapshot, SnapshotCatalog } from './catalog.js';
import { blobIdOf, encodeRoot, encodeTipChunks, type SnapshotRoot, type SnapshotTip } from './format.js';
import type { Workers } from './workers.js';

/** A built snapshot: its root and every blob, not stored yet. */
export interface BuiltRoot {
  readonly rootId: string;
  readonly root: SnapshotRoot;
  readonly blobs: readonly { id: string; bytes: Uint8Array }[];
}

/** What a build starts from and goes through. */
export interface BuildPlan {
  /** Snapshots whose registers the cut includes (an own one and/or adopted ones). */
  readonly bases: readonly HeldSnapshot[];
  /** Log entries from here on (up to `until`) are folded in, those the cut covers. */
  readonly from: SequenceId;
  readonly until: SequenceId;
  /** Per origin, the last counter the cut covers; undefined: every entry read is covered. */
  readonly cut?: ReadonlyMap<PeerId, number> | undefined;
  /** The cut's tips, asked for once every entry was read. */
  readonly tips: () => readonly SnapshotTip[];
  /** Each entry read, and its encoding (the workflow finds tips and writes history blobs with them). */
  readonly onEntry?: (seq: SequenceId, entry: FactEntry, encoded: Uint8Array) => void;
}

export async function buildRoot(
  replica: Replica,
  catalog: SnapshotCatalog,
  workers: Workers,
  plan: BuildPlan,
  stopped: () => boolean,
): Promise<Result<BuiltRoot, StorageError | CorruptError>> {
  const cut = plan.cut;
  const job = workers.snapshotJob();
  try {
    for (const base of plan.bases) {
      const root = await catalog.readRoot(base.blobId);
      if (root.isErr()) return err(root.error);
      for (const id of root.value.chunks) {
        const bytes = await catalog.store.getSnapshotBlob(id);
        if (bytes.isErr()) return err(bytes.error);
        if (bytes.value === undefined) return err(corrupt(`snapshot chunk ${id} is missing`));
        await job.addChunk(bytes.value);
      }
    }
    for (let at = plan.from; at < plan.until;) {
      if (stopped()) return err(corrupt('stopped'));
      const page = await replica.log.query(at, Math.min(plan.until, at + LOG_PAGE_ENTRIES));
      if (page.isErr()) return err(asStorageError(page.error));
      const entries = page.value.entries;
      if (entries.length === 0) return err(corrupt(`log ends at ${at}, before ${plan.until}`));
      const covers = (entry: FactEntry) => cut === undefined || entry.counter <= (cut.get(entry.origin) ?? 0);
      const onEntry = plan.onEntry;
      if (job.addFacts !== undefined) {
        // A job on this thread takes the entries themselves: encoded only for whoever reads them.
        if (onEntry !== undefined) entries.forEach((entry: FactEntry, i) => onEntry(at + i, entry, encodeEntry(entry)));
        await job.addFacts(cut === undefined ? entries : entries.filter(covers));
      } else {
        const covered: Uint8Array[] = [];
        entries.forEach((entry: FactEntry, i) => {
          const bytes = encodeEntry(entry);
          onEntry?.(at + i, entry, bytes);
          if (covers(entry)) covered.push(bytes);
        });
        await job.addEntries(covered);
      }
      at = page.value.endSequenceId;
    }
    const built = await job.finish();
    const tips = plan.tips();
    const tipChunks = encodeTipChunks(tips);
    const root: SnapshotRoot = {
      space: replica.spaceId,
      origins: tips.length,
      tipChunks: tipChunks.map((c) => c.id),
      items: built.items,
      chunks: built.chunks.map((c) => c.id),
    };
    const rootBytes = encodeRoot(root);
    const rootId = blobIdOf(rootBytes);
    return ok({ rootId, root, blobs: [...tipChunks, ...built.chunks, { id: rootId, bytes: rootBytes }] });
  } catch (e) {
    // Jobs report corrupt input by rejecting (they may run on another thread): the edge.
    return err(corrupt(`snapshot build: ${describe(e)}`));
  }
}

/** Whether a snapshot covering `tips` covers no more of any origin than `cut`. */
export function within(
  tips: ReadonlyMap<PeerId, { readonly counter: number }>,
  cut: ReadonlyMap<PeerId, number>,
): boolean {
  for (const [origin, tip] of tips) if (tip.counter > (cut.get(origin) ?? 0)) return false;
  return true;
}
