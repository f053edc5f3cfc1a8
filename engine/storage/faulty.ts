/**
 * `faultyStorage(inner, init)`: a Storage that fails on purpose, for crash and full-disk tests.
 *
 * It counts every call that would change the device (appends, metadata, truncation, peer
 * metadata, blob writes and removals, directory creation, opening a space's log) and lets the
 * first `failAfterWrites` of them through. From the next one on:
 *
 * - `mode: 'error'` — every write fails with a storage error and changes nothing, reads still work:
 *   a full disk or an exceeded quota.
 * - `mode: 'crash'` — the process "dies" at that write: it fails, and so does every later call,
 *   reads included. With `landed: true` the crashing write reaches the inner storage first, the
 *   worst case of a real crash: durable, yet never acknowledged to the caller. A test then reopens
 *   the inner storage (a new peer on it) and checks that everything acknowledged is there.
 *
 * Run a workload once without faults to learn its number of writes (`writes`), then once per k.
 */
import { errAsync, okAsync, type ResultAsync } from 'neverthrow';
import type { BlobDir, BlobStore } from '../blobs/blob-store.js';
import { storageError, type StorageError } from '../errors.js';
import type { EventLog, LogMetadata, SequenceId } from '../log/event-log.js';
import type { FactEntry } from '../log/fact-entry.js';
import type { Storage } from './storage.js';

/** Where and how `faultyStorage` fails. */
export interface FaultyStorageInit {
  /** Writes that succeed before faults begin. @default Infinity (never) */
  failAfterWrites?: number;
  /** What a fault is: a failed write (`'error'`) or the death of the process (`'crash'`). @default 'crash' */
  mode?: 'error' | 'crash';
  /** In crash mode, whether the crashing write reaches the inner storage before the crash. @default false */
  landed?: boolean;
  /**
   * Called once, at the crash, before the crashing call returns: where a test kills the process it
   * simulates (e.g. `net.crash(peerId)`), so nothing runs on after the death.
   */
  onCrash?: () => void;
}

/** A Storage with injected faults, plus what a test needs to drive and explain them. */
export interface FaultyStorage extends Storage {
  /** Write calls so far, the failed ones included. */
  readonly writes: number;
  /** One line per write call, in order ("addEntries space-a @3 ×5"), for failure messages. */
  readonly trace: readonly string[];
  /** True once a crash happened (by count or by `crash()`). */
  readonly crashed: boolean;
  /** Crash now: every later call fails. */
  crash(): void;
  /** Let writes through again from now on (a disk with room again); a crash stays a crash. */
  heal(): void;
}

class Faults {
  writes = 0;
  crashed = false;
  readonly trace: string[] = [];
  #limit: number;
  readonly #mode: 'error' | 'crash';
  readonly #landed: boolean;
  readonly #name: string;
  readonly #onCrash: (() => void) | undefined;

  constructor(name: string, init: FaultyStorageInit) {
    this.#name = name;
    this.#onCrash = init.onCrash;
    this.#limit = init.failAfterWrites ?? Infinity;
    this.#mode = init.mode ?? 'crash';
    this.#landed = init.landed ?? false;
  }

  heal(): void {
    this.#limit = Infinity;
  }

  crash(): void {
    if (this.crashed) return;
    this.crashed = true;
    this.#onCrash?.();
  }

  dead(): StorageError {
    return storageError(`${this.#name}: crashed (injected fault)`);
  }

  /** A read: fails only after a crash. */
  read<T, E>(call: () => ResultAsync<T, E>): ResultAsync<T, E | StorageError> {
    return this.crashed ? errAsync(this.dead()) : call();
  }

  /** A write: counted, and failed when its number comes up. */
  write<T, E>(what: string, call: () => ResultAsync<T, E>): ResultAsync<T, E | StorageError> {
    if (this.crashed) return errAsync(this.dead());
    const n = ++this.writes;
    this.trace.push(what);
    if (n <= this.#limit) return call();
    if (this.#mode === 'error') {
      return errAsync(
        storageError(`${this.#name}: write ${n} (${what}) failed (injected fault)`, undefined, 'disk-full'),
      );
    }
    const dead = this.dead();
    // The process dies at this write, at once: nothing of it runs on while the write is in flight.
    this.crash();
    if (!this.#landed) return errAsync(dead);
    // The write still lands (as the OS flushes what a dead process handed it), unacknowledged.
    return call()
      .andThen(() => errAsync(dead))
      .orElse(() => errAsync(dead));
  }
}

function wrapLog(log: EventLog<FactEntry>, space: string, f: Faults): EventLog<FactEntry> {
  return {
    addEntry: (entry: FactEntry, seq: SequenceId, snapshotId?: SequenceId) =>
      f.write(`addEntry ${space} @${seq}`, () => log.addEntry(entry, seq, snapshotId)),
    addEntries: (entries: readonly FactEntry[], seq: SequenceId, snapshotId?: SequenceId) =>
      f.write(`addEntries ${space} @${seq} ×${entries.length}`, () => log.addEntries(entries, seq, snapshotId)),
    setMetadata: (seq: SequenceId, metadata: LogMetadata) =>
      f.write(`setMetadata ${space} @${seq} ${JSON.stringify(metadata)}`, () => log.setMetadata(seq, metadata)),
    query: (start, end, snapshotId) => f.read(() => log.query(start, end, snapshotId)),
    truncate: (start: SequenceId) => f.write(`truncate ${space} @${start}`, () => log.truncate(start)),
  };
}

function wrapDir(dir: BlobDir, path: string, f: Faults): BlobDir {
  return {
    readBlob: (name) => f.read(() => dir.readBlob(name)),
    writeBlob: (name, content) =>
      f.write(`writeBlob ${path}/${name} (${content.length} B)`, () => dir.writeBlob(name, content)),
    removeBlob: (name) => f.write(`removeBlob ${path}/${name}`, () => dir.removeBlob(name)),
    getDir: (name) =>
      f.write(`getDir ${path}/${name}`, () => dir.getDir(name)).map((d) => wrapDir(d, `${path}/${name}`, f)),
    query: (continuation) => f.read(() => dir.query(continuation)),
    removeAll: () => f.write(`removeAll ${path}/`, () => dir.removeAll()),
  };
}

/**
 * `inner` with injected faults (see the module comment).
 *
 * @example
 * ```ts
 * const disk = memoryStorage();
 * const storage = faultyStorage(disk, { failAfterWrites: 7, mode: 'crash' });
 * // …run a workload on a peer over `storage`; the 8th write crashes it…
 * // then restart on `disk` and check that every acknowledged fact is there.
 * ```
 */
export function faultyStorage(inner: Storage, init: FaultyStorageInit = {}): FaultyStorage {
  const f = new Faults(`faulty(${inner.name})`, init);
  const logs = new Map<string, EventLog<FactEntry>>();
  const blobs: BlobStore = {
    getRootDir: () => f.read(() => inner.blobs.getRootDir()).map((root) => wrapDir(root, '', f)),
  };
  const storage: FaultyStorage = {
    name: `faulty(${inner.name})`,
    blobs,
    get writes() {
      return f.writes;
    },
    get trace() {
      return f.trace;
    },
    get crashed() {
      return f.crashed;
    },
    crash: () => f.crash(),
    heal: () => f.heal(),
    openLog(spaceId) {
      const cached = logs.get(spaceId);
      if (cached !== undefined) return f.read(() => okAsync(cached));
      // Opening a space's log for the first time may create it: a write point.
      return f
        .write(`openLog ${spaceId}`, () => inner.openLog(spaceId))
        .map((log) => {
          const wrapped = logs.get(spaceId) ?? wrapLog(log, spaceId, f);
          logs.set(spaceId, wrapped);
          return wrapped;
        });
    },
    getMeta: (key) => f.read(() => inner.getMeta(key)),
    setMeta: (key, value) => f.write(`setMeta ${key} (${value.length} B)`, () => inner.setMeta(key, value)),
    deleteMeta: (key) => f.write(`deleteMeta ${key}`, () => inner.deleteMeta(key)),
    // A dead process's files are closed by the OS: closing always reaches the inner storage.
    close: () => inner.close(),
  };
  return storage;
}
