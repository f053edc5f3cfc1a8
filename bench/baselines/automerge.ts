/**
 * Automerge 3 under the merge-suite workloads, through its public JS API (what apps and
 * automerge-repo use). Pure functions; timing is the suite's job. Every document is freed when done:
 * Automerge documents live in WASM memory that the JS garbage collector does not see.
 */
import * as A from '@automerge/automerge';
import { assertSameFields } from '../check.js';
import { distinct, randomHex, seededUint32 } from '../random.js';
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

type Register = { v?: number };
type Fields = Record<string, number>;

/** Automerge's own actor ids are 16 random bytes; shorter ones would shrink every change. */
const ACTOR_BYTES = 16;

/**
 * Writers as separate documents (seeded 16-byte actors), one `change` per set.
 *
 * One set per writer: the payload is the change (`getLastLocalChange`), what a live sync message
 * carries. Several sets: the payload is `save(writer)`, one compressed chunk of the writer's history:
 * that is what Automerge's sync protocol sends a peer that lacks the writer's changes (a compressed
 * bundle; checked by hand: 302 B by `save` for 100 sets vs 372 B in a real sync message to a non-empty
 * peer), and what automerge-repo's 100 ms sync throttle sends for a burst. The per-set changes are
 * still counted as `liveBytes`.
 */
export function generateMerge(spec: MergeSpec): MergeInput {
  const next = seededUint32(spec.seed);
  const actors = distinct(spec.writers, () => randomHex(next, ACTOR_BYTES));
  const updates: Uint8Array[] = [];
  let liveBytes = 0;
  let winner = 0;
  actors.forEach((actor, w) => {
    let doc = A.init<Register>({ actor });
    let last: Uint8Array | undefined;
    for (let k = 0; k < spec.setsPerWriter; k++) {
      doc = A.change(doc, (d) => {
        d.v = w * spec.setsPerWriter + k;
      });
      last = A.getLastLocalChange(doc);
      liveBytes += last?.byteLength ?? 0;
    }
    if (!last) throw new Error('automerge: a writer made no change');
    updates.push(spec.setsPerWriter === 1 ? last : A.save(doc));
    A.free(doc);
    if (actor > actors[winner]!) winner = w;
  });
  // Concurrent puts of one key: the greatest op id (counter, then actor) wins. Every writer's last
  // op has the same counter, so the greatest actor wins (equal-length hex compares like the bytes).
  const expected = winner * spec.setsPerWriter + spec.setsPerWriter - 1;
  const note =
    spec.setsPerWriter === 1
      ? 'payload = the change (getLastLocalChange), sync-message envelope not counted; applied with loadIncremental'
      : "payload = save(writer) per writer (the compressed chunk Automerge's sync sends a peer lacking it), applied with loadIncremental";
  return { updates, expected, liveBytes, note };
}

/**
 * A fresh document loads the updates one by one. `loadIncremental` takes both single changes and
 * saved documents; it and `applyChanges` measured the same here (±10 %), and it is the call the
 * Automerge docs name for staying up to date with a connected peer.
 */
export function ingest(updates: readonly Uint8Array[]): A.Doc<Register> {
  let doc = A.init<Register>();
  for (const update of updates) doc = A.loadIncremental(doc, update);
  return doc;
}

/** Automerge as a {@link MergeSystem}. At rest = `save` (compressed, full history). */
export const automergeMerge: MergeSystem<A.Doc<Register>> = {
  generate: generateMerge,
  ingest,
  value: (doc) => doc.v,
  atRestBytes: (doc) => A.save(doc).byteLength,
  dispose: (doc) => A.free(doc),
};

/** Automerge as a {@link LocalWritesSystem}: one `change` per write. */
export const automergeLocalWrites: LocalWritesSystem<A.Doc<Fields>> = {
  create: () => A.init<Fields>(),
  write(doc: A.Doc<Fields>, spec: LocalWritesSpec): A.Doc<Fields> {
    for (const [first, end] of transactions(spec)) {
      doc = A.change(doc, (d) => {
        for (let i = first; i < end; i++) d[fieldKey(i, spec.keys)] = i;
      });
    }
    return doc;
  },
  read: (doc, key) => doc[key],
  dispose: (doc) => A.free(doc),
  note: 'A.change per write (each a committed change), or per batch',
};

/**
 * One writer, one reader, connected by Automerge's sync protocol (`generateSyncMessage` /
 * `receiveSyncMessage`). After each batch the two exchange messages until neither has anything to
 * say, as automerge-repo does after its throttle fires. The handshake before the first op is not
 * counted; the reader's replies (heads, bloom filter) are, because the protocol needs them.
 */
export function stream(spec: StreamSpec): StreamBytes {
  let writer = A.init<Fields>({ actor: randomHex(seededUint32(spec.seed), ACTOR_BYTES) });
  let reader = A.init<Fields>();
  let writerSync = A.initSyncState();
  let readerSync = A.initSyncState();
  let wireBytes = 0;
  let payloadBytes = 0;
  let counting = false;

  const exchange = (): void => {
    for (;;) {
      let fromWriter: A.SyncMessage | null;
      let fromReader: A.SyncMessage | null;
      [writerSync, fromWriter] = A.generateSyncMessage(writer, writerSync);
      if (fromWriter) {
        if (counting) {
          wireBytes += fromWriter.byteLength;
          for (const change of A.decodeSyncMessage(fromWriter).changes) payloadBytes += change.byteLength;
        }
        [reader, readerSync] = A.receiveSyncMessage(reader, readerSync, fromWriter);
      }
      [readerSync, fromReader] = A.generateSyncMessage(reader, readerSync);
      if (fromReader) {
        if (counting) wireBytes += fromReader.byteLength;
        [writer, writerSync] = A.receiveSyncMessage(writer, writerSync, fromReader);
      }
      if (!fromWriter && !fromReader) return;
    }
  };

  exchange();
  counting = true;
  let perOpUpdateBytes = 0;
  for (let i = 0; i < spec.ops; i++) {
    writer = A.change(writer, (d) => {
      d[fieldKey(i, spec.keys)] = i;
    });
    perOpUpdateBytes += A.getLastLocalChange(writer)?.byteLength ?? 0;
    if ((i + 1) % spec.batch === 0 || i === spec.ops - 1) exchange();
  }
  assertSameFields(A.toJS(reader), A.toJS(writer), 'automerge stream: reader vs writer');
  A.free(writer);
  A.free(reader);
  return {
    wireBytes,
    payloadBytes,
    perOpUpdateBytes,
    note: 'sync messages both ways per batch (changes + heads/bloom replies); automerge-repo envelope not counted',
  };
}

/** Automerge as a {@link StreamSystem}. */
export const automergeStream: StreamSystem = { stream };
