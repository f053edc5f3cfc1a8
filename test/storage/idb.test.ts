/** idbStorage under fake-indexeddb: the conformance suites, then quota and connection failures. */
import 'fake-indexeddb/auto';
import { forceCloseDatabase } from 'fake-indexeddb';
import { openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { idbStorage, type IdbStorageInit } from '../../engine/storage/idb/index.js';
import type { Storage } from '../../engine/storage/storage.js';
import { FactChain, normalize, testOrigin } from '../../testing/facts.js';
import { failure, storageReason } from '../../testing/results.js';
import { readAll, runBlobStoreTests, runEventLogTests, runStorageTests } from '../../testing/index.js';

let serial = 0;
const open: Storage[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) void (await s.close());
});

function fresh(init: IdbStorageInit = {}, name = `shoal-test-${++serial}`): Storage {
  const storage = idbStorage(name, init);
  open.push(storage);
  return storage;
}

runEventLogTests('indexeddb', async (init) => (await fresh(init).openLog('space'))._unsafeUnwrap());
runBlobStoreTests('indexeddb', () => Promise.resolve(fresh().blobs));
runStorageTests('indexeddb', {
  make: () => Promise.resolve(fresh()),
  reopen: (closed) => Promise.resolve(fresh({}, closed.name.slice('indexeddb:'.length))),
});

type Put = (this: IDBObjectStore, ...args: unknown[]) => IDBRequest;

/**
 * From now on, the next `failures` puts make their transaction fail the way a browser over quota
 * does: the transaction aborts with a QuotaExceededError and its requests get AbortErrors.
 */
function quotaExceeded(failures = Infinity): () => void {
  const proto = IDBObjectStore.prototype as unknown as { put: Put };
  const original = proto.put;
  let left = failures;
  proto.put = function (this: IDBObjectStore, ...args: unknown[]) {
    const request = original.apply(this, args);
    if (left-- > 0) (this.transaction as unknown as { _abort(name: string): void })._abort('QuotaExceededError');
    return request;
  };
  return () => {
    proto.put = original;
  };
}

describe('idbStorage', () => {
  it('reports an exceeded quota as a storage error and keeps what was acknowledged', async () => {
    const storage = fresh();
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const chain = new FactChain('s', testOrigin(1));
    const acked = chain.run(5);
    (await log.addEntries(acked, 0))._unsafeUnwrap();
    const restore = quotaExceeded();
    try {
      const refused = await log.addEntries(chain.run(5), 5);
      expect(failure(refused)).toMatch(/quota is exceeded \(QuotaExceededError/);
      expect(storageReason(refused)).toBe('quota-exceeded');
      expect(failure(await storage.setMeta('k', Uint8Array.from([1])))).toMatch(/quota/);
      const root = (await storage.blobs.getRootDir())._unsafeUnwrap();
      expect(failure(await root.writeBlob('b', Uint8Array.from([1])))).toMatch(/quota/);
    } finally {
      restore();
    }
    // Nothing of the failed batch is there; the head is where it was.
    expect((await readAll(log)).entries.map(normalize)).toEqual(acked.map(normalize));
    expect(await storage.getMeta('k')).toMatchObject({ value: undefined });
    const next = chain.run(1);
    expect(failure(await log.addEntries(next, 10), 'conflict')).toMatch(/head 5/);
  });

  it('aborts the whole batch when the quota runs out part way', async () => {
    const storage = fresh();
    const log = (await storage.openLog('s'))._unsafeUnwrap();
    const entries = new FactChain('s', testOrigin(1)).run(50);
    // The 30th put of the batch fails: the 29 before it must not remain.
    const proto = IDBObjectStore.prototype as unknown as { put: Put };
    const original = proto.put;
    let n = 0;
    proto.put = function (this: IDBObjectStore, ...args: unknown[]) {
      const request = original.apply(this, args);
      if (++n === 30) (this.transaction as unknown as { _abort(name: string): void })._abort('QuotaExceededError');
      return request;
    };
    try {
      expect(failure(await log.addEntries(entries, 0))).toMatch(/quota/);
    } finally {
      proto.put = original;
    }
    expect((await readAll(log)).entries).toEqual([]);
    (await log.addEntries(entries, 0))._unsafeUnwrap();
    expect((await readAll(log)).entries).toHaveLength(50);
  });

  it('reopens by itself after the browser closed the connection', async () => {
    const name = `shoal-test-${++serial}`;
    const storage = fresh({}, name);
    (await storage.setMeta('k', Uint8Array.from([7])))._unsafeUnwrap();
    // Find the storage's connection the way the browser would kill it: every connection to `name`.
    const spy = await openDB(name, 1);
    spy.close();
    const connections = (
      globalThis.indexedDB as unknown as { _databases: Map<string, { connections: IDBDatabase[] }> }
    )._databases.get(name)!.connections;
    for (const c of [...connections]) forceCloseDatabase(c as never);
    // The call after a forced close either fails as a storage error or reopens; the next one works.
    const first = await storage.getMeta('k');
    if (first.isErr()) expect(first.error.type).toBe('storage');
    expect(Array.from((await storage.getMeta('k'))._unsafeUnwrap()!)).toEqual([7]);
  });

  it('refuses a database written by a newer layout', async () => {
    const name = `shoal-test-${++serial}`;
    const newer = await openDB(name, 99);
    newer.close();
    expect(failure(await fresh({}, name).getMeta('k'))).toMatch(/newer/);
  });
});
