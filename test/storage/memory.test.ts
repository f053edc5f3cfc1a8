/** The in-memory reference backend passes the same conformance suites as every durable one. */
import { memoryBlobStore } from '../../engine/blobs/memory-blobs.js';
import { MemoryEventLog } from '../../engine/log/memory-log.js';
import { memoryStorage } from '../../engine/storage/memory.js';
import type { FactEntry } from '../../engine/log/fact-entry.js';
import { runBlobStoreTests, runEventLogTests, runStorageTests } from '../../testing/index.js';

runEventLogTests('memory', (init) => Promise.resolve(new MemoryEventLog<FactEntry>(init)));
runBlobStoreTests('memory', () => Promise.resolve(memoryBlobStore()));
runStorageTests('memory', { make: () => Promise.resolve(memoryStorage()) });
