/**
 * BlobStore: a hierarchy of directories holding immutable-by-convention byte blobs (seed 002).
 * Shoal keeps snapshots and history in it, content-addressed. Every backend (memory, fs,
 * automerge-repo StorageAdapter, SQLite, IndexedDB) passes `runBlobStoreTests`.
 */
import type { ResultAsync } from 'neverthrow';
import { storageError, type NotFoundError, type StorageError } from '../errors.js';
import { BLOB_PAGE_NAMES, MAX_BLOB_NAME_LENGTH } from '../limits.js';

/** Name of a blob or directory inside a BlobDir: 1–100 characters of `[A-Za-z0-9._-]`, not `.`/`..`. */
export type BlobName = string;

/** The name is empty, too long or has characters outside `[A-Za-z0-9._-]`. */
export interface InvalidBlobNameError {
  readonly type: 'invalid-blob-name';
  readonly message: string;
}

/** A blob was accessed as a directory or the other way round. */
export interface BlobWrongKindError {
  readonly type: 'blob-wrong-kind';
  readonly message: string;
}

/** The error of a backend asked for a blob where a directory is, or the other way round. */
export const wrongKind = (message: string): BlobWrongKindError => ({ type: 'blob-wrong-kind', message });

/** The error of a write into a directory that an ancestor's `removeAll` removed since it was opened. */
export const removedDir = (path: string): StorageError =>
  storageError(`directory ${path} was removed; open it again with getDir`);

export type ReadBlobError = NotFoundError | BlobWrongKindError | InvalidBlobNameError | StorageError;
export type WriteBlobError = BlobWrongKindError | InvalidBlobNameError | StorageError;
export type RemoveBlobError = BlobWrongKindError | InvalidBlobNameError | StorageError;
export type GetDirError = BlobWrongKindError | InvalidBlobNameError | StorageError;
export type DirQueryError = StorageError;

/** A page of a directory listing. */
export interface BlobDirEntries {
  readonly blobs: BlobName[];
  readonly dirs: BlobName[];
  /** Pass to `query` for the next page; absent on the last page. */
  readonly continuation?: string | undefined;
}

export interface BlobDir {
  /** The content of a blob (`not-found` if there is none). Treat the bytes as read-only. */
  readBlob(name: BlobName): ResultAsync<Uint8Array, ReadBlobError>;
  /** Create or overwrite a blob; resolves once durable. The caller must not mutate `content` meanwhile. */
  writeBlob(name: BlobName, content: Uint8Array): ResultAsync<void, WriteBlobError>;
  /** Remove a blob; removing a missing blob succeeds. */
  removeBlob(name: BlobName): ResultAsync<void, RemoveBlobError>;
  /** The subdirectory `name`, created on demand. */
  getDir(name: BlobName): ResultAsync<BlobDir, GetDirError>;
  /** List blobs and subdirectories, in no particular order, a page at a time. */
  query(continuation?: string): ResultAsync<BlobDirEntries, DirQueryError>;
  /** Remove this directory and everything in it. */
  removeAll(): ResultAsync<void, StorageError>;
}

export interface BlobStore {
  getRootDir(): ResultAsync<BlobDir, StorageError>;
}

const BLOB_NAME = new RegExp(`^[A-Za-z0-9._-]{1,${MAX_BLOB_NAME_LENGTH}}$`);

/** Validate a blob or directory name (shared by every backend). */
export function checkBlobName(name: string): InvalidBlobNameError | undefined {
  if (!BLOB_NAME.test(name) || name === '.' || name === '..') {
    return { type: 'invalid-blob-name', message: `invalid blob name ${JSON.stringify(name.slice(0, 120))}` };
  }
  return undefined;
}

/**
 * One page of a directory listing from `names` (in name order, starting after the caller's
 * continuation): the first `BLOB_PAGE_NAMES` of them, and a continuation when more follow. A backend
 * fetches one name more than a page to know.
 */
export function listingPage(names: readonly { readonly name: BlobName; readonly dir: boolean }[]): BlobDirEntries {
  const page = names.slice(0, BLOB_PAGE_NAMES);
  const blobs: BlobName[] = [];
  const dirs: BlobName[] = [];
  for (const n of page) (n.dir ? dirs : blobs).push(n.name);
  return names.length > BLOB_PAGE_NAMES ? { blobs, dirs, continuation: page[page.length - 1]!.name } : { blobs, dirs };
}
