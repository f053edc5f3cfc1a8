/**
 * What IndexedDB reports, as values: a table from DOMException names to the `StorageFailure` a
 * caller reacts to and the words a human reads.
 */
import { describe, storageError, type StorageError, type StorageFailure } from '../../errors.js';

/** DOMException names, what each means for a caller and for a human. */
const IDB_FAILURES: Readonly<Record<string, readonly [reason: StorageFailure, what: string]>> = {
  QuotaExceededError: ['quota-exceeded', 'the storage quota is exceeded'],
  InvalidStateError: ['other', 'the database connection is closed'],
  VersionError: ['other', 'the database was written by a newer Shoal'],
  UnknownError: ['io', 'the browser storage failed (I/O error)'],
  DataCloneError: ['other', 'the data cannot be stored'],
  DataError: ['other', 'the data cannot be stored'],
  AbortError: ['other', 'the transaction was aborted'],
  NotFoundError: ['corrupt', 'the database layout is damaged'],
};

/** A readable storage error from what IndexedDB reported, by DOMException name. */
export function idbError(database: string, doing: string, e: unknown): StorageError {
  const name = (e as { name?: unknown } | null)?.name;
  const [reason, what] =
    typeof name === 'string' && Object.hasOwn(IDB_FAILURES, name)
      ? IDB_FAILURES[name]!
      : (['other', 'IndexedDB failed'] as const);
  return storageError(
    `indexeddb ${database}: ${doing}: ${what} (${typeof name === 'string' ? name : 'error'}: ${describe(e)})`,
    e,
    reason,
  );
}
