/**
 * Opening a space: load the latest snapshot (and adopted ones) into the registers, restore the
 * pending set from the log, replay the log after the snapshot, and resume any snapshot workflow a
 * crash interrupted.
 */
import { errAsync, okAsync, type ResultAsync } from 'neverthrow';
import { asStorageError, type OpenError } from '../errors.js';
import type { SequenceId } from '../log/event-log.js';
import { SnapshotStore } from '../snapshot/store.js';
import { loadAcked } from '../sync/acks.js';
import { SpaceImpl, type SpaceContext } from './space.js';

/** Open space `ctx.id` on `ctx.storage`. */
export function openSpace(ctx: SpaceContext): ResultAsync<SpaceImpl, OpenError> {
  return ctx.storage.openLog(ctx.id).andThen((log) =>
    loadAcked(ctx.storage, ctx.id)
      .andThen((acked) =>
        SnapshotStore.open(ctx.storage.blobs, ctx.archive, ctx.id).map(
          (store) => new SpaceImpl(ctx, log, { acked, store }),
        ),
      )
      .andThen((space) => load(space).map(() => space)),
  );
}

function load(space: SpaceImpl): ResultAsync<void, OpenError> {
  const { replica, catalog } = space;
  const log = replica.log;
  return log
    .query('start', 'end')
    .andThen((first) => {
      replica.setLogStart(first.startSequenceId);
      return log.query('snapshot', 'end');
    })
    .mapErr(asStorageError)
    .andThen((page) => {
      const entry = page.entries[0];
      const at = page.startSequenceId;
      // The snapshot entry is covered by its snapshot and by its history blob: history ends after it.
      const point = entry?.history === undefined ? undefined : { seq: at + 1, blobId: entry.history };
      return catalog
        .load(entry?.snapshot === undefined ? undefined : entry, at, point, (c, i, r) => space.mergeItem(c, i, r))
        .map((held) => {
          for (const snapshot of held) replica.adoptTips(snapshot.tips);
          space.emitMerged();
          return at;
        });
    })
    .andThen((from) => scanPrefix(space, replica.logStart, from).map(() => from))
    .andThen((from) => replay(space, from, []));
}

/**
 * The entries before the snapshot we loaded (its registers hold them, so they are not replayed)
 * that are still in the log: indexed, so they can still be sent as facts to a peer that lacks them
 * (the snapshot may not be attested yet, so not offerable), and own facts not yet acknowledged
 * among them restored as pending.
 */
function scanPrefix(space: SpaceImpl, at: SequenceId, snapshotSeq: SequenceId): ResultAsync<void, OpenError> {
  const { replica, acks } = space;
  if (at >= snapshotSeq) return okAsync(undefined);
  return replica.log
    .query(at, snapshotSeq)
    .mapErr(asStorageError)
    .andThen((page) => {
      let seq = page.startSequenceId;
      for (const entry of page.entries) {
        replica.index.add(entry.origin, entry.counter, seq++);
        if (entry.origin === replica.origin && entry.counter > acks.acked) {
          space.restorePending(entry);
        }
      }
      if (page.entries.length === 0) return okAsync(undefined);
      return scanPrefix(space, page.endSequenceId, snapshotSeq);
    });
}

function replay(space: SpaceImpl, start: SequenceId, pendingWorkflows: SequenceId[]): ResultAsync<void, OpenError> {
  const { replica, acks } = space;
  return replica.log
    .query(start, 'end')
    .mapErr(asStorageError)
    .andThen((page) => {
      let seq = page.startSequenceId;
      for (const entry of page.entries) {
        const held = replica.counter(entry.origin);
        if (entry.counter > held + 1 && held > 0) {
          return errAsync<void, OpenError>({
            type: 'corrupt',
            message: `log entry ${seq}: ${entry.origin} counter ${entry.counter} after ${held}`,
          });
        }
        if (entry.pending === 'snapshot') pendingWorkflows.push(seq);
        replica.accept(entry, seq++);
        replica.clock.observe(entry.hlc);
        if (entry.origin === replica.origin && entry.counter > acks.acked) space.restorePending(entry);
      }
      if (!page.isComplete) return replay(space, page.endSequenceId, pendingWorkflows);
      replica.replayed(page.endSequenceId);
      // A crash interrupted a workflow: run it again (the latest one covers the others).
      const resume = pendingWorkflows[pendingWorkflows.length - 1];
      if (resume !== undefined) space.workflow.resume(resume);
      else {
        space.workflow.maybeRun();
        space.resumeAttesting();
      }
      return okAsync(undefined);
    });
}
