/**
 * BlobStore: a hierarchy of directories holding immutable-by-convention byte blobs (seed 002).
 * Shoal keeps snapshots and history in it, content-addressed. Every backend (memory, fs,
 * automerge-repo StorageAdapter, SQLite, IndexedDB) passes `runBlobStoreTests`.
 */
import type { ResultAsync } from 'neverthrow';
import type { NotFoundError, StorageError } from '../errors.js';

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

const BLOB_NAME = /^[A-Za-z0-9._-]{1,100}$/;

/** Validate a blob or directory name (shared by every backend). */
export function checkBlobName(name: string): InvalidBlobNameError | undefined {
  if (!BLOB_NAME.test(name) || name === '.' || name === '..') {
    return { type: 'invalid-blob-name', message: `invalid blob name ${JSON.stringify(name.slice(0, 120))}` };
  }
  return undefined;
}
