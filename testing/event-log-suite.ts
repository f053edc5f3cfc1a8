/**
 * `runEventLogTests(name, makeLog)`: the acceptance suite every EventLog backend passes (memory,
 * SQLite, IndexedDB), after automerge-repo's `runStorageAdapterTests`. It pins down the seed
 * semantics (InfiniSheet 000/001): a stale `addEntry` conflicts and carries the head, `addEntries`
 * is all-or-nothing, `query` pages and starts from `'snapshot'`, `lastSnapshot` tells a caller about
 * a newer snapshot, metadata is set field by field, truncation never reuses ids. A model-based
 * property test then drives random operation sequences against the backend and the in-memory
 * reference side by side and demands identical answers.
 *
 * A backend author calls it from a vitest test file with a function that makes a fresh, empty log
 * (honouring `pageSize` when given, so paging is exercised), and closes what it opened in
 * `afterEach`:
 *
 * @example
 * ```ts
 * import type { Storage } from 'shoal';
 * import { afterEach } from 'vitest';
 * import { runEventLogTests } from 'shoal/testing';
 * import { myStorage } from '../src/index.js';
 *
 * const opened: Storage[] = [];
 * afterEach(async () => void (await Promise.all(opened.splice(0).map((s) => s.close()))));
 *
 * runEventLogTests('my-backend', async ({ pageSize }) => {
 *   const storage = myStorage(freshPath(), pageSize === undefined ? {} : { pageSize });
 *   opened.push(storage);
 *   return (await storage.openLog('suite-space'))._unsafeUnwrap();
 * });
 * ```
 */
import fc from 'fast-check';
import type { ResultAsync } from 'neverthrow';
import { describe, expect, it } from 'vitest';
import { error, value } from './results.js';
import type { EventLog, LogMetadata, QueryValue, SequenceId } from '../engine/log/event-log.js';
import { MemoryEventLog } from '../engine/log/memory-log.js';
import type { FactEntry } from '../engine/log/fact-entry.js';
import { FactChain, interleavedRuns, normalize, testOrigin } from './facts.js';

/** What a suite asks of a new log. */
export interface MakeLogInit {
  /** Most entries one query returns; small values exercise paging. */
  pageSize?: number;
}

/** Makes a fresh, empty log. The calling test file closes whatever it opened (afterEach). */
export type MakeLog = (init: MakeLogInit) => Promise<EventLog<FactEntry>>;

const SPACE = 'suite-space';

/** Every entry of `log` from `start`, following pages until complete. */
export async function readAll(
  log: EventLog<FactEntry>,
  start: SequenceId | 'start' | 'snapshot' = 'start',
): Promise<{ start: SequenceId; entries: FactEntry[] }> {
  const first = await value(log.query(start, 'end'));
  const entries = [...first.entries];
  let page: QueryValue<FactEntry> = first;
  while (!page.isComplete) {
    page = await value(log.query(page.endSequenceId, 'end'));
    expect(page.startSequenceId).toBe(first.startSequenceId + entries.length);
    entries.push(...page.entries);
  }
  return { start: first.startSequenceId, entries };
}

const norm = (entries: readonly FactEntry[]) => entries.map(normalize);

/** Register the EventLog acceptance tests for the backend `name`; `makeLog` gives a fresh, empty log. */
export function runEventLogTests(name: string, makeLog: MakeLog): void {
  describe(`EventLog conformance: ${name}`, () => {
    describe('addEntry / addEntries', () => {
      it('starts empty', async () => {
        const log = await makeLog({});
        for (const start of ['start', 'snapshot'] as const) {
          const q = await value(log.query(start, 'end'));
          expect(q).toMatchObject({ startSequenceId: 0, endSequenceId: 0, isComplete: true, entries: [] });
          expect(q.lastSnapshot).toBeUndefined();
        }
      });

      it('appends at the head and gives the entries back unchanged', async () => {
        const log = await makeLog({});
        const entries = interleavedRuns(SPACE, 3, 6, 4);
        await value(log.addEntry(entries[0]!, 0));
        await value(log.addEntries(entries.slice(1), 1));
        const all = await readAll(log);
        expect(all.start).toBe(0);
        expect(norm(all.entries)).toEqual(norm(entries));
      });

      it('keeps every kind of fact, signatures, unicode and big values intact', async () => {
        const log = await makeLog({});
        const chain = new FactChain(SPACE, testOrigin(7));
        const big = 'x'.repeat(100_000);
        const entries: FactEntry[] = [
          chain.next('create', 'ünïcødé-🦈', { name: 'Grüße 🐟', tags: ['a', 'b'], nested: { n: -1.5, ok: null } }),
          chain.next('update', 'ünïcødé-🦈', { note: big }),
          { ...chain.next('delete', 'ünïcødé-🦈'), sig: new Uint8Array(64).fill(9) },
          { ...chain.next('create', 'x', { empty: {} }), pending: 'snapshot', history: 'h-1', snapshot: 's-1' },
        ];
        await value(log.addEntries(entries, 0));
        expect(norm((await readAll(log)).entries)).toEqual(norm(entries));
      });

      it('refuses a stale or future sequence id with a conflict carrying the head', async () => {
        const log = await makeLog({});
        const entries = new FactChain(SPACE, testOrigin(1)).run(4);
        await value(log.addEntries(entries.slice(0, 2), 0));
        for (const at of [0, 1, 3, 100, -1, 1.5]) {
          const e = await error(log.addEntry(entries[2]!, at));
          expect(e).toMatchObject({ type: 'conflict', nextSequenceId: 2 });
        }
        await value(log.addEntry(entries[2]!, 2));
        expect((await readAll(log)).entries).toHaveLength(3);
      });

      it('adds a group all-or-nothing: a stale group writes nothing', async () => {
        const log = await makeLog({});
        const entries = new FactChain(SPACE, testOrigin(1)).run(6);
        await value(log.addEntries(entries.slice(0, 3), 0));
        const e = await error(log.addEntries(entries.slice(3), 2));
        expect(e).toMatchObject({ type: 'conflict', nextSequenceId: 3 });
        expect(norm((await readAll(log)).entries)).toEqual(norm(entries.slice(0, 3)));
      });

      it('accepts an empty group at the head and changes nothing', async () => {
        const log = await makeLog({});
        await value(log.addEntries([], 0));
        expect(await error(log.addEntries([], 1))).toMatchObject({ type: 'conflict', nextSequenceId: 0 });
        expect((await readAll(log)).entries).toEqual([]);
      });

      // No test that mutating a passed or returned entry leaves the log unchanged: entries are
      // immutable values on both sides of the interface (see EventLog), and the memory log keeps
      // the caller's objects rather than paying a copy on every write.
    });

    describe('query', () => {
      const fill = async (n: number, pageSize?: number) => {
        const log = await makeLog(pageSize === undefined ? {} : { pageSize });
        const entries = interleavedRuns(SPACE, 2, Math.ceil(n / 5), 5).slice(0, n);
        await value(log.addEntries(entries, 0));
        return { log, entries };
      };

      it('returns [start, end) and clamps the end to the head', async () => {
        const { log, entries } = await fill(10);
        const q = await value(log.query(2, 5));
        expect(q).toMatchObject({ startSequenceId: 2, endSequenceId: 5, isComplete: true });
        expect(norm(q.entries)).toEqual(norm(entries.slice(2, 5)));
        const tail = await value(log.query(7, 1000));
        expect(tail).toMatchObject({ startSequenceId: 7, endSequenceId: 10, isComplete: true });
        expect(norm(tail.entries)).toEqual(norm(entries.slice(7)));
        expect(await value(log.query(10, 'end'))).toMatchObject({
          startSequenceId: 10,
          endSequenceId: 10,
          entries: [],
        });
        expect(await value(log.query(4, 4))).toMatchObject({ startSequenceId: 4, endSequenceId: 4, entries: [] });
      });

      it('refuses a start past the head, an end before the start and non-integers', async () => {
        const { log } = await fill(5);
        expect(await error(log.query(6, 'end'))).toMatchObject({ type: 'out-of-range' });
        expect(await error(log.query(3, 2))).toMatchObject({ type: 'out-of-range' });
        expect(await error(log.query(1.5, 'end'))).toMatchObject({ type: 'out-of-range' });
        expect(await error(log.query(0, 2.5))).toMatchObject({ type: 'out-of-range' });
      });

      it('pages: at most pageSize entries, isComplete false until the last page', async () => {
        const { log, entries } = await fill(11, 3);
        const first = await value(log.query('start', 'end'));
        expect(first).toMatchObject({ startSequenceId: 0, endSequenceId: 3, isComplete: false });
        const limited = await value(log.query(1, 3));
        expect(limited).toMatchObject({ startSequenceId: 1, endSequenceId: 3, isComplete: true });
        const all = await readAll(log);
        expect(norm(all.entries)).toEqual(norm(entries));
        const last = await value(log.query(9, 'end'));
        expect(last).toMatchObject({ startSequenceId: 9, endSequenceId: 11, isComplete: true });
      });
    });

    describe('metadata and snapshots', () => {
      it('sets metadata field by field: absent keys untouched, undefined clears', async () => {
        const log = await makeLog({});
        const entries = new FactChain(SPACE, testOrigin(1)).run(3);
        await value(log.addEntries(entries, 0));
        await value(log.setMetadata(1, { pending: 'snapshot' }));
        await value(log.setMetadata(1, { history: 'hist-1' }));
        let e = (await value(log.query(1, 2))).entries[0]!;
        expect(e).toMatchObject({ pending: 'snapshot', history: 'hist-1' });
        expect(e.snapshot).toBeUndefined();
        const before = e;
        await value(log.setMetadata(1, { pending: undefined, snapshot: 'snap-1' }));
        e = (await value(log.query(1, 2))).entries[0]!;
        expect(e.pending).toBeUndefined();
        expect(e).toMatchObject({ snapshot: 'snap-1', history: 'hist-1' });
        expect(normalize(e)).toEqual({ ...normalize(entries[1]!), snapshot: 'snap-1', history: 'hist-1' });
        // An entry handed out earlier does not change under its holder.
        expect(before.pending).toBe('snapshot');
        expect(normalize((await value(log.query(0, 1))).entries[0]!)).toEqual(normalize(entries[0]!));
      });

      it('refuses metadata for entries it does not hold', async () => {
        const log = await makeLog({});
        await value(log.addEntries(new FactChain(SPACE, testOrigin(1)).run(3), 0));
        for (const at of [3, 10, -1, 0.5]) {
          expect(await error(log.setMetadata(at, { pending: 'history' }))).toMatchObject({ type: 'out-of-range' });
        }
      });

      it("queries from 'snapshot': the latest entry carrying one, else the first held", async () => {
        const log = await makeLog({});
        const entries = new FactChain(SPACE, testOrigin(1)).run(8);
        await value(log.addEntries(entries, 0));
        expect((await value(log.query('snapshot', 'end'))).startSequenceId).toBe(0);
        await value(log.setMetadata(2, { snapshot: 'snap-2' }));
        await value(log.setMetadata(5, { snapshot: 'snap-5' }));
        await value(log.setMetadata(6, { history: 'hist-6', pending: 'history' }));
        const q = await value(log.query('snapshot', 'end'));
        expect(q.startSequenceId).toBe(5);
        expect(q.entries[0]!.snapshot).toBe('snap-5');
        expect(norm(q.entries.slice(2))).toEqual(norm(entries.slice(7)));
        await value(log.setMetadata(5, { snapshot: undefined }));
        expect((await value(log.query('snapshot', 'end'))).startSequenceId).toBe(2);
      });

      it('returns lastSnapshot from query and addEntry only when the caller is behind', async () => {
        const log = await makeLog({});
        const chain = new FactChain(SPACE, testOrigin(1));
        await value(log.addEntries(chain.run(6), 0));
        await value(log.setMetadata(4, { snapshot: 'snap-4' }));
        const expected = { sequenceId: 4, blobId: 'snap-4' };
        expect((await value(log.query(0, 'end'))).lastSnapshot).toBeUndefined();
        expect((await value(log.query(0, 'end', -1))).lastSnapshot).toEqual(expected);
        expect((await value(log.query(0, 'end', 3))).lastSnapshot).toEqual(expected);
        expect((await value(log.query(0, 'end', 4))).lastSnapshot).toBeUndefined();
        expect((await value(log.query(5, 'end', 2))).lastSnapshot).toEqual(expected);
        expect((await value(log.addEntry(chain.next(), 6, 1))).lastSnapshot).toEqual(expected);
        expect((await value(log.addEntry(chain.next(), 7, 4))).lastSnapshot).toBeUndefined();
        expect((await value(log.addEntries([chain.next()], 8))).lastSnapshot).toBeUndefined();
      });

      it('takes snapshot metadata given at append time into account', async () => {
        const log = await makeLog({});
        const [a, b, c] = new FactChain(SPACE, testOrigin(1)).run(3);
        await value(log.addEntries([a!, { ...b!, snapshot: 'snap-at-add' }, c!], 0));
        expect((await value(log.query('snapshot', 'end'))).startSequenceId).toBe(1);
        expect((await value(log.query(0, 'end', -1))).lastSnapshot).toEqual({ sequenceId: 1, blobId: 'snap-at-add' });
      });
    });

    describe('truncate', () => {
      it('removes entries before start; ids are never reused', async () => {
        const log = await makeLog({});
        const chain = new FactChain(SPACE, testOrigin(1));
        const entries = chain.run(8);
        await value(log.addEntries(entries, 0));
        await value(log.truncate(3));
        const all = await readAll(log);
        expect(all.start).toBe(3);
        expect(norm(all.entries)).toEqual(norm(entries.slice(3)));
        expect(await error(log.query(2, 'end'))).toMatchObject({ type: 'out-of-range' });
        expect(await error(log.setMetadata(2, { pending: 'snapshot' }))).toMatchObject({ type: 'out-of-range' });
        expect(await error(log.addEntry(chain.next(), 3))).toMatchObject({ type: 'conflict', nextSequenceId: 8 });
        // Truncating to an earlier point is a no-op, past the head an error.
        await value(log.truncate(1));
        expect((await readAll(log)).start).toBe(3);
        expect(await error(log.truncate(9))).toMatchObject({ type: 'out-of-range' });
        expect(await error(log.truncate(4.5))).toMatchObject({ type: 'out-of-range' });
      });

      it('can empty the log and go on appending at the same head', async () => {
        const log = await makeLog({});
        const chain = new FactChain(SPACE, testOrigin(1));
        await value(log.addEntries(chain.run(4), 0));
        await value(log.truncate(4));
        expect(await value(log.query('start', 'end'))).toMatchObject({
          startSequenceId: 4,
          endSequenceId: 4,
          entries: [],
        });
        expect((await value(log.query('snapshot', 'end'))).startSequenceId).toBe(4);
        const next = chain.next();
        await value(log.addEntry(next, 4));
        expect(norm((await readAll(log)).entries)).toEqual(norm([next]));
      });

      it('forgets snapshots of truncated entries', async () => {
        const log = await makeLog({});
        await value(log.addEntries(new FactChain(SPACE, testOrigin(1)).run(6), 0));
        await value(log.setMetadata(1, { snapshot: 'old' }));
        await value(log.setMetadata(4, { snapshot: 'new' }));
        await value(log.truncate(4));
        expect((await value(log.query('snapshot', 'end', -1))).lastSnapshot).toEqual({ sequenceId: 4, blobId: 'new' });
        await value(log.setMetadata(4, { snapshot: undefined }));
        expect((await value(log.query('snapshot', 'end', -1))).lastSnapshot).toBeUndefined();
        expect((await value(log.query('snapshot', 'end'))).startSequenceId).toBe(4);
      });

      it('keeps every remaining entry intact whatever the truncation point', async () => {
        const entries = interleavedRuns(SPACE, 3, 5, 3);
        for (let at = 0; at <= entries.length; at += 2) {
          const log = await makeLog({ pageSize: 4 });
          await value(log.addEntries(entries, 0));
          await value(log.truncate(at));
          const all = await readAll(log);
          expect(all.start).toBe(at);
          expect(norm(all.entries)).toEqual(norm(entries.slice(at)));
        }
      });
    });

    it('behaves like the in-memory reference under random operation sequences', async () => {
      const pool = interleavedRuns(SPACE, 3, 40, 4);
      const metadata: fc.Arbitrary<LogMetadata> = fc.record(
        {
          snapshot: fc.option(fc.constantFrom('s-a', 's-b', 's-c'), { nil: undefined }),
          history: fc.option(fc.constantFrom('h-a', 'h-b'), { nil: undefined }),
          pending: fc.option(fc.constantFrom('snapshot' as const, 'history' as const), { nil: undefined }),
        },
        { requiredKeys: [] },
      );
      const seq = fc.integer({ min: -1, max: 60 });
      const op = fc.oneof(
        fc.record({
          op: fc.constant('add' as const),
          n: fc.integer({ min: 0, max: 9 }),
          skew: fc.constantFrom(0, 0, 0, -1, 1),
        }),
        fc.record({ op: fc.constant('meta' as const), at: seq, metadata }),
        fc.record({ op: fc.constant('truncate' as const), at: seq }),
        fc.record({
          op: fc.constant('query' as const),
          start: fc.oneof(seq, fc.constantFrom('start' as const, 'snapshot' as const)),
          end: fc.oneof(seq, fc.constant('end' as const)),
          snapshotId: fc.option(seq, { nil: undefined }),
        }),
      );
      const outcome = async (r: ResultAsync<unknown, { type: string }>) => {
        const result = await r;
        if (result.isErr()) return { err: result.error.type };
        const v = result.value as undefined | { entries?: FactEntry[] };
        if (v === undefined) return { ok: true };
        return { ok: v.entries === undefined ? v : { ...v, entries: norm(v.entries) } };
      };
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), fc.integer({ min: 2, max: 6 }), async (ops, pageSize) => {
          const log = await makeLog({ pageSize });
          const model = new MemoryEventLog<FactEntry>({ pageSize });
          let head = 0;
          for (const o of ops) {
            let got: unknown;
            let want: unknown;
            if (o.op === 'add') {
              const at = head + o.skew;
              const batch = pool.slice(head, head + o.n);
              want = await outcome(model.addEntries(batch, at));
              got = await outcome(log.addEntries(batch, at));
              if ((want as { err?: string }).err === undefined) head += batch.length;
            } else if (o.op === 'meta') {
              want = await outcome(model.setMetadata(o.at, o.metadata));
              got = await outcome(log.setMetadata(o.at, o.metadata));
            } else if (o.op === 'truncate') {
              want = await outcome(model.truncate(o.at));
              got = await outcome(log.truncate(o.at));
            } else {
              want = await outcome(model.query(o.start, o.end, o.snapshotId));
              got = await outcome(log.query(o.start, o.end, o.snapshotId));
            }
            expect(got, JSON.stringify(o)).toEqual(want);
          }
        }),
        { numRuns: 40 },
      );
    });
  });
}
