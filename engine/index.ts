/**
 * Shoal: a peer-to-peer, local-first sync engine.
 *
 * Every peer keeps its own event log of signed, hash-chained facts, writes locally without waiting
 * for anyone, and converges with the others over whatever link is there.
 *
 * @example
 * ```ts
 * import { createPeer, memoryStorage } from 'shoal';
 *
 * const peer = (await createPeer({ storage: memoryStorage() }))._unsafeUnwrap();
 * const space = (await peer.space('groceries'))._unsafeUnwrap();
 * const items = space.collection<{ title: string; done: boolean }>('items');
 * const id = (await items.create({ title: 'milk', done: false }))._unsafeUnwrap();
 * await items.update(id, 'done', true);
 * items.get(id); // { title: 'milk', done: true, id }
 * ```
 */
export { createPeer } from './peer/peer.js';
export type {
  ChangeSource,
  Collection,
  Fault,
  ItemChange,
  ItemView,
  Peer,
  PeerInit,
  Space,
  SpaceEvent,
  SpaceListener,
  SpaceStatus,
  WhenSyncedOptions,
} from './peer/types.js';

export { memoryStorage, type MemoryStorageInit } from './storage/memory.js';
// Other backends have entries of their own, so that what one app does not use (better-sqlite3,
// IndexedDB, node:fs) is not reachable from here: `shoal/storage/sqlite`, `shoal/storage/idb`,
// `shoal/storage/fs`, `shoal/storage/automerge`; `faultyStorage` is in `shoal/testing`.
export type { Storage } from './storage/storage.js';
export type { FactEntry } from './log/fact-entry.js';
export type {
  EventLog,
  LogEntry,
  LogMetadata,
  QueryValue,
  SequenceId,
  BlobId,
  SnapshotValue,
} from './log/event-log.js';
export { MemoryEventLog } from './log/memory-log.js';
export type { BlobDir, BlobStore, BlobName } from './blobs/blob-store.js';
export { memoryBlobStore } from './blobs/memory-blobs.js';

export { realEnv, type Env, type Timer } from './env.js';
export { inProcessWorkers, type Workers, type SnapshotJob, type BuiltSnapshot } from './snapshot/workers.js';
export { threadWorkers } from './snapshot/thread-workers.js';
export type { Announcer, Transport, TransportContext, TransportHandler } from './transport.js';
export type { IdentityKey } from './facts/types.js';
export type { Fact, FactType, Hlc, JsonObject, JsonValue, PeerId, Vector } from './facts/types.js';
export * from './errors.js';
export * as limits from './limits.js';
