/**
 * A scripted storage workload shaped like a peer's life (identity, group-committed own writes,
 * received runs, acknowledged vectors, the pending set, a snapshot blob and its metadata,
 * truncation), with a model of what is acknowledged after each step. Used to crash a storage at
 * every write point and check what a restart finds.
 */
import type { ResultAsync } from 'neverthrow';
import { expect } from 'vitest';
import { checkFact } from '../../engine/facts/codec.js';
import type { Fact } from '../../engine/facts/types.js';
import type { LogMetadata } from '../../engine/log/event-log.js';
import type { FactEntry } from '../../engine/log/fact-entry.js';
import type { Storage } from '../../engine/storage/storage.js';
import { FactChain, normalize, testOrigin } from '../../testing/facts.js';
import { readAll } from '../../testing/index.js';

/** The space the workload writes to. */
export const SPACE = 'crash-space';

/** What a storage holds, as far as the workload can tell. */
export interface Model {
  start: number;
  entries: FactEntry[];
  meta: Map<string, number[]>;
  blobs: Map<string, number[]>;
}

interface Step {
  readonly what: string;
  run(storage: Storage): ResultAsync<unknown, unknown>;
  apply(model: Model): void;
}

const bytes = (...xs: number[]) => Uint8Array.from(xs);
const withMeta = (e: FactEntry, m: LogMetadata): FactEntry => normalize({ ...e, ...m }) as unknown as FactEntry;

/** The steps, built once so every run appends the same facts. */
export function workload(): Step[] {
  const own = new FactChain(SPACE, testOrigin(1));
  const other = new FactChain(SPACE, testOrigin(2));
  const steps: Step[] = [];
  const log = (s: Storage) => s.openLog(SPACE);
  let head = 0;
  const append = (entries: FactEntry[]) => {
    const at = head;
    head += entries.length;
    steps.push({
      what: `append ${entries.length} @${at}`,
      run: (s) => log(s).andThen((l) => l.addEntries(entries, at)),
      apply: (m) => void m.entries.push(...entries),
    });
  };
  const setMeta = (key: string, value: number[]) =>
    steps.push({
      what: `setMeta ${key}`,
      run: (s) => s.setMeta(key, Uint8Array.from(value)),
      apply: (m) => void m.meta.set(key, value),
    });

  setMeta('identity', [1, 2, 3, 4]);
  steps.push({ what: 'open log', run: (s) => log(s), apply: () => undefined });
  for (let round = 0; round < 4; round++) {
    append(own.run(3));
    setMeta('pending', [round, 1, 2, 3]);
    append(other.run(2));
    setMeta('acked:peer-2', [round, 9]);
  }
  const snapAt = 6;
  steps.push({
    what: 'mark pending snapshot',
    run: (s) => log(s).andThen((l) => l.setMetadata(snapAt, { pending: 'snapshot' })),
    apply: (m) => void (m.entries[snapAt - m.start] = withMeta(m.entries[snapAt - m.start]!, { pending: 'snapshot' })),
  });
  steps.push({
    what: 'write snapshot blob',
    run: (s) => s.blobs.getRootDir().andThen((root) => root.writeBlob('snap-6', bytes(6, 6, 6))),
    apply: (m) => void m.blobs.set('snap-6', [6, 6, 6]),
  });
  steps.push({
    what: 'record snapshot',
    run: (s) => log(s).andThen((l) => l.setMetadata(snapAt, { snapshot: 'snap-6', pending: undefined })),
    apply: (m) => {
      const e = m.entries[snapAt - m.start]!;
      m.entries[snapAt - m.start] = normalize({ ...e, snapshot: 'snap-6', pending: undefined }) as unknown as FactEntry;
    },
  });
  steps.push({
    what: 'truncate before snapshot',
    run: (s) => log(s).andThen((l) => l.truncate(snapAt)),
    apply: (m) => {
      m.entries = m.entries.slice(snapAt - m.start);
      m.start = snapAt;
    },
  });
  append(own.run(4));
  steps.push({
    what: 'deleteMeta pending',
    run: (s) => s.deleteMeta('pending'),
    apply: (m) => void m.meta.delete('pending'),
  });
  append(other.run(1));
  return steps;
}

/** A storage that holds nothing. */
export const emptyModel = (): Model => ({ start: 0, entries: [], meta: new Map(), blobs: new Map() });

/**
 * Run the steps until one fails. Returns the model of everything acknowledged and the model that
 * also includes the step that failed (what the storage holds if that write landed).
 */
export async function runUntilFailure(
  storage: Storage,
  steps: Step[],
): Promise<{ acked: Model; withFailed: Model; failedAt?: string }> {
  const acked = emptyModel();
  for (const step of steps) {
    const r = await step.run(storage);
    if (r.isErr()) {
      const withFailed = cloneModel(acked);
      step.apply(withFailed);
      return { acked, withFailed, failedAt: step.what };
    }
    step.apply(acked);
  }
  return { acked, withFailed: cloneModel(acked) };
}

function cloneModel(m: Model): Model {
  return { start: m.start, entries: [...m.entries], meta: new Map(m.meta), blobs: new Map(m.blobs) };
}

/**
 * The log of `space` in `storage`, read back in full, with every fact's hash recomputed, every
 * origin's chain linked (prev = hash of its previous fact held) and no (origin, counter) twice.
 */
export async function verifiedLog(storage: Storage, space: string): Promise<{ start: number; entries: FactEntry[] }> {
  const log = (await storage.openLog(space))._unsafeUnwrap();
  const { start, entries } = await readAll(log);
  const seen = new Set<string>();
  const lastHash = new Map<string, Uint8Array>();
  for (const e of entries) {
    expect(checkFact(space, e as Fact).isOk(), `fact ${e.origin}:${e.counter} hash`).toBe(true);
    const id = `${e.origin}:${e.counter}`;
    expect(seen.has(id), `duplicate ${id}`).toBe(false);
    seen.add(id);
    const prev = lastHash.get(e.origin);
    if (prev !== undefined) expect(Array.from(e.prev!), `chain of ${id}`).toEqual(Array.from(prev));
    lastHash.set(e.origin, e.hash);
  }
  return { start, entries };
}

/** What `storage` holds, as `verifiedLog` reads it, plus the workload's metadata and blob. */
export async function observe(storage: Storage): Promise<Model> {
  const { start, entries } = await verifiedLog(storage, SPACE);
  const meta = new Map<string, number[]>();
  for (const key of ['identity', 'pending', 'acked:peer-2']) {
    const v = (await storage.getMeta(key))._unsafeUnwrap();
    if (v !== undefined) meta.set(key, Array.from(v));
  }
  const blobs = new Map<string, number[]>();
  const root = (await storage.blobs.getRootDir())._unsafeUnwrap();
  const snap = await root.readBlob('snap-6');
  if (snap.isOk()) blobs.set('snap-6', Array.from(snap.value));
  return { start, entries: entries.map((e) => normalize(e) as unknown as FactEntry), meta, blobs };
}

/** Models compared on content. */
export const comparable = (m: Model) => ({
  start: m.start,
  entries: m.entries.map((e) => normalize(e)),
  meta: Object.fromEntries(m.meta),
  blobs: Object.fromEntries(m.blobs),
});
