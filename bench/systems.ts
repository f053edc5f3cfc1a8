/**
 * What a system (Shoal, Yjs, Automerge, …) provides for each workload of the merge suite. The suite
 * owns timing, checks and rows; a system only says how to make its inputs and how to do the work, so
 * every system is measured by the same code.
 */
import type { Floor } from './floor.js';

/** Writers that each set the key `v` of one map, concurrently (no writer sees another). */
export interface MergeSpec {
  readonly writers: number;
  /** Sets of `v` per writer; writer `w`'s `k`-th set writes `w * setsPerWriter + k`. */
  readonly setsPerWriter: number;
  /** Seed for writer ids, so runs measure the same input. */
  readonly seed: number;
}

/** The untimed part of a merge workload: what travels to the replica, and what it must end with. */
export interface MergeInput {
  /** Payloads in arrival order, each one message's worth, as the system's sync would send them. */
  readonly updates: readonly Uint8Array[];
  /** The value of `v` every replica must converge to (the system's own conflict rule). */
  readonly expected: unknown;
  /** Total bytes had every set travelled as its own message (informational, for long runs). */
  readonly liveBytes?: number;
  /** How the updates were made and encoded, for the row's note. */
  readonly note: string;
}

/** A system under the merge workloads. `R` is its replica (a document, a peer). */
export interface MergeSystem<R> {
  /** Untimed: build every writer, make its sets, encode what it would send. */
  generate(spec: MergeSpec): MergeInput | Promise<MergeInput>;
  /** Timed: a fresh replica decodes and applies the updates one by one, in order. */
  ingest(updates: readonly Uint8Array[]): R | Promise<R>;
  /** Untimed: the replica's current value of `v`. */
  value(replica: R): unknown;
  /** Untimed: size of the replica's state as the system persists it. */
  atRestBytes(replica: R): number | Promise<number>;
  /** Untimed: release the replica (WASM memory, open handles). */
  dispose?(replica: R): void;
  /** What checking the updates must cost at least (Shoal: key import, hashes, signatures). */
  floor?(updates: readonly Uint8Array[]): Floor;
}

/** Local writes: `writes` field sets on one document, `fieldKey(i, keys)` = `i`. */
export interface LocalWritesSpec {
  readonly writes: number;
  readonly keys: number;
  /**
   * Writes per transaction (Shoal `space.transact`, Yjs `doc.transact`, one Automerge `change`),
   * the last one shorter when `batch` does not divide `writes`.
   * @default 1 (every write its own transaction, as one user action would be)
   */
  readonly batch?: number;
}

/** The writes of `spec` as [first, end) ranges, one per transaction. */
export function* transactions(spec: LocalWritesSpec): Generator<[number, number]> {
  const batch = spec.batch ?? 1;
  for (let i = 0; i < spec.writes; i += batch) yield [i, Math.min(spec.writes, i + batch)];
}

/** A system under the local-writes workload. `D` is its document. */
export interface LocalWritesSystem<D> {
  /** Untimed: an empty document. */
  create(): D | Promise<D>;
  /** Timed: the writes, each its own transaction/change as one user action would be (or `spec.batch` per transaction). */
  write(doc: D, spec: LocalWritesSpec): D | Promise<D>;
  /** Untimed: the document's value of `key`. */
  read(doc: D, key: string): unknown;
  dispose?(doc: D): void;
  /** What one write is in this system, for the row's note. */
  readonly note: string;
}

/** One writer streams `ops` field sets to one reader in batches of `batch`. */
export interface StreamSpec {
  readonly ops: number;
  readonly batch: number;
  readonly keys: number;
  readonly seed: number;
}

/** Byte counts of a stream (totals; the suite divides by ops). */
export interface StreamBytes {
  /** Everything the sync protocol sent, both directions, after the connection was set up. */
  readonly wireBytes: number;
  /** The update payloads inside those messages (the encoded changes only). */
  readonly payloadBytes: number;
  /** Had every op been encoded as its own update (crdt-benchmarks style). */
  readonly perOpUpdateBytes: number;
  /** What was counted, for the row's note. */
  readonly note: string;
}

/** A system under the steady-stream workload. Not timed; it must throw if the reader diverges. */
export interface StreamSystem {
  stream(spec: StreamSpec): StreamBytes | Promise<StreamBytes>;
}

/** The field a write or stream op `i` sets. */
export function fieldKey(i: number, keys: number): string {
  return `k${i % keys}`;
}
