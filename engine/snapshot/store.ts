/**
 * Where a space's snapshot and history blobs live in the BlobStore, and their formats' I/O:
 *
 *   space-<hash of space id>/snapshots/<blob id>   snapshot roots and chunks (content-addressed)
 *   space-<hash of space id>/history/<blob id>     history blobs, each naming the one before
 *                                                  (in the peer's `archive` store when it has one)
 *
 *   history := 'H' u8(1) · u8 hasPrev · [prev id 32] · uvarint firstSeq · uvarint n · (bytes entry)*
 *
 * Every blob read back is checked against its id (the SHA-256 of its bytes): a damaged or swapped
 * blob is refused, never trusted.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from 'neverthrow';
import type { BlobDir, BlobStore } from '../blobs/blob-store.js';
import { asStorageError, corrupt, type CorruptError, type StorageError } from '../errors.js';
import { Reader, toHex, Writer } from '../facts/bytes.js';
import { HASH_BYTES } from '../facts/codec.js';
import { sha256 } from '../facts/hash.js';
import type { SequenceId } from '../log/event-log.js';
import { decodeEntry } from '../log/entry-codec.js';
import type { FactEntry } from '../log/fact-entry.js';
import { blobIdOf } from './format.js';

/** Entries per history blob. */
export const HISTORY_BLOB_ENTRIES = 8192;

const HISTORY_MAGIC = 0x48; // 'H'
const VERSION = 1;

export type BlobError = StorageError | CorruptError;

export interface HistoryBlob {
  readonly prev: string | undefined;
  readonly firstSeq: SequenceId;
  readonly entries: FactEntry[];
}

export class SnapshotStore {
  readonly #snapshots: BlobDir;
  readonly #history: BlobDir;
  /** A sweep (`collect`) is running. */
  #sweeping = false;
  /** Snapshot blobs written while the sweep runs: it keeps them whatever its keep set says. */
  readonly #fresh = new Set<string>();

  private constructor(snapshots: BlobDir, history: BlobDir) {
    this.#snapshots = snapshots;
    this.#history = history;
  }

  /** Snapshots go to `blobs`; history blobs to `archive` (the same store unless told otherwise). */
  static open(blobs: BlobStore, archive: BlobStore, spaceId: string): ResultAsync<SnapshotStore, StorageError> {
    const name = `space-${toHex(sha256(new TextEncoder().encode(spaceId))).slice(0, 32)}`;
    const dir = (store: BlobStore, sub: string) =>
      store
        .getRootDir()
        .andThen((root) => root.getDir(name).mapErr(asStorageError))
        .andThen((space) => space.getDir(sub).mapErr(asStorageError));
    return dir(blobs, 'snapshots').andThen((snapshots) =>
      dir(archive, 'history').map((history) => new SnapshotStore(snapshots, history)),
    );
  }

  /** Store a snapshot blob (idempotent: the name is the content's hash). */
  putSnapshotBlob(bytes: Uint8Array): ResultAsync<string, StorageError> {
    const id = blobIdOf(bytes);
    // A sweep in progress must not take a blob written while it runs (its keep set predates it).
    if (this.#sweeping) this.#fresh.add(id);
    return this.#snapshots
      .writeBlob(id, bytes)
      .mapErr(asStorageError)
      .map(() => id);
  }

  /** A snapshot blob, checked against its id; undefined when we do not have it. */
  getSnapshotBlob(id: string): ResultAsync<Uint8Array | undefined, BlobError> {
    return readChecked(this.#snapshots, id);
  }

  /**
   * Remove snapshot blobs not in `keep` (old snapshots, leftovers of a crashed workflow). `keep` is
   * asked again for each page, so blobs pinned while the sweep runs survive it, and a blob written
   * during the sweep is never removed by it; `keep` answering undefined ends the sweep (it could not
   * tell what to keep).
   */
  collect(keep: () => Promise<ReadonlySet<string> | undefined>): ResultAsync<number, StorageError> {
    if (this.#sweeping) return okAsync(0);
    this.#sweeping = true;
    const sweep = (continuation: string | undefined, removed: number): ResultAsync<number, StorageError> =>
      this.#snapshots
        .query(continuation)
        .mapErr(asStorageError)
        .andThen((page) =>
          ResultAsync.fromSafePromise(keep()).andThen((kept) => {
            if (kept === undefined) return okAsync(removed);
            const doomed = page.blobs.filter((id) => !kept.has(id) && !this.#fresh.has(id));
            return ResultAsync.combine(
              doomed.map((id) => this.#snapshots.removeBlob(id).mapErr(asStorageError)),
            ).andThen(() =>
              page.continuation === undefined
                ? okAsync(removed + doomed.length)
                : sweep(page.continuation, removed + doomed.length),
            );
          }),
        );
    const done = () => {
      this.#sweeping = false;
      this.#fresh.clear();
    };
    return sweep(undefined, 0)
      .map((removed) => {
        done();
        return removed;
      })
      .mapErr((error) => {
        done();
        return error;
      });
  }

  /**
   * Write entries (oldest first, each encoded with `encodeEntry`) as history blobs chained onto
   * `prev`; returns the newest id.
   */
  putHistory(
    entries: readonly Uint8Array[],
    firstSeq: SequenceId,
    prev: string | undefined,
  ): ResultAsync<string | undefined, StorageError> {
    // Each blob names its predecessor by content id, so the whole chain is known before anything
    // is written; the blobs are then written at once (a busy event loop pays for one round of
    // file-system calls, not one per blob). Nothing names the new blobs until every one is durable.
    const blobs: { id: string; bytes: Uint8Array }[] = [];
    let before = prev;
    for (let i = 0; i < entries.length; i += HISTORY_BLOB_ENTRIES) {
      const bytes = encodeHistory(before, firstSeq + i, entries.slice(i, i + HISTORY_BLOB_ENTRIES));
      before = blobIdOf(bytes);
      blobs.push({ id: before, bytes });
    }
    return ResultAsync.combine(
      blobs.map(({ id, bytes }) => this.#history.writeBlob(id, bytes).mapErr(asStorageError)),
    ).map(() => before);
  }

  /** The bytes of a history blob, checked against its id; undefined when we do not have it. */
  getHistoryBytes(id: string): ResultAsync<Uint8Array | undefined, BlobError> {
    return readChecked(this.#history, id);
  }

  /** Keep a history blob fetched from another peer (after checking it: see history.ts). */
  putHistoryBytes(bytes: Uint8Array): ResultAsync<string, StorageError> {
    const id = blobIdOf(bytes);
    return this.#history
      .writeBlob(id, bytes)
      .mapErr(asStorageError)
      .map(() => id);
  }

  /** One history blob, checked against its id. */
  getHistory(id: string): ResultAsync<HistoryBlob, BlobError> {
    return readChecked(this.#history, id).andThen((bytes): ResultAsync<HistoryBlob, BlobError> => {
      if (bytes === undefined) return errAsync(corrupt(`history blob ${id} is missing`));
      const blob = decodeHistory(bytes);
      return blob.isOk() ? okAsync(blob.value) : errAsync(corrupt(`history blob ${id}: ${blob.error.message}`));
    });
  }
}

function readChecked(dir: BlobDir, id: string): ResultAsync<Uint8Array | undefined, BlobError> {
  if (!/^[0-9a-f]{64}$/.test(id)) return okAsync(undefined);
  return dir
    .readBlob(id)
    .map((bytes): Uint8Array | undefined => bytes)
    .orElse((e) =>
      e.type === 'not-found' ? okAsync(undefined) : errAsync<Uint8Array | undefined, BlobError>(asStorageError(e)),
    )
    .andThen((bytes) =>
      bytes === undefined || blobIdOf(bytes) === id
        ? okAsync(bytes)
        : errAsync(corrupt(`blob ${id} does not match its id`)),
    );
}

export function encodeHistory(
  prev: string | undefined,
  firstSeq: SequenceId,
  entries: readonly Uint8Array[],
): Uint8Array {
  const w = new Writer(64 + entries.reduce((sum, e) => sum + e.length + 3, 0));
  w.u8(HISTORY_MAGIC).u8(VERSION);
  if (prev === undefined) w.u8(0);
  else w.u8(1).raw(hexToBytes(prev));
  w.uvarint(firstSeq).uvarint(entries.length);
  for (const entry of entries) w.bytes(entry);
  return w.finish();
}

/** The id of the blob before this one in its chain, read from the header alone (undefined: the first). */
export function historyPrev(bytes: Uint8Array): Result<string | undefined, CorruptError> {
  const r = new Reader(bytes);
  if (r.u8() !== HISTORY_MAGIC || r.u8() !== VERSION) return err(corrupt('not a history blob'));
  const prev = r.u8() === 1 ? toHex(r.raw(HASH_BYTES)) : undefined;
  return r.failed ? err(corrupt('malformed history blob')) : ok(prev);
}

export function decodeHistory(bytes: Uint8Array): Result<HistoryBlob, CorruptError> {
  const r = new Reader(bytes);
  if (r.u8() !== HISTORY_MAGIC || r.u8() !== VERSION) return err(corrupt('not a history blob'));
  const prev = r.u8() === 1 ? toHex(r.raw(HASH_BYTES)) : undefined;
  const firstSeq = r.uvarint();
  const n = r.uvarint();
  if (n > r.remaining) return err(corrupt('bad history blob'));
  const entries: FactEntry[] = [];
  for (let i = 0; i < n && !r.failed; i++) {
    const entry = decodeEntry(r.bytes(r.remaining));
    if (entry.isErr()) return err(corrupt(`history entry ${i}: ${entry.error.message}`));
    entries.push(entry.value);
  }
  return r.done ? ok({ prev, firstSeq, entries }) : err(corrupt('malformed history blob'));
}
