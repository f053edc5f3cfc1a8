/**
 * `fsBlobStore(dir)`: blobs as files, directories as directories, under `dir`.
 *
 * A write never leaves a torn blob: the content goes to a temporary file in the same directory,
 * which is fsynced, renamed over the blob and the directory fsynced, so after a crash a blob holds
 * either its old or its new content. Temporary names contain `~`, which no blob name can, so they
 * never show in listings; leftovers of a crash are removed the next time the directory is listed.
 *
 * `node:fs` is reached through `process.getBuiltinModule`, never imported statically, so a browser
 * bundle of the package root does not pull it in.
 */
import { err, errAsync, ok, okAsync, ResultAsync } from 'neverthrow';
import {
  checkBlobName,
  listingPage,
  removedDir,
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
} from '../blobs/blob-store.js';
import { describe, notFound, storageError, type StorageError, type StorageFailure } from '../errors.js';
import { errorCode, nodeBuiltin } from './node.js';

type Fs = typeof import('node:fs/promises');
type Path = typeof import('node:path');

/** Marks temporary files; `~` is outside the blob name alphabet. */
const TEMP_MARK = '~tmp~';

interface Node {
  readonly fs: Fs;
  readonly path: Path;
  readonly randomUUID: () => string;
}

function loadNode(): Node | undefined {
  const fs = nodeBuiltin<Fs>('node:fs/promises');
  const path = nodeBuiltin<Path>('node:path');
  const crypto = nodeBuiltin<typeof import('node:crypto')>('node:crypto');
  return fs && path && crypto ? { fs, path, randomUUID: () => crypto.randomUUID() } : undefined;
}

/** Errno codes, what each means for a caller and for a human. */
const FS_FAILURES: Readonly<Record<string, readonly [reason: StorageFailure, what: string]>> = {
  ENOSPC: ['disk-full', 'the disk is full'],
  EDQUOT: ['disk-full', 'the disk is full'],
  EACCES: ['permission', 'permission denied or read-only file system'],
  EPERM: ['permission', 'permission denied or read-only file system'],
  EROFS: ['permission', 'permission denied or read-only file system'],
  EMFILE: ['other', 'too many open files'],
  ENFILE: ['other', 'too many open files'],
  EIO: ['io', 'an I/O error occurred'],
};

/** A readable storage error from a failed fs call, by errno code. */
function fsError(doing: string, e: unknown): StorageError {
  const code = errorCode(e);
  const [reason, what] = Object.hasOwn(FS_FAILURES, code)
    ? FS_FAILURES[code]!
    : (['other', 'the file system call failed'] as const);
  return storageError(`fs blobs: ${doing}: ${what} (${code || 'error'}: ${describe(e)})`, e, reason);
}

/** What is at `file`: 'file', 'dir', or undefined when nothing is. */
type Kind = 'file' | 'dir' | undefined;

class FsBlobDir implements BlobDir {
  readonly #node: Node;
  readonly #dir: string;
  /** Temporary files being written by this store, so a listing never removes them. */
  readonly #inFlight: Set<string>;

  constructor(node: Node, dir: string, inFlight: Set<string>) {
    this.#node = node;
    this.#dir = dir;
    this.#inFlight = inFlight;
  }

  readBlob(name: BlobName): ResultAsync<Uint8Array, ReadBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    const file = this.#node.path.join(this.#dir, name);
    return ResultAsync.fromPromise(this.#node.fs.readFile(file), (e) => e)
      .orElse((e) => {
        const code = errorCode(e);
        if (code === 'ENOENT' || code === 'ENOTDIR') return err(notFound(`no blob ${name}`));
        if (code === 'EISDIR') return err(wrongKind(`${name} is a directory`));
        return err(fsError(`reading blob ${name}`, e));
      })
      .map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  }

  writeBlob(name: BlobName, content: Uint8Array): ResultAsync<void, WriteBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    const { fs, path } = this.#node;
    const file = path.join(this.#dir, name);
    // Copy now: the caller may reuse its buffer as soon as this call returns.
    const bytes = content.slice();
    return this.#kind(file).andThen((kind): ResultAsync<void, WriteBlobError> => {
      if (kind === 'dir') return errAsync(wrongKind(`${name} is a directory`));
      const temp = path.join(this.#dir, `${name}${TEMP_MARK}${this.#node.randomUUID()}`);
      this.#inFlight.add(temp);
      const write = async (): Promise<void> => {
        // One call opens, writes, fsyncs (flush) and closes: on a busy event loop each awaited
        // call costs a turn, so fewer calls is what keeps snapshots and pruning moving.
        await fs.writeFile(temp, bytes, { flag: 'wx', flush: true });
        await fs.rename(temp, file);
        await syncDir(fs, this.#dir);
      };
      return ResultAsync.fromPromise(write(), (e) => e)
        .orElse((e) =>
          // Do not leave the temporary file behind; its removal failing changes nothing.
          ResultAsync.fromSafePromise(fs.rm(temp, { force: true }).catch(() => undefined)).andThen(() =>
            err(errorCode(e) === 'ENOENT' ? removedDir(this.#dir) : fsError(`writing blob ${name}`, e)),
          ),
        )
        .map(() => {
          this.#inFlight.delete(temp);
        })
        .mapErr((e) => {
          this.#inFlight.delete(temp);
          return e;
        });
    });
  }

  removeBlob(name: BlobName): ResultAsync<void, RemoveBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    const file = this.#node.path.join(this.#dir, name);
    return this.#kind(file).andThen((kind): ResultAsync<void, RemoveBlobError> => {
      if (kind === 'dir') return errAsync(wrongKind(`${name} is a directory`));
      if (kind === undefined) return okAsync(undefined);
      return ResultAsync.fromPromise(
        this.#node.fs.rm(file, { force: true }).then(() => syncDir(this.#node.fs, this.#dir)),
        (e) => fsError(`removing blob ${name}`, e),
      );
    });
  }

  getDir(name: BlobName): ResultAsync<BlobDir, GetDirError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    const sub = this.#node.path.join(this.#dir, name);
    const child = new FsBlobDir(this.#node, sub, this.#inFlight);
    return this.#kind(sub).andThen((kind): ResultAsync<BlobDir, GetDirError> => {
      if (kind === 'file') return errAsync(wrongKind(`${name} is a blob`));
      if (kind === 'dir') return okAsync(child);
      return ResultAsync.fromPromise(
        this.#node.fs.mkdir(sub).then(() => syncDir(this.#node.fs, this.#dir)),
        (e) => e,
      )
        .orElse((e) => {
          const code = errorCode(e);
          if (code === 'EEXIST') return ok(undefined); // created meanwhile
          if (code === 'ENOENT') return err(removedDir(this.#dir));
          return err(fsError(`creating directory ${name}`, e));
        })
        .map(() => child as BlobDir);
    });
  }

  query(continuation?: string): ResultAsync<BlobDirEntries, DirQueryError> {
    const { fs, path } = this.#node;
    return ResultAsync.fromPromise(fs.readdir(this.#dir, { withFileTypes: true }), (e) => e)
      .orElse((e) => (errorCode(e) === 'ENOENT' ? ok([]) : err(fsError('listing a directory', e))))
      .andThen((dirents) => {
        const leftovers = dirents
          .filter((d) => d.name.includes(TEMP_MARK))
          .map((d) => path.join(this.#dir, d.name))
          .filter((f) => !this.#inFlight.has(f));
        const names = dirents
          .filter((d) => checkBlobName(d.name) === undefined && (continuation === undefined || d.name > continuation))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        const value = listingPage(names.map((d) => ({ name: d.name, dir: d.isDirectory() })));
        // Temporary files a crash left behind: garbage, removed on the way.
        return ResultAsync.fromPromise(Promise.all(leftovers.map((f) => fs.rm(f, { force: true }))), (e) =>
          fsError('removing leftover temporary files', e),
        ).map(() => value);
      });
  }

  removeAll(): ResultAsync<void, StorageError> {
    const { fs, path } = this.#node;
    const clear = async (): Promise<void> => {
      const names = await fs.readdir(this.#dir).catch((e: unknown) => {
        if (errorCode(e) === 'ENOENT') return [];
        throw e;
      });
      await Promise.all(names.map((n) => fs.rm(path.join(this.#dir, n), { recursive: true, force: true })));
      if (names.length > 0) await syncDir(fs, this.#dir);
    };
    return ResultAsync.fromPromise(clear(), (e) => fsError('removing a directory', e));
  }

  #kind(file: string): ResultAsync<Kind, StorageError> {
    return ResultAsync.fromPromise(this.#node.fs.stat(file), (e) => e)
      .map((s): Kind => (s.isDirectory() ? 'dir' : 'file'))
      .orElse((e) =>
        errorCode(e) === 'ENOENT' || errorCode(e) === 'ENOTDIR' ? ok(undefined) : err(fsError(`inspecting ${file}`, e)),
      );
  }
}

/** fsync a directory, making a rename or a new entry in it durable. */
async function syncDir(fs: Fs, dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A BlobStore in the directory `dir` (created, with its parents, on first use).
 *
 * @example
 * ```ts
 * const blobs = fsBlobStore('./peer-data/blobs');
 * ```
 */
export function fsBlobStore(dir: string): BlobStore {
  const inFlight = new Set<string>();
  let root: FsBlobDir | undefined;
  return {
    getRootDir(): ResultAsync<BlobDir, StorageError> {
      if (root !== undefined) return okAsync(root);
      const node = loadNode();
      if (node === undefined) return errAsync(storageError('fsBlobStore needs Node.js (node:fs)'));
      const absolute = node.path.resolve(dir);
      return ResultAsync.fromPromise(node.fs.mkdir(absolute, { recursive: true }), (e) =>
        fsError(`creating ${absolute}`, e),
      ).map(() => {
        root ??= new FsBlobDir(node, absolute, inFlight);
        return root;
      });
    },
  };
}
