/**
 * Workers: where the CPU-heavy part of a snapshot runs (folding log entries into registers and
 * serializing them). The space does the I/O and feeds a job; the job never blocks the event loop
 * for long: in-process it yields every YIELD_EVERY operations, and `threadWorkers()` runs it on a
 * `worker_threads` thread in Node.
 *
 * Jobs speak bytes (encoded entries and chunks), so a job can cross a thread boundary unchanged.
 */
import type { Env } from '../env.js';
import { decodeEntry } from '../log/entry-codec.js';
import type { FactEntry } from '../log/fact-entry.js';
import { LwwState } from '../state/lww.js';
import { ChunkWriter, decodeChunk, sortedItems } from './format.js';

/** Operations (entries applied, items merged or written) between two yields. */
export const YIELD_EVERY = 2000;

export interface BuiltSnapshot {
  readonly chunks: { id: string; bytes: Uint8Array }[];
  readonly items: number;
}

/** One snapshot being built: base chunks and entries in, chunks out. */
export interface SnapshotJob {
  /** Merge a chunk of an earlier snapshot. */
  addChunk(bytes: Uint8Array): Promise<void>;
  /** Apply log entries (each encoded with `encodeEntry`). */
  addEntries(entries: readonly Uint8Array[]): Promise<void>;
  /**
   * Apply log entries as they are, where the job runs on the caller's thread (nothing to cross):
   * no encoding and decoding of each. Absent on jobs that run elsewhere.
   */
  readonly addFacts?: (entries: readonly FactEntry[]) => Promise<void>;
  /** Serialize the result into chunks. The job is done after this. */
  finish(): Promise<BuiltSnapshot>;
}

export interface Workers {
  snapshotJob(): SnapshotJob;
  close(): Promise<void>;
}

/** A job's logic, wherever it runs. `pause` is awaited every YIELD_EVERY operations. */
export class SnapshotJobCore implements SnapshotJob {
  readonly #state = new LwwState();
  readonly #pause: () => Promise<void>;
  #ops = 0;

  constructor(pause: () => Promise<void>) {
    this.#pause = pause;
  }

  async addChunk(bytes: Uint8Array): Promise<void> {
    const items: Parameters<Parameters<typeof decodeChunk>[1]>[] = [];
    const decoded = decodeChunk(bytes, (c, i, r) => items.push([c, i, r]));
    if (decoded.isErr()) throw new Error(`snapshot chunk: ${decoded.error.message}`);
    for (const [collection, item, record] of items) {
      this.#state.mergeRecord(collection, item, record);
      await this.#tick();
    }
  }

  async addEntries(entries: readonly Uint8Array[]): Promise<void> {
    for (const bytes of entries) {
      const entry = decodeEntry(bytes);
      if (entry.isErr()) throw new Error(`snapshot entry: ${entry.error.message}`);
      this.#state.apply(entry.value);
      await this.#tick();
    }
  }

  readonly addFacts = async (entries: readonly FactEntry[]): Promise<void> => {
    for (const entry of entries) {
      this.#state.apply(entry);
      await this.#tick();
    }
  };

  async finish(): Promise<BuiltSnapshot> {
    const writer = new ChunkWriter();
    for (const [collection, item, record] of sortedItems(this.#state)) {
      writer.add(collection, item, record);
      await this.#tick();
    }
    return { chunks: writer.finish(), items: writer.items };
  }

  async #tick(): Promise<void> {
    if (++this.#ops % YIELD_EVERY === 0) await this.#pause();
  }
}

/** Jobs run on the calling thread, yielding to the event loop through `env` timers. */
export function inProcessWorkers(env: Env): Workers {
  const pause = () => new Promise<void>((resolve) => env.setTimer(0, resolve));
  return {
    snapshotJob: () => new SnapshotJobCore(pause),
    close: () => Promise.resolve(),
  };
}
