/**
 * Yjs 13 under the merge-suite workloads, as an app using Yjs with its usual providers
 * (y-websocket, y-webrtc: y-protocols sync) would do it. Pure functions; timing is the suite's job.
 */
import * as Y from 'yjs';
import { assertSameFields } from '../check.js';
import { distinct, seededUint32 } from '../random.js';
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
} from '../systems.js';

/** The shared map every workload writes to. */
const MAP = 'm';

/**
 * Writers as separate docs with seeded clientIDs that are random uint32s like Yjs's own (small ids
 * would encode in fewer bytes and flatter Yjs on the wire).
 *
 * One set per writer: the payload is the update the doc emitted, as a provider broadcasts it live.
 * Several sets: the payload is `encodeStateAsUpdate(writer)`, what y-protocols sync step 2 sends a
 * replica that lacks the writer's changes; it carries each overwritten value only as a deleted range,
 * which is what makes Yjs cheap here, so it is the fair representation. The per-set updates are still
 * counted as `liveBytes`.
 */
export function generateMerge(spec: MergeSpec): MergeInput {
  const ids = distinct(spec.writers, seededUint32(spec.seed));
  const updates: Uint8Array[] = [];
  let liveBytes = 0;
  let winner = 0;
  ids.forEach((clientID, w) => {
    const doc = new Y.Doc();
    doc.clientID = clientID;
    const emitted: Uint8Array[] = [];
    doc.on('update', (update: Uint8Array) => {
      emitted.push(update);
      liveBytes += update.byteLength;
    });
    const map = doc.getMap<number>(MAP);
    for (let k = 0; k < spec.setsPerWriter; k++) map.set('v', w * spec.setsPerWriter + k);
    updates.push(spec.setsPerWriter === 1 ? emitted[0]! : Y.encodeStateAsUpdate(doc));
    doc.destroy();
    if (clientID > ids[winner]!) winner = w;
  });
  // Concurrent sets of one map key: the item of the greatest clientID ends up rightmost and wins.
  const expected = winner * spec.setsPerWriter + spec.setsPerWriter - 1;
  const note =
    spec.setsPerWriter === 1
      ? 'payload = the update each writer doc emitted (V1 encoding), y-protocols framing (+3 B) not counted'
      : 'payload = one encodeStateAsUpdate per writer (what y-protocols sync step 2 sends a replica that lacks it), applied with applyUpdate';
  return { updates, expected, liveBytes, note };
}

/** A fresh doc applies the updates one by one (`Y.applyUpdate` decodes and integrates). */
export function ingest(updates: readonly Uint8Array[]): Y.Doc {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc;
}

/** Yjs as a {@link MergeSystem}. At rest = `encodeStateAsUpdate` (V1), what y-indexeddb compacts to. */
export const yjsMerge: MergeSystem<Y.Doc> = {
  generate: generateMerge,
  ingest,
  value: (doc) => doc.getMap(MAP).get('v'),
  atRestBytes: (doc) => Y.encodeStateAsUpdate(doc).byteLength,
  dispose: (doc) => doc.destroy(),
};

/** Yjs as a {@link LocalWritesSystem}: `map.set` outside a transaction is one transaction per write. */
export const yjsLocalWrites: LocalWritesSystem<Y.Doc> = {
  create: () => new Y.Doc(),
  write(doc: Y.Doc, spec: LocalWritesSpec): Y.Doc {
    const map = doc.getMap<number>(MAP);
    if ((spec.batch ?? 1) === 1) {
      for (let i = 0; i < spec.writes; i++) map.set(fieldKey(i, spec.keys), i);
      return doc;
    }
    for (const [first, end] of transactions(spec)) {
      doc.transact(() => {
        for (let i = first; i < end; i++) map.set(fieldKey(i, spec.keys), i);
      });
    }
    return doc;
  },
  read: (doc, key) => doc.getMap(MAP).get(key),
  dispose: (doc) => doc.destroy(),
  note: 'map.set per write, each its own transaction (or doc.transact per batch); no update listener attached (a provider would add update encoding)',
};

/** Bytes of a y-protocols "update" message around a payload: messageSync, messageYjsUpdate, length. */
export function yProtocolsUpdateMessageBytes(payloadBytes: number): number {
  let lengthBytes = 1;
  for (let n = payloadBytes; n > 0x7f; n >>>= 7) lengthBytes++;
  return 1 + 1 + lengthBytes + payloadBytes;
}

/**
 * One writer, one reader. y-protocols has no batching, so a batch is the writer's updates merged
 * with `Y.mergeUpdates` (the same bytes as the sync-step-2 diff since the last batch), sent as one
 * y-protocols update message; the reader sends nothing back (y-protocols has no acks).
 */
export function stream(spec: StreamSpec): StreamBytes {
  const writer = new Y.Doc();
  writer.clientID = seededUint32(spec.seed)();
  const reader = new Y.Doc();
  const pending: Uint8Array[] = [];
  let perOpUpdateBytes = 0;
  writer.on('update', (update: Uint8Array) => {
    pending.push(update);
    perOpUpdateBytes += update.byteLength;
  });
  const map = writer.getMap<number>(MAP);
  let payloadBytes = 0;
  let wireBytes = 0;
  for (let i = 0; i < spec.ops; i++) {
    map.set(fieldKey(i, spec.keys), i);
    if ((i + 1) % spec.batch === 0 || i === spec.ops - 1) {
      const batch = Y.mergeUpdates(pending);
      pending.length = 0;
      payloadBytes += batch.byteLength;
      wireBytes += yProtocolsUpdateMessageBytes(batch.byteLength);
      Y.applyUpdate(reader, batch);
    }
  }
  assertSameFields(reader.getMap(MAP).toJSON(), map.toJSON(), 'yjs stream: reader vs writer');
  writer.destroy();
  reader.destroy();
  return {
    wireBytes,
    payloadBytes,
    perOpUpdateBytes,
    note: 'y-protocols update messages (Y.mergeUpdates per batch), no acks; transport framing not counted',
  };
}

/** Yjs as a {@link StreamSystem}. */
export const yjsStream: StreamSystem = { stream };
