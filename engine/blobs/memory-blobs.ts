/**
 * The in-memory BlobStore: the reference implementation. Blob contents are copied in and handed out
 * as-is (readers treat them as read-only).
 */
import { errAsync, okAsync, type ResultAsync } from 'neverthrow';
import { notFound, type StorageError } from '../errors.js';
import { BLOB_PAGE_NAMES } from '../limits.js';
import {
  checkBlobName,
  listingPage,
  wrongKind,
  type BlobDir,
  type BlobDirEntries,
  type BlobName,
  type BlobStore,
  type DirQueryError,
  type GetDirError,
  type ReadBlobError,
  type RemoveBlobError,
  type WriteBlobError,
} from './blob-store.js';

type Node = Uint8Array | MemoryBlobDir;

class MemoryBlobDir implements BlobDir {
  readonly children = new Map<BlobName, Node>();

  readBlob(name: BlobName): ResultAsync<Uint8Array, ReadBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    const node = this.children.get(name);
    if (node === undefined) return errAsync(notFound(`no blob ${name}`));
    if (node instanceof MemoryBlobDir) return errAsync(wrongKind(`${name} is a directory`));
    return okAsync(node);
  }

  writeBlob(name: BlobName, content: Uint8Array): ResultAsync<void, WriteBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    if (this.children.get(name) instanceof MemoryBlobDir) return errAsync(wrongKind(`${name} is a directory`));
    this.children.set(name, content.slice());
    return okAsync(undefined);
  }

  removeBlob(name: BlobName): ResultAsync<void, RemoveBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    if (this.children.get(name) instanceof MemoryBlobDir) return errAsync(wrongKind(`${name} is a directory`));
    this.children.delete(name);
    return okAsync(undefined);
  }

  getDir(name: BlobName): ResultAsync<BlobDir, GetDirError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    const node = this.children.get(name);
    if (node instanceof MemoryBlobDir) return okAsync(node);
    if (node !== undefined) return errAsync(wrongKind(`${name} is a blob`));
    const dir = new MemoryBlobDir();
    this.children.set(name, dir);
    return okAsync(dir);
  }

  query(continuation?: string): ResultAsync<BlobDirEntries, DirQueryError> {
    const names = [...this.children.keys()].sort();
    const from = continuation === undefined ? 0 : names.findIndex((n) => n > continuation);
    // One name past the page tells listingPage whether more follow.
    const candidates = from < 0 ? [] : names.slice(from, from + BLOB_PAGE_NAMES + 1);
    return okAsync(
      listingPage(candidates.map((name) => ({ name, dir: this.children.get(name) instanceof MemoryBlobDir }))),
    );
  }

  removeAll(): ResultAsync<void, StorageError> {
    this.children.clear();
    return okAsync(undefined);
  }
}

/** A BlobStore held in memory. */
export function memoryBlobStore(): BlobStore {
  const root = new MemoryBlobDir();
  return { getRootDir: () => okAsync(root) };
}
