/**
 * `shoal/testing`: the conformance suites every backend of Shoal's interfaces passes, for authors
 * of third-party backends (the way automerge-repo ships `runStorageAdapterTests`). Each suite
 * registers vitest tests (`describe`/`it`) when called from a test file:
 *
 * - `runEventLogTests(name, makeLog)`: an `EventLog` (seed 000/001 semantics);
 * - `runBlobStoreTests(name, makeStore)`: a `BlobStore` (seed 002);
 * - `runStorageTests(name, fixture)`: a `Storage` beyond its log and blobs (spaces, metadata, reopen);
 * - `runTransportTests(name, makePair, options)`: a `Transport`.
 *
 * `faultyStorage(inner, init)` wraps any Storage to fail on purpose (a full disk, a crash at the
 * k-th write), for testing what a peer does when its storage breaks. `manualTransport()` lets a test
 * play a remote peer frame by frame. `runCampaign(options)` runs Shoal's own fault campaign: many
 * peers on a SimNetwork under drops, partitions and crashes, checked Jepsen-style at the end.
 *
 * @example
 * ```ts
 * import { memoryStorage } from 'shoal';
 * import { runStorageTests } from 'shoal/testing';
 *
 * runStorageTests('memory', { make: async () => memoryStorage() });
 * ```
 */
export { listAll, runBlobStoreTests, type MakeStore } from './blob-store-suite.js';
export { readAll, runEventLogTests, type MakeLog, type MakeLogInit } from './event-log-suite.js';
export { runStorageTests, type StorageFixture } from './storage-suite.js';
export {
  identity,
  pattern,
  realSettle,
  Recorder,
  runTransportTests,
  startTransport,
  type MakePair,
  type TransportEnd,
  type TransportPair,
  type TransportSuiteOptions,
} from './transport-suite.js';
export { faultyStorage, type FaultyStorage, type FaultyStorageInit } from '../engine/storage/faulty.js';
export { manualTransport, type ManualTransport } from './manual-transport.js';
export { runCampaign, type CampaignOptions, type CampaignResult } from './campaign.js';
