/**
 * `memoryStorage()`: everything in memory, exact semantics, for tests and simulation. It behaves
 * like a disk that survives the peer: after `peer.close()` or a simulated crash, a new peer created
 * on the same `memoryStorage()` finds everything that was durable.
 */
import { errAsync, okAsync, type ResultAsync } from 'neverthrow';
import { memoryBlobStore } from '../blobs/memory-blobs.js';
import { storageError, type StorageError } from '../errors.js';
import type { EventLog } from '../log/event-log.js';
import type { FactEntry } from '../log/fact-entry.js';
import { MemoryEventLog } from '../log/memory-log.js';
import type { Storage } from './storage.js';

export interface MemoryStorageInit {
  /** Most entries one log query returns (small values exercise paging). @default LOG_PAGE_ENTRIES */
  pageSize?: number;
}

/** Storage held in memory. */
export function memoryStorage(init: MemoryStorageInit = {}): Storage {
  const logs = new Map<string, EventLog<FactEntry>>();
  const meta = new Map<string, Uint8Array>();
  const blobs = memoryBlobStore();
  return {
    name: 'memory',
    blobs,
    openLog(spaceId: string): ResultAsync<EventLog<FactEntry>, StorageError> {
      let log = logs.get(spaceId);
      if (log === undefined) {
        log = new MemoryEventLog<FactEntry>(init.pageSize === undefined ? {} : { pageSize: init.pageSize });
        logs.set(spaceId, log);
      }
      return okAsync(log);
    },
    getMeta: (key) => okAsync(meta.get(key)),
    setMeta(key, value) {
      if (typeof key !== 'string') return errAsync(storageError('metadata keys are strings'));
      meta.set(key, value.slice());
      return okAsync(undefined);
    },
    deleteMeta(key) {
      meta.delete(key);
      return okAsync(undefined);
    },
    // Memory is the disk: closing releases nothing, so a restarted peer can open it again.
    close: () => okAsync(undefined),
  };
}
