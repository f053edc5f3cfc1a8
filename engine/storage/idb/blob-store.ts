/**
 * The BlobStore of `idbStorage`. Stores `blobs` and `dirs`: key `[parent path, name]`, the root's
 * path being '' and a child's `${parent}/${name}`, so a directory's subtree is one key range.
 */
import { err, errAsync, ok, type Result, type ResultAsync } from 'neverthrow';
import {
  checkBlobName,
  listingPage,
  removedDir,
  wrongKind,
  type BlobDir,
  type BlobDirEntries,
  type BlobName,
  type DirQueryError,
  type GetDirError,
  type ReadBlobError,
  type RemoveBlobError,
  type WriteBlobError,
} from '../../blobs/blob-store.js';
import { notFound, type StorageError } from '../../errors.js';
import { BLOB_PAGE_NAMES } from '../../limits.js';
import { allOf, requests, type IdbDatabase, type Tx } from './database.js';

type BlobTx = Tx<['blobs', 'dirs'], IDBTransactionMode>;

/** The directory at `path` ('' for the root). */
export class IdbBlobDir implements BlobDir {
  readonly #db: IdbDatabase;
  readonly #path: string;

  constructor(db: IdbDatabase, path: string) {
    this.#db = db;
    this.#path = path;
  }

  readBlob(name: BlobName): ResultAsync<Uint8Array, ReadBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return this.#db.tx(
      ['blobs', 'dirs'],
      'readonly',
      `reading blob ${name}`,
      async (tx): Promise<Result<Uint8Array, ReadBlobError>> => {
        const content = await tx.objectStore('blobs').get([this.#path, name]);
        if (content !== undefined) return ok(content);
        const isDir = (await tx.objectStore('dirs').count([this.#path, name])) > 0;
        return err(isDir ? wrongKind(`${name} is a directory`) : notFound(`no blob ${name}`));
      },
    );
  }

  writeBlob(name: BlobName, content: Uint8Array): ResultAsync<void, WriteBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    const bytes = content.slice();
    return this.#db.tx(
      ['blobs', 'dirs'],
      'readwrite',
      `writing blob ${name}`,
      async (tx): Promise<Result<void, WriteBlobError>> => {
        const gone = await this.#checkPresent(tx);
        if (gone !== undefined) return err(gone);
        if ((await tx.objectStore('dirs').count([this.#path, name])) > 0)
          return err(wrongKind(`${name} is a directory`));
        await tx.objectStore('blobs').put(bytes, [this.#path, name]);
        return ok(undefined);
      },
    );
  }

  removeBlob(name: BlobName): ResultAsync<void, RemoveBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return this.#db.tx(
      ['blobs', 'dirs'],
      'readwrite',
      `removing blob ${name}`,
      async (tx): Promise<Result<void, RemoveBlobError>> => {
        if ((await tx.objectStore('dirs').count([this.#path, name])) > 0)
          return err(wrongKind(`${name} is a directory`));
        await tx.objectStore('blobs').delete([this.#path, name]);
        return ok(undefined);
      },
    );
  }

  getDir(name: BlobName): ResultAsync<BlobDir, GetDirError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return this.#db.tx(
      ['blobs', 'dirs'],
      'readwrite',
      `opening directory ${name}`,
      async (tx): Promise<Result<BlobDir, GetDirError>> => {
        if ((await tx.objectStore('blobs').count([this.#path, name])) > 0) return err(wrongKind(`${name} is a blob`));
        if ((await tx.objectStore('dirs').count([this.#path, name])) === 0) {
          const gone = await this.#checkPresent(tx);
          if (gone !== undefined) return err(gone);
          await tx.objectStore('dirs').put(1, [this.#path, name]);
        }
        return ok(new IdbBlobDir(this.#db, `${this.#path}/${name}`));
      },
    );
  }

  query(continuation?: string): ResultAsync<BlobDirEntries, DirQueryError> {
    const range =
      continuation === undefined
        ? allOf(this.#path)
        : IDBKeyRange.bound([this.#path, continuation], [this.#path, []], true, false);
    return this.#db.tx(['blobs', 'dirs'], 'readonly', 'listing a directory', async (tx) => {
      // The first page+1 names of each kind hold the first page+1 names overall.
      const [blobKeys, dirKeys] = await requests(2, (i) =>
        tx.objectStore(i === 0 ? 'blobs' : 'dirs').getAllKeys(range, BLOB_PAGE_NAMES + 1),
      );
      const names = [
        ...(blobKeys ?? []).map((k) => ({ name: k[1], dir: false })),
        ...(dirKeys ?? []).map((k) => ({ name: k[1], dir: true })),
      ].sort((a, b) => (a.name < b.name ? -1 : 1));
      return ok(listingPage(names));
    });
  }

  removeAll(): ResultAsync<void, StorageError> {
    return this.#db.tx(['blobs', 'dirs'], 'readwrite', 'removing a directory', async (tx) => {
      // '0' follows '/': [path/, path0) is the subtree below this directory.
      const below = IDBKeyRange.bound([`${this.#path}/`], [`${this.#path}0`], false, true);
      await requests(4, (i) =>
        tx.objectStore(i < 2 ? 'blobs' : 'dirs').delete(i % 2 === 0 ? allOf(this.#path) : below),
      );
      return ok(undefined);
    });
  }

  /** An error when this directory was removed (by an ancestor's removeAll) since it was opened. */
  async #checkPresent(tx: BlobTx): Promise<StorageError | undefined> {
    if (this.#path === '') return undefined;
    const cut = this.#path.lastIndexOf('/');
    const present = (await tx.objectStore('dirs').count([this.#path.slice(0, cut), this.#path.slice(cut + 1)])) > 0;
    return present ? undefined : removedDir(this.#path);
  }
}
