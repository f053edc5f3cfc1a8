/**
 * `space.history()`: every fact about one item, oldest first. History blobs hold the entries before
 * the history point (the audit trail survives truncation); the live log holds the rest.
 */
import { okAsync, type ResultAsync } from 'neverthrow';
import { asStorageError, type StorageError } from '../errors.js';
import type { Fact } from '../facts/types.js';
import type { SequenceId } from '../log/event-log.js';
import { factOf } from '../log/fact-entry.js';
import type { Replica } from '../space/replica.js';
import type { SnapshotCatalog } from './catalog.js';

export function itemHistory(
  replica: Replica,
  catalog: SnapshotCatalog,
  collection: string,
  item: string,
): ResultAsync<Fact[], StorageError> {
  const point = catalog.historyPoint;
  const archived: Fact[][] = [];
  const walk = (id: string | undefined): ResultAsync<Fact[], StorageError> => {
    if (id === undefined) return okAsync(archived.reverse().flat());
    return catalog.store
      .getHistory(id)
      .mapErr(asStorageError)
      .andThen((blob) => {
        archived.push(blob.entries.filter((e) => e.collection === collection && e.item === item).map(factOf));
        return walk(blob.prev);
      });
  };
  const live: Fact[] = [];
  const page = (start: SequenceId): ResultAsync<Fact[], StorageError> =>
    replica.log
      .query(start, 'end')
      .mapErr(asStorageError)
      .andThen((value) => {
        for (const entry of value.entries) {
          if (entry.collection === collection && entry.item === item) live.push(factOf(entry));
        }
        return value.isComplete ? okAsync(live) : page(value.endSequenceId);
      });
  return walk(point?.blobId).andThen((old) => {
    const logStart = replica.logStart;
    return page(Math.max(logStart, point?.seq ?? logStart)).map((recent) => [...old, ...recent]);
  });
}
