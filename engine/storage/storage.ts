/**
 * Storage: everything a peer keeps on its device. One EventLog per space, a BlobStore for snapshots
 * and history, and a small durable key-value area for peer metadata (identity key, acknowledged
 * vectors). Backends: `memoryStorage()`, `sqliteStorage(path)`, `idbStorage(name)`.
 *
 * Contract: a write resolves only once it is durable; a crash at any point loses nothing that was
 * resolved. Errors come back as `StorageError` values, never as throws.
 */
import type { ResultAsync } from 'neverthrow';
import type { BlobStore } from '../blobs/blob-store.js';
import type { StorageError } from '../errors.js';
import type { EventLog } from '../log/event-log.js';
import type { FactEntry } from '../log/fact-entry.js';

export interface Storage {
  /** Backend name, for messages ("memory", "sqlite:/path/peer.db"…). */
  readonly name: string;
  /** The event log of `spaceId`, created empty on first use; the same object on every call. */
  openLog(spaceId: string): ResultAsync<EventLog<FactEntry>, StorageError>;
  /** The blob store (snapshots and history blobs). */
  readonly blobs: BlobStore;
  /** A metadata value, or undefined when the key was never set. */
  getMeta(key: string): ResultAsync<Uint8Array | undefined, StorageError>;
  /** Set a metadata value; resolves once durable. */
  setMeta(key: string, value: Uint8Array): ResultAsync<void, StorageError>;
  /** Remove a metadata value (no-op when absent). */
  deleteMeta(key: string): ResultAsync<void, StorageError>;
  /** Release files and handles. Later calls fail with a storage error. */
  close(): ResultAsync<void, StorageError>;
}
