/**
 * The page the IndexedDB tests run in, in real Chromium: Shoal's conformance suites
 * (`runEventLogTests`, `runBlobStoreTests`, `runStorageTests`, the same ones every backend passes
 * in Node) against `idbStorage` from `shoal/storage/idb` on the browser's own IndexedDB, plus the
 * cost of checking a signature here. `vitest` is mapped to ./vitest-shim.ts in this bundle.
 */
import { idbStorage, type IdbStorageInit } from 'shoal/storage/idb';
import type { Storage } from 'shoal';
import { runBlobStoreTests } from '../../../testing/blob-store-suite.js';
import { runEventLogTests } from '../../../testing/event-log-suite.js';
import { runStorageTests } from '../../../testing/storage-suite.js';
import { afterEach, expect, run, type Outcome } from './vitest-shim.js';
import { measureVerifyCost, type VerifyCost } from './verify-cost.js';

let serial = 0;
const open: Storage[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) void (await s.close());
});

const prefix = `shoal-conformance-${Date.now()}`;
function fresh(init: IdbStorageInit = {}, name = `${prefix}-${++serial}`): Storage {
  const storage = idbStorage(name, init);
  open.push(storage);
  return storage;
}

runEventLogTests('indexeddb (Chromium)', async (init) => {
  const log = await fresh(init).openLog('space');
  if (log.isErr()) throw new Error(log.error.message);
  return log.value;
});
runBlobStoreTests('indexeddb (Chromium)', () => Promise.resolve(fresh().blobs));
runStorageTests('indexeddb (Chromium)', {
  make: () => Promise.resolve(fresh()),
  reopen: (closed) => Promise.resolve(fresh({}, closed.name.slice('indexeddb:'.length))),
});

const log = document.getElementById('log')!;
const print = (o: Outcome): void => void log.append(`${o.ok ? 'ok  ' : 'FAIL'} ${o.name}\n`);

/** Whether a failing assertion fails here: the shim's `expect` is the real one, not a stub. */
function expectCanFail(): boolean {
  try {
    expect({ a: 1 }).toMatchObject({ a: 2 });
    return false;
  } catch {
    return true;
  }
}

Object.assign(window, {
  conformance: {
    run: (): Promise<Outcome[]> => run(print),
    expectCanFail,
    verifyCost: (n: number): Promise<VerifyCost> => measureVerifyCost(n),
  },
});
document.body.dataset.ready = 'true';
