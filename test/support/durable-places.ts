/**
 * Durable places a storage can be opened on again and again (a restart, a crash and reopen), one
 * per backend: the same memory storage, an SQLite file, an IndexedDB database (fake-indexeddb).
 */
import 'fake-indexeddb/auto';
import { join } from 'node:path';
import { idbStorage } from '../../engine/storage/idb/index.js';
import { memoryStorage } from '../../engine/storage/memory.js';
import { sqliteStorage } from '../../engine/storage/sqlite/index.js';
import type { Storage } from '../../engine/storage/storage.js';

/** A durable place and a way to open a storage on it (again). */
export interface Place {
  open(): Storage;
}

export interface DurableBackend {
  readonly name: 'memory' | 'sqlite' | 'indexeddb';
  /** A fresh place on this backend. */
  readonly place: () => Place;
}

let idbSerial = 0;

/** Every backend; SQLite files go under `tempDir()`, IndexedDB names start with `idbPrefix`. */
export function durableBackends(tempDir: () => string, idbPrefix: string): DurableBackend[] {
  return [
    {
      name: 'memory',
      place: () => {
        const disk = memoryStorage();
        return { open: () => disk };
      },
    },
    {
      name: 'sqlite',
      place: () => {
        const file = join(tempDir(), 'peer.db');
        return { open: () => sqliteStorage(file) };
      },
    },
    {
      name: 'indexeddb',
      place: () => {
        const name = `${idbPrefix}-${++idbSerial}`;
        return { open: () => idbStorage(name) };
      },
    },
  ];
}
