/**
 * `automergeBlobStore(adapter)`: blobs kept by any automerge-repo `StorageAdapter` (IndexedDB,
 * NodeFS, an in-memory one…), so an app that already persists automerge-repo documents can keep
 * Shoal's snapshots in the same place.
 *
 * Keys: `[prefix, dirKey, kind + hex(name)]`, where `kind` is `b` for a blob and `d` for a
 * subdirectory marker, and `dirKey` is `p` + hex of the directory's path + `z` (or `h` + a SHA-256
 * of it + `z` when that would be long). Adapters disagree on keys: NodeFS turns each part into a
 * file name (case-insensitive on some systems, at most 255 bytes), the in-memory adapter joins
 * parts with "." and matches prefixes as strings. Lowercase hex and digits survive all of them,
 * and the `z` that ends every directory key keeps one directory's prefix from matching another.
 *
 * The StorageAdapter interface cannot list keys without loading values, so `query` loads the
 * blobs of the directory it lists (not those of its subdirectories). Durability is the adapter's:
 * a write resolves when the adapter's `save` does.
 */
import type { StorageAdapterInterface } from '@automerge/automerge-repo/slim';
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
import { describe, notFound, storageError, type StorageError } from '../errors.js';
import { toHex } from '../facts/bytes.js';
import { sha256 } from '../facts/hash.js';
import { MAX_AUTOMERGE_DIR_KEY_CHARS } from '../limits.js';

/** The first key part of every blob key, unless `init.prefix` says otherwise. */
export const DEFAULT_AUTOMERGE_BLOB_PREFIX = 'shoal-blobs';

/** Options of `automergeBlobStore`. */
export interface AutomergeBlobStoreInit {
  /**
   * First key part of every key this store writes, keeping it apart from automerge-repo's own
   * documents in a shared adapter. At least 3 characters of `[a-z0-9-]`.
   * @default DEFAULT_AUTOMERGE_BLOB_PREFIX
   */
  prefix?: string;
}

const utf8 = new TextEncoder();
const hex = (s: string): string => toHex(utf8.encode(s));
const fromHex = (h: string): string | undefined => {
  if (h.length % 2 !== 0 || !/^[0-9a-f]*$/.test(h)) return undefined;
  let out = '';
  for (let i = 0; i < h.length; i += 2) out += String.fromCharCode(parseInt(h.slice(i, i + 2), 16));
  return out;
};

/** Key part of the directory at `path` (its names from the root). */
function dirKey(path: readonly string[]): string {
  const spelled = hex(path.join('/'));
  return spelled.length + 2 <= MAX_AUTOMERGE_DIR_KEY_CHARS
    ? `p${spelled}z`
    : `h${toHex(sha256(utf8.encode(path.join('/'))))}z`;
}

/** Present in marker values: some adapters treat an empty value as absent. */
const MARKER = Uint8Array.of(1);

class AutomergeBlobDir implements BlobDir {
  readonly #adapter: StorageAdapterInterface;
  readonly #prefix: string;
  readonly #path: readonly string[];
  readonly #key: string;

  constructor(adapter: StorageAdapterInterface, prefix: string, path: readonly string[]) {
    this.#adapter = adapter;
    this.#prefix = prefix;
    this.#path = path;
    this.#key = dirKey(path);
  }

  readBlob(name: BlobName): ResultAsync<Uint8Array, ReadBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return this.#load(this.#blobKey(name), `reading blob ${name}`).andThen(
      (data): ResultAsync<Uint8Array, ReadBlobError> => {
        if (data !== undefined) return okAsync(data);
        return this.#isDir(name).andThen((isDir) =>
          err(isDir ? wrongKind(`${name} is a directory`) : notFound(`no blob ${name}`)),
        );
      },
    );
  }

  writeBlob(name: BlobName, content: Uint8Array): ResultAsync<void, WriteBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    // Copy now: adapters may keep the array, and the caller may reuse its buffer.
    const bytes = content.slice();
    return this.#isDir(name)
      .andThen((isDir): ResultAsync<void, WriteBlobError> => {
        if (isDir) return errAsync(wrongKind(`${name} is a directory`));
        return this.#checkPresent();
      })
      .andThen(() => this.#call(`writing blob ${name}`, () => this.#adapter.save(this.#blobKey(name), bytes)));
  }

  removeBlob(name: BlobName): ResultAsync<void, RemoveBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return this.#isDir(name).andThen((isDir): ResultAsync<void, RemoveBlobError> => {
      if (isDir) return errAsync(wrongKind(`${name} is a directory`));
      return this.#call(`removing blob ${name}`, () => this.#adapter.remove(this.#blobKey(name)));
    });
  }

  getDir(name: BlobName): ResultAsync<BlobDir, GetDirError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    const child = new AutomergeBlobDir(this.#adapter, this.#prefix, [...this.#path, name]);
    return this.#load(this.#blobKey(name), `opening directory ${name}`)
      .andThen((blob): ResultAsync<boolean, GetDirError> =>
        blob !== undefined ? errAsync(wrongKind(`${name} is a blob`)) : this.#isDir(name),
      )
      .andThen((isDir): ResultAsync<void, StorageError> => {
        if (isDir) return okAsync(undefined);
        return this.#checkPresent().andThen(() =>
          this.#call(`creating directory ${name}`, () => this.#adapter.save(this.#markerKey(name), MARKER)),
        );
      })
      .map(() => child);
  }

  query(continuation?: string): ResultAsync<BlobDirEntries, DirQueryError> {
    return this.#children().map((children) =>
      listingPage(
        children
          .filter((c) => continuation === undefined || c.name > continuation)
          .sort((a, b) => (a.name < b.name ? -1 : 1)),
      ),
    );
  }

  removeAll(): ResultAsync<void, StorageError> {
    return this.#children()
      .andThen((children) =>
        ResultAsync.combine(
          children
            .filter((c) => c.dir)
            .map((c) => new AutomergeBlobDir(this.#adapter, this.#prefix, [...this.#path, c.name]).removeAll()),
        ),
      )
      .andThen(() => this.#call('removing a directory', () => this.#adapter.removeRange([this.#prefix, this.#key])));
  }

  /** Names directly in this directory, from the keys the adapter holds under its prefix. */
  #children(): ResultAsync<{ name: string; dir: boolean }[], StorageError> {
    return ResultAsync.fromPromise(this.#adapter.loadRange([this.#prefix, this.#key]), (e) =>
      storageError(`automerge storage adapter: listing a directory: ${describe(e)}`, e),
    ).map((chunks) => {
      const out: { name: string; dir: boolean }[] = [];
      for (const { key, data } of chunks) {
        // Keep only exact matches, whatever prefix semantics the adapter has.
        if (data === undefined || key.length !== 3 || key[0] !== this.#prefix || key[1] !== this.#key) continue;
        const part = key[2]!;
        const name = fromHex(part.slice(1));
        if (name === undefined || checkBlobName(name) !== undefined || (part[0] !== 'b' && part[0] !== 'd')) continue;
        out.push({ name, dir: part[0] === 'd' });
      }
      return out;
    });
  }

  #isDir(name: string): ResultAsync<boolean, StorageError> {
    return this.#load(this.#markerKey(name), `inspecting ${name}`).map((m) => m !== undefined);
  }

  /** An error when this directory was removed (by an ancestor's removeAll) since it was opened. */
  #checkPresent(): ResultAsync<void, StorageError> {
    if (this.#path.length === 0) return okAsync(undefined);
    const parent = dirKey(this.#path.slice(0, -1));
    const marker = [this.#prefix, parent, `d${hex(this.#path[this.#path.length - 1]!)}`];
    return this.#load(marker, 'inspecting a directory').andThen((m) =>
      m !== undefined ? ok(undefined) : err(removedDir(this.#path.join('/'))),
    );
  }

  #blobKey(name: string): string[] {
    return [this.#prefix, this.#key, `b${hex(name)}`];
  }

  #markerKey(name: string): string[] {
    return [this.#prefix, this.#key, `d${hex(name)}`];
  }

  #load(key: string[], doing: string): ResultAsync<Uint8Array | undefined, StorageError> {
    return ResultAsync.fromPromise(this.#adapter.load(key), (e) =>
      storageError(`automerge storage adapter: ${doing}: ${describe(e)}`, e),
    );
  }

  #call(doing: string, fn: () => Promise<void>): ResultAsync<void, StorageError> {
    return ResultAsync.fromPromise(Promise.resolve().then(fn), (e) =>
      storageError(`automerge storage adapter: ${doing}: ${describe(e)}`, e),
    );
  }
}

/**
 * A BlobStore kept by an automerge-repo `StorageAdapter`.
 *
 * @example
 * ```ts
 * import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';
 * const blobs = automergeBlobStore(new NodeFSStorageAdapter('./repo-data'));
 * ```
 */
export function automergeBlobStore(adapter: StorageAdapterInterface, init: AutomergeBlobStoreInit = {}): BlobStore {
  const prefix = init.prefix ?? DEFAULT_AUTOMERGE_BLOB_PREFIX;
  if (!/^[a-z0-9-]{3,100}$/.test(prefix)) {
    const bad = storageError(
      `automergeBlobStore: prefix ${JSON.stringify(prefix)} must be 3–100 characters of [a-z0-9-]`,
    );
    return { getRootDir: () => errAsync(bad) };
  }
  const root = new AutomergeBlobDir(adapter, prefix, []);
  return { getRootDir: () => okAsync(root) };
}
