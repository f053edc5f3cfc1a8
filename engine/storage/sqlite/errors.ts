/**
 * What better-sqlite3 throws, as values: a table from SQLite result codes to the `StorageFailure` a
 * caller reacts to and the words a human reads, and `guard`, the edge where throws become errors.
 */
import { Result } from 'neverthrow';
import { describe, storageError, type StorageError, type StorageFailure } from '../../errors.js';
import { errorCode } from '../node.js';

/** SQLite result-code prefixes, what each means for a caller and for a human. First match wins. */
const SQLITE_FAILURES: readonly (readonly [prefixes: readonly string[], reason: StorageFailure, what: string])[] = [
  [['SQLITE_FULL'], 'disk-full', 'the disk is full (or the database reached its size limit)'],
  [['SQLITE_BUSY', 'SQLITE_LOCKED'], 'locked', 'the database is locked by another connection or process'],
  [['SQLITE_CORRUPT', 'SQLITE_NOTADB'], 'corrupt', 'the database file is corrupt or not a database'],
  [['SQLITE_CANTOPEN'], 'other', 'the database file cannot be opened'],
  [['SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_AUTH'], 'permission', 'the database is read-only or not permitted'],
  [['SQLITE_IOERR'], 'io', 'an I/O error occurred'],
];

/** A readable storage error from what better-sqlite3 threw, by SQLite result code. */
export function sqliteError(file: string, doing: string, e: unknown): StorageError {
  const code = errorCode(e);
  const [, reason, what] = SQLITE_FAILURES.find(([prefixes]) => prefixes.some((p) => code.startsWith(p))) ?? [
    [],
    'other',
    'SQLite failed',
  ];
  return storageError(`sqlite ${file}: ${doing}: ${what} (${code || 'error'}: ${describe(e)})`, e, reason);
}

/** better-sqlite3 throws; this is the edge where throws become StorageError values. */
export function guard<T>(file: string, doing: string, fn: () => T): Result<T, StorageError> {
  return Result.fromThrowable(fn, (e) => sqliteError(file, doing, e))();
}
