/**
 * Shoal under the merge-suite workloads, next to the Yjs and Automerge baselines.
 *
 * The map is one item (`m/doc`); writer `w` sets its field `v`. Every writer is a real peer with
 * its own Ed25519 identity; what travels is what its sync would send: a `facts` frame with its run
 * (hash-chained facts, the last one signed). The replica takes each frame through the same path as
 * frames off a transport: decode, then the space's session (verify every hash and the signature,
 * group-commit to the log, apply) — one frame after the other, until all are durable.
 *
 * Each timed run starts with the process-wide signature cache emptied, so the replica pays for
 * every verification, as a real peer in its own process would.
 */
import type { ResultAsync } from 'neverthrow';
import { createPeer, memoryStorage, type Peer, type Space, type Transport, type WriteError } from '../engine/index.js';
import { encodeEntry } from '../engine/log/entry-codec.js';
import { canonicalBytes } from '../engine/facts/codec.js';
import { DigestSlab } from '../engine/facts/hash.js';
import { runsOf } from '../engine/facts/run.js';
import type { PeerId } from '../engine/facts/types.js';
import type { FactEntry } from '../engine/log/fact-entry.js';
import type { Storage } from '../engine/storage/storage.js';
import { encodeMessage } from '../engine/sync/codec.js';
import { SimNetwork } from '../transports/memory/index.js';
import { manualTransport } from '../testing/manual-transport.js';
import { signatureFloor } from './floor.js';

/** Frames delivered to the ingesting peer between two chances for it to process them. */
const INGEST_SLICE = 128;
import {
  fieldKey,
  type LocalWritesSpec,
  type LocalWritesSystem,
  type MergeInput,
  type MergeSpec,
  type MergeSystem,
  type StreamBytes,
  type StreamSpec,
  type StreamSystem,
  transactions,
} from './systems.js';

const SPACE = 'bench';
const COLLECTION = 'm';
const ITEM = 'doc';
/** The neighbour the replica receives every frame from. */
const NEIGHBOUR = '12D3KooWBenchNeighbourBenchNeighbourBenchNeighbour' as PeerId;

/** Every entry of a space's log, oldest first. */
async function entriesOf(storage: Storage): Promise<FactEntry[]> {
  const log = (await storage.openLog(SPACE))._unsafeUnwrap();
  const out: FactEntry[] = [];
  for (let at: number | 'start' = 'start'; ;) {
    const page: { entries: FactEntry[]; isComplete: boolean; endSequenceId: number } = (
      await log.query(at, 'end')
    )._unsafeUnwrap();
    out.push(...page.entries);
    if (page.isComplete) return out;
    at = page.endSequenceId;
  }
}

/** A facts frame carrying a log's facts as the runs they were signed in. */
function framesOf(entries: readonly FactEntry[]): Uint8Array {
  return encodeMessage({ type: 'facts', space: SPACE, runs: runsOf(entries) });
}

interface Replica {
  readonly peer: Peer;
  readonly space: Space;
  readonly storage: Storage;
}

export const shoalMerge: MergeSystem<Replica> = {
  async generate(spec: MergeSpec): Promise<MergeInput> {
    // One virtual clock for writers and replica: no clock-drift refusals, and the same input for the
    // same seed. Writers' stamps tie on time; the logical counter and then the origin decide.
    const net = new SimNetwork({ seed: spec.seed });
    const updates: Uint8Array[] = [];
    let best: { origin: string; logical: number; value: number } | undefined;
    for (let w = 0; w < spec.writers; w++) {
      const storage = memoryStorage();
      const peer = (await createPeer({ storage, env: net.env }))._unsafeUnwrap();
      const items = (await peer.space(SPACE))._unsafeUnwrap().collection<{ v: number }>(COLLECTION);
      // All sets in one tick, as one burst: one group commit, one signed run.
      const writes = [];
      for (let k = 0; k < spec.setsPerWriter; k++) {
        const value = w * spec.setsPerWriter + k;
        writes.push(k === 0 ? items.create({ v: value }, ITEM).map(() => undefined) : items.update(ITEM, 'v', value));
      }
      for (const result of await Promise.all(writes)) result._unsafeUnwrap();
      await peer.close();
      const entries = await entriesOf(storage);
      updates.push(framesOf(entries));
      const last = entries[entries.length - 1]!;
      const candidate = {
        origin: last.origin,
        logical: last.hlc.logical,
        value: w * spec.setsPerWriter + spec.setsPerWriter - 1,
      };
      if (
        best === undefined ||
        candidate.logical > best.logical ||
        (candidate.logical === best.logical && candidate.origin > best.origin)
      )
        best = candidate;
    }
    const note =
      spec.setsPerWriter === 1
        ? 'payload = one facts frame per writer: its create as a one-fact run (origin, prev, hash, Ed25519 signature), no transport framing'
        : `payload = one facts frame per writer: its ${spec.setsPerWriter} facts as one signed run (what its sync sends a peer lacking them)`;
    return { updates, expected: best!.value, note };
  },

  async ingest(updates: readonly Uint8Array[]): Promise<Replica> {
    const storage = memoryStorage();
    // A real peer with default options (real clock and timers, snapshots every 10,000 entries, its
    // own caches: it verifies every signature itself), fed the frames as its transport would.
    const wire = manualTransport();
    const peer = (await createPeer({ storage, transports: [wire.transport] }))._unsafeUnwrap();
    const space = (await peer.space(SPACE))._unsafeUnwrap();
    wire.up(NEIGHBOUR);
    for (let i = 0; i < updates.length; i++) {
      wire.deliver(NEIGHBOUR, updates[i]!);
      // Let the peer work through what arrived before its inbound queue (256 frames) overflows.
      if (i % INGEST_SLICE === INGEST_SLICE - 1) await wire.settle();
    }
    await wire.settle();
    await peer.close(); // waits until every accepted fact is durable
    return { peer, space, storage };
  },

  value: (replica) => replica.space.collection<{ v: number }>(COLLECTION).get(ITEM)?.v,

  floor: (updates) => signatureFloor(SPACE, updates),

  async atRestBytes(replica): Promise<number> {
    // Shoal's self-contained entry encoding (origin, counter, hash, signature, fact); the SQLite
    // backend stores origins once per space and is smaller.
    return (await entriesOf(replica.storage)).reduce((sum, entry) => sum + encodeEntry(entry).length, 0);
  },
};

/** A space with `m/doc` created, ready for local writes. */
interface Doc {
  readonly peer: Peer;
  readonly space: Space;
}

export const shoalLocalWrites: LocalWritesSystem<Doc> = {
  async create(): Promise<Doc> {
    const net = new SimNetwork({ seed: 2 });
    const peer = (await createPeer({ storage: memoryStorage(), env: net.env }))._unsafeUnwrap();
    const space = (await peer.space(SPACE))._unsafeUnwrap();
    (await space.collection(COLLECTION).create({}, ITEM))._unsafeUnwrap();
    return { peer, space };
  },
  async write(doc: Doc, spec: LocalWritesSpec): Promise<Doc> {
    const items = doc.space.collection<Record<string, number>>(COLLECTION);
    // Every write's outcome is checked, as an app would: each result a write returns is kept. The
    // writes of one group commit return the same `ResultAsync` (one object per batch), so a result
    // that is the very object the previous write returned is that outcome again and is not kept a
    // second time; every distinct result (another batch's, or an error of one write) is kept and
    // awaited below. Awaiting 100,000 copies of a few objects through `Promise.all` made a promise
    // and a `then` job per copy: ~45 % of the run's CPU spent in the driver, not in Shoal.
    const pending: ResultAsync<void, WriteError>[] = [];
    let last: ResultAsync<void, WriteError> | undefined;
    const keep = (result: ResultAsync<void, WriteError>) => {
      if (result !== last) pending.push((last = result));
    };
    if ((spec.batch ?? 1) === 1) {
      for (let i = 0; i < spec.writes; i++) keep(items.update(ITEM, fieldKey(i, spec.keys), i));
    } else {
      // One transaction per batch: its writes share its one result, the transaction's (a write refused
      // on its own returns its own error, kept too).
      for (const [first, end] of transactions(spec)) {
        keep(
          doc.space.transact(() => {
            for (let i = first; i < end; i++) keep(items.update(ITEM, fieldKey(i, spec.keys), i));
          }),
        );
      }
    }
    // Every write is visible at once; the run ends when all of them are durable.
    for (const result of pending) (await result)._unsafeUnwrap();
    return doc;
  },
  read: (doc, key) => doc.space.collection<Record<string, number>>(COLLECTION).get(ITEM)?.[key],
  dispose: (doc) => void doc.peer.close(),
  note: 'collection.update per write (hashed, in the view at once), or space.transact per batch; writes issued back to back and all durable (memory storage, group commit, one signature per batch) before the clock stops',
};

/**
 * The canonical bytes of one write of the local-writes workload (an update of one numeric field of
 * `m/doc`, by an origin of real length, chained): what every local write must hash.
 */
export function localWritePayload(spec: LocalWritesSpec): Uint8Array {
  const draft = {
    origin: NEIGHBOUR,
    counter: 2,
    hlc: { wall: 1_764_000_000_000, logical: 0 }, // a wall clock of today's length
    type: 'update' as const,
    collection: COLLECTION,
    item: ITEM,
    data: { [fieldKey(spec.writes - 1, spec.keys)]: spec.writes - 1 },
    prev: new Uint8Array(32),
  };
  return canonicalBytes(SPACE, draft)._unsafeUnwrap();
}

/**
 * The floor under a local write, hashed as the write path hashes (one-shot SHA-256 into a digest
 * slab): no engine can write a fact faster than it can hash it.
 */
export function hashPayloads(payload: Uint8Array, times: number): Uint8Array {
  const digests = new DigestSlab();
  let last = payload;
  for (let i = 0; i < times; i++) last = digests.digest(payload);
  return last;
}

/** Counts the bytes a peer sends: all frames, and facts frames (the payload) apart. */
function counting(inner: Transport, totals: { wire: number; payload: number }): Transport {
  return {
    start: (context, handler) => inner.start(context, handler),
    send(to, frame) {
      totals.wire += frame.length;
      if (frame[0] === FACTS_FRAME) totals.payload += frame.length;
      return inner.send(to, frame);
    },
    disconnect: (peer) => inner.disconnect(peer),
    addresses: () => inner.addresses(),
    stop: () => inner.stop(),
  };
}

/** First byte of a facts frame (engine/sync/codec.ts). */
const FACTS_FRAME = 2;

export const shoalStream: StreamSystem = {
  async stream(spec: StreamSpec): Promise<StreamBytes> {
    const counted = async (batch: number) => {
      const net = new SimNetwork({ seed: spec.seed });
      const totals = { wire: 0, payload: 0 };
      const writer = (
        await createPeer({ storage: memoryStorage(), env: net.env, transports: [counting(net.transport(), totals)] })
      )._unsafeUnwrap();
      const reader = (
        await createPeer({ storage: memoryStorage(), env: net.env, transports: [counting(net.transport(), totals)] })
      )._unsafeUnwrap();
      const items = (await writer.space(SPACE))._unsafeUnwrap().collection<Record<string, number>>(COLLECTION);
      const readerSpace = (await reader.space(SPACE))._unsafeUnwrap();
      (await items.create({}, ITEM))._unsafeUnwrap();
      await net.runUntilQuiet();
      // Count from here: the connection is set up and the item exists on both.
      totals.wire = 0;
      totals.payload = 0;
      for (let i = 0; i < spec.ops; i += batch) {
        const writes = [];
        for (let k = i; k < Math.min(spec.ops, i + batch); k++)
          writes.push(items.update(ITEM, fieldKey(k, spec.keys), k));
        for (const result of await Promise.all(writes)) result._unsafeUnwrap();
        await net.runUntilQuiet();
      }
      const expected = JSON.stringify(items.get(ITEM));
      if (JSON.stringify(readerSpace.collection(COLLECTION).get(ITEM)) !== expected)
        throw new Error('the reader diverged from the writer');
      await writer.close();
      await reader.close();
      return { ...totals };
    };
    const batched = await counted(spec.batch);
    const single = await counted(1);
    return {
      wireBytes: batched.wire,
      payloadBytes: batched.payload,
      perOpUpdateBytes: single.payload,
      note: `both ways after the handshake: facts frames (a run of ${spec.batch} facts, one signature) and the acks that drive pending → acknowledged; no transport framing`,
    };
  },
};
