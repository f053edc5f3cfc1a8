/** The in-memory reference backend passes the same conformance suites as every durable one. */
import { describe, expect, it } from 'vitest';
import { memoryBlobStore } from '../../engine/blobs/memory-blobs.js';
import { MemoryEventLog } from '../../engine/log/memory-log.js';
import { memoryStorage } from '../../engine/storage/memory.js';
import type { PeerId } from '../../engine/facts/types.js';
import type { FactEntry } from '../../engine/log/fact-entry.js';
import { runBlobStoreTests, runEventLogTests, runStorageTests } from '../../testing/index.js';

runEventLogTests('memory', (init) => Promise.resolve(new MemoryEventLog<FactEntry>(init)));
runBlobStoreTests('memory', () => Promise.resolve(memoryBlobStore()));
runStorageTests('memory', { make: () => Promise.resolve(memoryStorage()) });

describe('memory log: entries shared on purpose', () => {
  const entry = (item: string): FactEntry => ({
    origin: '12D3KooWAAA' as PeerId,
    counter: 1,
    hlc: { wall: 1, logical: 0 },
    type: 'create',
    collection: 'c',
    item,
    data: {},
    prev: null,
    hash: new Uint8Array(32),
  });

  it("keeps entries as they are, no copy (immutable by EventLog's contract): the replicas of a simulation hold a shared fact once", async () => {
    const log = new MemoryEventLog<FactEntry>();
    const frozen = Object.freeze(entry('shared'));
    const own = entry('own');
    (await log.addEntries([frozen, own], 0))._unsafeUnwrap();
    const [first, second] = (await log.query(0, 'end'))._unsafeUnwrap().entries;
    expect(first).toBe(frozen);
    expect(second).toBe(own);
  });
});
