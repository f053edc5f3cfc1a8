/**
 * Storage suite: durable append into SQLite, bytes on disk per fact, cold open and full replay,
 * and IndexedDB (fake-indexeddb) append batched vs one transaction per fact.
 *
 * Facts are real: sealed with the codec (SHA-256 over the canonical encoding), hash-chained per
 * origin, from 4 Ed25519 identities (real PeerIds), in runs of 2,048 that end in a real signature,
 * shaped like a shopping list (10 % creates of a 3-field object, 80 % single-field updates, 10 %
 * deletes, 16-character item ids as the engine makes them). A batch of 8,192 (MAX_APPEND_BATCH)
 * holds one run from each origin: what a peer's group commit hands to `addEntries`. Building the
 * facts (hashing, signing) is untimed; only storage calls are on the clock.
 */
// IndexedDB for Node: this suite runs in its own process, so the globals reach nothing else.
import 'fake-indexeddb/auto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sealFact } from '../../engine/facts/codec.js';
import { createSigner, identityFromSeed, type Signer } from '../../engine/facts/sign.js';
import type { Fact, Hash, UnhashedFact } from '../../engine/facts/types.js';
import { MAX_APPEND_BATCH } from '../../engine/limits.js';
import type { EventLog, QueryValue } from '../../engine/log/event-log.js';
import { sqliteStorage, type SqliteStorageInit } from '../../engine/storage/sqlite/index.js';
import { idbStorage } from '../../engine/storage/idb/index.js';
import type { FactEntry } from '../../engine/log/fact-entry.js';
import type { Storage } from '../../engine/storage/storage.js';
import type { BenchContext, BenchRow, BenchSuite } from '../harness.js';
import { collectGarbage } from '../measure.js';

const SPACE = 'bench-space';
const ORIGINS = 4;
const RUN = MAX_APPEND_BATCH / ORIGINS; // facts per signed run
const FULL_FACTS = 1_000_000;
const IDB_BATCHED_FACTS = 50_000;
const IDB_SINGLE_FACTS = 5_000;
const IDB_BATCH = 1_000; // facts per transaction in the batched IndexedDB case

interface Author {
  signer: Signer;
  counter: number;
  prev: Hash | null;
  wall: number;
}

/** Deterministic pseudo-randomness (mulberry32), so every run builds the same facts. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export class FactFactory {
  readonly #authors: Author[];
  readonly #rand = random(42);
  readonly #items: string[] = [];

  private constructor(authors: Author[]) {
    this.#authors = authors;
  }

  static async create(): Promise<FactFactory> {
    const authors: Author[] = [];
    for (let i = 0; i < ORIGINS; i++) {
      const key = (await identityFromSeed(new Uint8Array(32).fill(i + 1)))._unsafeUnwrap();
      authors.push({ signer: createSigner(key)._unsafeUnwrap(), counter: 0, prev: null, wall: 1_764_000_000_000 + i });
    }
    return new FactFactory(authors);
  }

  #itemId(): string {
    let id = '';
    for (let i = 0; i < 16; i++) id += ID_CHARS[Math.floor(this.#rand() * 64)];
    return id;
  }

  #next(author: Author): Fact {
    const r = this.#rand();
    author.wall += 1 + Math.floor(this.#rand() * 50);
    const base = {
      origin: author.signer.origin,
      counter: author.counter + 1,
      hlc: { wall: author.wall, logical: 0 },
      collection: 'items',
      prev: author.prev,
    };
    let draft: UnhashedFact;
    if (r < 0.1 || this.#items.length === 0) {
      const item = this.#itemId();
      this.#items.push(item);
      draft = {
        ...base,
        type: 'create',
        item,
        data: { title: `item ${base.counter}`, qty: 1 + Math.floor(this.#rand() * 9), done: false },
      };
    } else {
      const item = this.#items[Math.floor(this.#rand() * this.#items.length)]!;
      if (r < 0.9) {
        const pick = this.#rand();
        const data =
          pick < 0.5
            ? { done: pick < 0.25 }
            : pick < 0.8
              ? { qty: Math.floor(pick * 20) }
              : { title: `renamed ${base.counter}` };
        draft = { ...base, type: 'update', item, data };
      } else draft = { ...base, type: 'delete', item };
    }
    const fact = sealFact(SPACE, draft)._unsafeUnwrap();
    author.counter = fact.counter;
    author.prev = fact.hash;
    return fact;
  }

  /** One group commit: a signed run of RUN facts from each origin. */
  async batch(size = MAX_APPEND_BATCH): Promise<FactEntry[]> {
    const out: FactEntry[] = [];
    const per = Math.max(1, Math.floor(size / ORIGINS));
    for (const author of this.#authors) {
      for (let i = 0; i < per && out.length < size; i++) out.push(this.#next(author));
      const last = out[out.length - 1]!;
      out[out.length - 1] = { ...last, sig: await author.signer.sign(last.hash) };
    }
    return out;
  }
}

/** Wall and CPU milliseconds (CPU: this process, all threads), accumulated over timed sections. */
class Clock {
  wallMs = 0;
  cpuMs = 0;
  async time<T>(fn: () => PromiseLike<T>): Promise<T> {
    const wall = performance.now();
    const cpu = process.cpuUsage();
    const value = await fn();
    const used = process.cpuUsage(cpu);
    this.cpuMs += (used.user + used.system) / 1000;
    this.wallMs += performance.now() - wall;
    return value;
  }
  /** For notes: wall clock is stretched by other processes on a shared machine, CPU time less so. */
  describe(facts: number): string {
    return `${fmt(this.wallMs)} ms wall, ${fmt(this.cpuMs)} ms CPU (${fmt(facts / (this.cpuMs / 1000))} facts per CPU-second)`;
  }
}

async function appendAll(
  log: EventLog<FactEntry>,
  factory: FactFactory,
  total: number,
  ctx: BenchContext,
  label: string,
): Promise<Clock> {
  const clock = new Clock();
  for (let at = 0; at < total;) {
    const batch = await factory.batch(Math.min(MAX_APPEND_BATCH, total - at));
    const r = await clock.time(() => log.addEntries(batch, at));
    if (r.isErr()) throw new Error(`${label}: append failed: ${r.error.message}`);
    at += batch.length;
    if (at % (MAX_APPEND_BATCH * 25) < MAX_APPEND_BATCH) ctx.log(`${label}: ${at.toLocaleString('en')} facts`);
  }
  return clock;
}

async function openLog(storage: Storage): Promise<EventLog<FactEntry>> {
  const r = await storage.openLog(SPACE);
  if (r.isErr()) throw new Error(`open: ${r.error.message}`);
  return r.value;
}

/** Durable append of `total` facts into a fresh SQLite file; returns the time in ms and the file size. */
async function sqliteAppend(dir: string, total: number, init: SqliteStorageInit, ctx: BenchContext, label: string) {
  const file = join(dir, `${label}.db`);
  const storage = sqliteStorage(file, init);
  const clock = await appendAll(await openLog(storage), await FactFactory.create(), total, ctx, label);
  const closed = await storage.close(); // checkpoints the WAL into the file
  if (closed.isErr()) throw new Error(closed.error.message);
  return { file, clock, bytes: statSync(file).size };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');

async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-storage-'));
  try {
    const total = Math.max(MAX_APPEND_BATCH, Math.round(FULL_FACTS * ctx.scale));
    const workload = `durable append, ${fmt(total)} facts into SQLite`;

    // 1. Durable append (synchronous=FULL: every batch fsynced).
    const full = await sqliteAppend(dir, total, {}, ctx, 'sqlite-full');
    rows.push({
      workload,
      system: 'shoal',
      metric: 'append rate',
      value: total / (full.clock.wallMs / 1000),
      unit: 'facts/s',
      better: 'higher',
      goal: 100_000,
      note: `batches of ${fmt(MAX_APPEND_BATCH)} (one transaction + WAL fsync each, synchronous=FULL); in addEntries: ${full.clock.describe(total)}; building the facts (SHA-256, Ed25519 per run) untimed`,
    });
    rows.push({
      workload,
      system: 'shoal',
      metric: 'bytes on disk',
      value: full.bytes / total,
      unit: 'B/fact',
      better: 'lower',
      goal: 120,
      note: `file size after close (WAL checkpointed): ${fmt(full.bytes)} B; hash (32 B) included, one row per batch, prev elided when the record before it in the row gives it, one 64 B signature per ${fmt(RUN)} facts`,
    });

    // 2. Cold open and full replay: a new storage on the file, every entry read back and decoded.
    // Garbage the append left (a million facts built and encoded) is collected first, off the clock.
    collectGarbage();
    const replay = new Clock();
    const storage = sqliteStorage(full.file);
    let read = 0;
    let checksum = 0;
    await replay.time(async () => {
      const log = await openLog(storage);
      let page: QueryValue<FactEntry> | undefined;
      do {
        const r = await log.query(page === undefined ? 'start' : page.endSequenceId, 'end');
        if (r.isErr()) throw new Error(`replay: ${r.error.message}`);
        page = r.value;
        read += page.entries.length;
        for (const e of page.entries) checksum = (checksum + e.counter + e.hash[0]!) | 0;
      } while (!page.isComplete);
    });
    void (await storage.close());
    if (read !== total) throw new Error(`replay read ${read} of ${total} facts (checksum ${checksum})`);
    rows.push({
      workload: `cold open and full replay of ${fmt(total)} facts (SQLite)`,
      system: 'shoal',
      metric: 'replay rate',
      value: total / (replay.wallMs / 1000),
      unit: 'facts/s',
      better: 'higher',
      goal: 500_000,
      note: `open + query from 'start' page by page (4,096 entries a page), every entry decoded into a Fact: ${replay.describe(total)}`,
    });

    // 3. For the record: synchronous=NORMAL (not the default) on a fifth of the facts.
    const normalTotal = Math.max(MAX_APPEND_BATCH, Math.round(total / 5));
    const normal = await sqliteAppend(dir, normalTotal, { synchronous: 'normal' }, ctx, 'sqlite-normal');
    rows.push({
      workload: `durable append, ${fmt(normalTotal)} facts into SQLite, synchronous=NORMAL (not the default)`,
      system: 'shoal',
      metric: 'append rate',
      value: normalTotal / (normal.clock.wallMs / 1000),
      unit: 'facts/s',
      better: 'higher',
      note: `fsync only at checkpoints: survives a process crash, may lose the last commits on power loss; ${normal.clock.describe(normalTotal)}`,
    });

    // 4. IndexedDB under fake-indexeddb: batched vs one transaction per fact.
    const batchedTotal = Math.max(IDB_BATCH, Math.round(IDB_BATCHED_FACTS * ctx.scale));
    const idbBatched = idbStorage('bench-batched');
    const batchedLog = await openLog(idbBatched);
    const factory = await FactFactory.create();
    let batchedMs = 0;
    for (let at = 0; at < batchedTotal; at += IDB_BATCH) {
      const batch = await factory.batch(IDB_BATCH);
      const start = performance.now();
      const r = await batchedLog.addEntries(batch, at);
      batchedMs += performance.now() - start;
      if (r.isErr()) throw new Error(`idb batched: ${r.error.message}`);
    }
    void (await idbBatched.close());
    ctx.log(`indexeddb batched: ${fmt(batchedTotal)} facts`);
    const singleTotal = Math.max(100, Math.round(IDB_SINGLE_FACTS * ctx.scale));
    const idbSingle = idbStorage('bench-single');
    const singleLog = await openLog(idbSingle);
    const singles = await (await FactFactory.create()).batch(singleTotal);
    const singleStart = performance.now();
    for (const [i, fact] of singles.entries()) {
      const r = await singleLog.addEntry(fact, i);
      if (r.isErr()) throw new Error(`idb single: ${r.error.message}`);
    }
    const singleMs = performance.now() - singleStart;
    void (await idbSingle.close());
    const idbWorkload = 'IndexedDB append (fake-indexeddb in Node)';
    rows.push({
      workload: idbWorkload,
      system: 'shoal',
      metric: `batched, ${fmt(IDB_BATCH)} facts/transaction`,
      value: batchedTotal / (batchedMs / 1000),
      unit: 'facts/s',
      better: 'higher',
      note: `${fmt(batchedTotal)} facts; fake-indexeddb is a pure-JS model, so this ranks the two strategies, not a browser`,
    });
    rows.push({
      workload: idbWorkload,
      system: 'shoal',
      metric: 'one transaction per fact',
      value: singleTotal / (singleMs / 1000),
      unit: 'facts/s',
      better: 'higher',
      note: `${fmt(singleTotal)} facts, each awaited before the next`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The storage suite: the file name is the suite name the runner knows it by. */
export default { name: 'storage', run } satisfies BenchSuite;
