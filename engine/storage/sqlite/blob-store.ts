/**
 * The BlobStore of `sqliteStorage`: one row of table `blobs` per blob or directory, keyed by
 * (parent path, name). The root's path is '' and a child's is `${parent}/${name}`, so a
 * directory's whole subtree is one index range.
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
import { settle, view, type Connection, type ConnectionSource } from './database.js';

/** The directory at `path` ('' for the root). */
export class SqliteBlobDir implements BlobDir {
  readonly #storage: ConnectionSource;
  readonly #path: string;

  constructor(storage: ConnectionSource, path: string) {
    this.#storage = storage;
    this.#path = path;
  }

  readBlob(name: BlobName): ResultAsync<Uint8Array, ReadBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return settle(
      this.#with(`reading blob ${name}`, (c): Result<Uint8Array, ReadBlobError> => {
        const row = this.#node(c, this.#path, name);
        if (row === undefined) return err(notFound(`no blob ${name}`));
        if (row[0] === 1) return err(wrongKind(`${name} is a directory`));
        return ok(view(row[1] ?? new Uint8Array(0)));
      }),
    );
  }

  writeBlob(name: BlobName, content: Uint8Array): ResultAsync<void, WriteBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return settle(
      this.#with(`writing blob ${name}`, (c) =>
        c.db.transaction((): Result<void, WriteBlobError> => {
          const present = this.#checkPresent(c);
          if (present !== undefined) return err(present);
          if (this.#node(c, this.#path, name)?.[0] === 1) return err(wrongKind(`${name} is a directory`));
          c.stmt(
            'INSERT INTO blobs (parent, name, is_dir, content) VALUES (?, ?, 0, ?) ON CONFLICT (parent, name) DO UPDATE SET content = excluded.content',
          ).run(this.#path, name, content);
          return ok(undefined);
        })(),
      ),
    );
  }

  removeBlob(name: BlobName): ResultAsync<void, RemoveBlobError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return settle(
      this.#with(`removing blob ${name}`, (c): Result<void, RemoveBlobError> => {
        if (this.#node(c, this.#path, name)?.[0] === 1) return err(wrongKind(`${name} is a directory`));
        c.stmt('DELETE FROM blobs WHERE parent = ? AND name = ? AND is_dir = 0').run(this.#path, name);
        return ok(undefined);
      }),
    );
  }

  getDir(name: BlobName): ResultAsync<BlobDir, GetDirError> {
    const bad = checkBlobName(name);
    if (bad) return errAsync(bad);
    return settle(
      this.#with(`opening directory ${name}`, (c) =>
        c.db.transaction((): Result<BlobDir, GetDirError> => {
          const row = this.#node(c, this.#path, name);
          if (row?.[0] === 0) return err(wrongKind(`${name} is a blob`));
          if (row === undefined) {
            const present = this.#checkPresent(c);
            if (present !== undefined) return err(present);
            c.stmt('INSERT INTO blobs (parent, name, is_dir) VALUES (?, ?, 1)').run(this.#path, name);
          }
          return ok(new SqliteBlobDir(this.#storage, `${this.#path}/${name}`));
        })(),
      ),
    );
  }

  query(continuation?: string): ResultAsync<BlobDirEntries, DirQueryError> {
    return settle(
      this.#with('listing a directory', (c) => {
        const rows = c
          .stmt('SELECT name, is_dir FROM blobs WHERE parent = ? AND name > ? ORDER BY name LIMIT ?')
          .raw(true)
          .all(this.#path, continuation ?? '', BLOB_PAGE_NAMES + 1) as [string, number][];
        return ok(listingPage(rows.map(([name, isDir]) => ({ name, dir: isDir === 1 }))));
      }),
    );
  }

  removeAll(): ResultAsync<void, StorageError> {
    return settle(
      this.#with('removing a directory', (c) => {
        // '0' follows '/' in byte order: [path/, path0) is exactly the subtree below this directory.
        c.stmt('DELETE FROM blobs WHERE parent = ? OR (parent >= ? AND parent < ?)').run(
          this.#path,
          `${this.#path}/`,
          `${this.#path}0`,
        );
        return ok(undefined);
      }),
    );
  }

  #node(c: Connection, parent: string, name: string): [number, Uint8Array | null] | undefined {
    return c.stmt('SELECT is_dir, content FROM blobs WHERE parent = ? AND name = ?').raw(true).get(parent, name) as
      [number, Uint8Array | null] | undefined;
  }

  /** An error when this directory was removed (by an ancestor's removeAll) since it was opened. */
  #checkPresent(c: Connection): StorageError | undefined {
    if (this.#path === '') return undefined;
    const cut = this.#path.lastIndexOf('/');
    const row = this.#node(c, this.#path.slice(0, cut), this.#path.slice(cut + 1));
    return row?.[0] === 1 ? undefined : removedDir(this.#path);
  }

  #with<T, E>(doing: string, fn: (c: Connection) => Result<T, E>): Result<T, E | StorageError> {
    return this.#storage
      .connection()
      .andThen((c) => c.guard(doing, () => fn(c)))
      .andThen((r) => r);
  }
}
