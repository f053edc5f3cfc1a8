import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Fact, FactType, JsonObject, PeerId } from '../../engine/facts/types.js';
import { LwwState, type ItemRecord } from '../../engine/state/lww.js';
import { PendingOverlay } from '../../engine/state/overlay.js';
import { RegisterCache } from '../../engine/state/register-cache.js';
import { ViewCache } from '../../engine/state/view-cache.js';
import { viewOf } from '../../engine/state/view.js';

const ORIGINS = ['12D3KooWAAA', '12D3KooWBBB', '12D3KooWCCC'] as PeerId[];
const HASH = new Uint8Array(32);

let counters = new Map<PeerId, number>();

function fact(
  origin: PeerId,
  wall: number,
  logical: number,
  type: FactType,
  item: string,
  data?: JsonObject,
  collection = 'c',
): Fact {
  const counter = (counters.get(origin) ?? 0) + 1;
  counters.set(origin, counter);
  const base = {
    origin,
    counter,
    hlc: { wall, logical },
    collection,
    item,
    prev: counter === 1 ? null : HASH,
    hash: HASH,
  };
  return type === 'delete' ? { ...base, type } : { ...base, type, data: data ?? {} };
}

/** A record with its fields as a plain Map (a created item's fields are not one until changed). */
const plain = (record: ItemRecord | undefined) =>
  record === undefined ? undefined : { exists: record.exists, reset: record.reset, fields: new Map(record.fields) };

const stateOf = (facts: readonly Fact[]): LwwState => {
  const state = new LwwState();
  for (const f of facts) state.apply(f);
  return state;
};

/** Random facts over a few origins, items and fields, with small clocks so ties happen. */
const factsArb = fc
  .array(
    fc.record({
      origin: fc.constantFrom(...ORIGINS),
      wall: fc.integer({ min: 0, max: 12 }),
      logical: fc.integer({ min: 0, max: 2 }),
      type: fc.constantFrom<FactType>('create', 'update', 'update', 'update', 'delete'),
      collection: fc.constantFrom('c', 'd'),
      item: fc.constantFrom('i1', 'i2', 'i3'),
      field: fc.constantFrom('f1', 'f2', 'f3'),
      value: fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.boolean(), fc.constant(null)),
      extra: fc.option(fc.constantFrom('f1', 'f2', 'f3')),
    }),
    { maxLength: 40 },
  )
  .map((specs) => {
    counters = new Map();
    return specs.map((s) => {
      const data: JsonObject =
        s.type === 'create'
          ? { [s.field]: s.value, ...(s.extra !== null && s.extra !== s.field ? { [s.extra]: 1 } : {}) }
          : { [s.field]: s.value };
      return fact(s.origin, s.wall, s.logical, s.type, s.item, s.type === 'delete' ? undefined : data, s.collection);
    });
  });

describe('LWW state: merge laws (property, 1,000 runs each)', () => {
  it('any permutation and duplication of a fact set gives the same stateHash()', () => {
    fc.assert(
      fc.property(
        factsArb.chain((facts) =>
          fc.tuple(
            fc.constant(facts),
            fc.shuffledSubarray(facts, { minLength: facts.length, maxLength: facts.length }),
            fc.array(fc.nat({ max: Math.max(0, facts.length - 1) }), { maxLength: facts.length === 0 ? 0 : 20 }),
          ),
        ),
        ([facts, shuffled, dupes]) => {
          const withDupes = [...shuffled];
          for (const i of dupes) withDupes.splice((i * 7) % (withDupes.length + 1), 0, facts[i]!);
          expect(stateOf(withDupes).hash()).toBe(stateOf(facts).hash());
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a state that changes its records in place agrees with the pure steps, fact by fact', () => {
    fc.assert(
      fc.property(factsArb, fc.infiniteStream(fc.nat()), (facts, picks) => {
        // Any order: stale facts (which must change nothing) as well as winning ones. The shared
        // registers know a fact by its hash object: give each fact its own.
        const order = facts.map((f) => ({ ...f, hash: new Uint8Array(32) }));
        const it = picks[Symbol.iterator]();
        for (let i = order.length - 1; i > 0; i--) {
          const j = it.next().value! % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const inPlace = new LwwState();
        const pure = new LwwState(new RegisterCache());
        for (const f of order) {
          expect(inPlace.apply(f)).toBe(pure.apply(f));
          expect(plain(inPlace.record(f.collection, f.item))).toEqual(plain(pure.record(f.collection, f.item)));
        }
        expect(inPlace.hash()).toBe(pure.hash());
      }),
      { numRuns: 1000 },
    );
  });

  it('merge is commutative', () => {
    fc.assert(
      fc.property(factsArb, fc.nat(), (facts, cut) => {
        const k = facts.length === 0 ? 0 : cut % facts.length;
        const a = () => stateOf(facts.slice(0, k));
        const b = () => stateOf(facts.slice(k));
        const ab = a();
        ab.merge(b());
        const ba = b();
        ba.merge(a());
        expect(ab.hash()).toBe(ba.hash());
        // and merging states equals applying the union of their facts
        expect(ab.hash()).toBe(stateOf(facts).hash());
      }),
      { numRuns: 1000 },
    );
  });

  it('merge is associative', () => {
    fc.assert(
      fc.property(factsArb, fc.nat(), fc.nat(), (facts, x, y) => {
        const n = facts.length + 1;
        const [i, j] = [x % n, y % n].sort((p, q) => p - q) as [number, number];
        const parts = [facts.slice(0, i), facts.slice(i, j), facts.slice(j)];
        const left = stateOf(parts[0]!);
        left.merge(stateOf(parts[1]!));
        left.merge(stateOf(parts[2]!));
        const bc = stateOf(parts[1]!);
        bc.merge(stateOf(parts[2]!));
        const right = stateOf(parts[0]!);
        right.merge(bc);
        expect(left.hash()).toBe(right.hash());
      }),
      { numRuns: 1000 },
    );
  });

  it('merge is idempotent', () => {
    fc.assert(
      fc.property(factsArb, (facts) => {
        const a = stateOf(facts);
        const before = a.hash();
        a.merge(stateOf(facts));
        a.merge(a);
        expect(a.hash()).toBe(before);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('LWW state: rules', () => {
  const visible = (state: LwwState, item: string) => viewOf(item, state.record('c', item), undefined);

  it('breaks a tie (same wall and logical) by origin, whatever the order', () => {
    counters = new Map();
    const low = fact(ORIGINS[0]!, 10, 0, 'create', 'x', { v: 'from A' });
    const high = fact(ORIGINS[1]!, 10, 0, 'create', 'x', { v: 'from B' });
    expect(visible(stateOf([low, high]), 'x')).toEqual({ id: 'x', v: 'from B' });
    expect(visible(stateOf([high, low]), 'x')).toEqual({ id: 'x', v: 'from B' });
  });

  it('a delete beats a concurrent update, even one with a later stamp', () => {
    counters = new Map();
    const create = fact(ORIGINS[0]!, 1, 0, 'create', 'x', { v: 1 });
    const del = fact(ORIGINS[0]!, 5, 0, 'delete', 'x');
    const update = fact(ORIGINS[1]!, 6, 0, 'update', 'x', { v: 2 });
    for (const order of [
      [create, del, update],
      [update, del, create],
      [create, update, del],
    ]) {
      expect(visible(stateOf(order), 'x')).toBeUndefined();
    }
  });

  it('a later create restores the item with exactly its own fields', () => {
    counters = new Map();
    const create = fact(ORIGINS[0]!, 1, 0, 'create', 'x', { a: 1, b: 1 });
    const del = fact(ORIGINS[1]!, 2, 0, 'delete', 'x');
    const staleUpdate = fact(ORIGINS[2]!, 3, 0, 'update', 'x', { b: 2 });
    const recreate = fact(ORIGINS[0]!, 4, 0, 'create', 'x', { a: 9 });
    const later = fact(ORIGINS[1]!, 5, 0, 'update', 'x', { c: 3 });
    const facts = [create, del, staleUpdate, recreate, later];
    expect(visible(stateOf(facts), 'x')).toEqual({ id: 'x', a: 9, c: 3 });
    expect(visible(stateOf([...facts].reverse()), 'x')).toEqual({ id: 'x', a: 9, c: 3 });
    // without the re-create the delete holds
    expect(visible(stateOf([create, del, staleUpdate]), 'x')).toBeUndefined();
  });

  it('an update with a later stamp wins, with an earlier one loses', () => {
    counters = new Map();
    const create = fact(ORIGINS[0]!, 1, 0, 'create', 'x', { v: 0 });
    const early = fact(ORIGINS[1]!, 2, 0, 'update', 'x', { v: 'early' });
    const late = fact(ORIGINS[2]!, 3, 0, 'update', 'x', { v: 'late' });
    expect(visible(stateOf([create, late, early]), 'x')).toEqual({ id: 'x', v: 'late' });
  });
});

describe("pending overlay (Figma's rule)", () => {
  it('shows our pending value over a newer remote one, and the LWW winner once acknowledged', () => {
    counters = new Map();
    const [me, them] = [ORIGINS[0]!, ORIGINS[1]!];
    const create = fact(me, 1, 0, 'create', 'x', { title: 'milk' });
    const mine = fact(me, 2, 0, 'update', 'x', { title: 'oat milk' });
    const theirs = fact(them, 3, 0, 'update', 'x', { title: 'soy milk' });
    const state = stateOf([create, mine, theirs]);
    const overlay = new PendingOverlay();
    overlay.add(create);
    overlay.add(mine);
    expect(viewOf('x', state.record('c', 'x'), overlay.pending('c', 'x'))).toEqual({ id: 'x', title: 'oat milk' });
    expect(overlay.acknowledge(1).map((f) => f.counter)).toEqual([1]);
    expect(viewOf('x', state.record('c', 'x'), overlay.pending('c', 'x'))).toEqual({ id: 'x', title: 'oat milk' });
    overlay.acknowledge(2);
    expect(overlay.count).toBe(0);
    expect(viewOf('x', state.record('c', 'x'), overlay.pending('c', 'x'))).toEqual({ id: 'x', title: 'soy milk' });
  });

  it('shadows only the fields we wrote; a pending delete hides the item', () => {
    counters = new Map();
    const [me, them] = [ORIGINS[0]!, ORIGINS[1]!];
    const create = fact(them, 1, 0, 'create', 'x', { a: 1, b: 1 });
    const mine = fact(me, 2, 0, 'update', 'x', { a: 2 });
    const theirs = fact(them, 3, 0, 'update', 'x', { b: 3 });
    const theirsA = fact(them, 4, 0, 'update', 'x', { a: 4 });
    const state = stateOf([create, mine, theirs, theirsA]);
    const overlay = new PendingOverlay();
    overlay.add(mine);
    expect(viewOf('x', state.record('c', 'x'), overlay.pending('c', 'x'))).toEqual({ id: 'x', a: 2, b: 3 });
    const del = fact(me, 5, 0, 'delete', 'x');
    overlay.add(del);
    expect(viewOf('x', state.record('c', 'x'), overlay.pending('c', 'x'))).toBeUndefined();
    // never in the hash
    expect(stateOf([create, mine, theirs, theirsA]).hash()).toBe(state.hash());
  });

  it('rolls back writes that never became durable', () => {
    counters = new Map();
    const me = ORIGINS[0]!;
    const overlay = new PendingOverlay();
    const a = fact(me, 1, 0, 'create', 'x', { v: 1 });
    const b = fact(me, 2, 0, 'update', 'x', { v: 2 });
    overlay.add(a);
    overlay.add(b);
    expect(overlay.rollback(1).map((f) => f.counter)).toEqual([2]);
    expect(viewOf('x', undefined, overlay.pending('c', 'x'))).toEqual({ id: 'x', v: 1 });
  });

  it('an item whose pending facts all left takes new ones afresh (the item `add` took last is not kept)', () => {
    counters = new Map();
    const me = ORIGINS[0]!;
    const overlay = new PendingOverlay();
    overlay.add(fact(me, 1, 0, 'create', 'x', { v: 1 }));
    overlay.add(fact(me, 2, 0, 'update', 'x', { v: 2 }));
    overlay.acknowledge(2);
    expect(overlay.pending('c', 'x')).toBeUndefined();
    overlay.add(fact(me, 3, 0, 'update', 'x', { w: 3 }));
    expect(overlay.pending('c', 'x')?.fields).toEqual(new Map([['w', 3]]));
    expect(overlay.rollback(2).map((f) => f.counter)).toEqual([3]);
    expect(overlay.pending('c', 'x')).toBeUndefined();
    overlay.add(fact(me, 4, 0, 'update', 'x', { w: 4 }));
    expect(overlay.pending('c', 'x')?.fields).toEqual(new Map([['w', 4]]));
    // Same item name in another collection is another item.
    overlay.add(fact(me, 5, 0, 'update', 'x', { z: 5 }, 'd'));
    expect(overlay.pending('d', 'x')?.fields).toEqual(new Map([['z', 5]]));
    expect(overlay.pending('c', 'x')?.fields).toEqual(new Map([['w', 4]]));
  });
});

describe('pending overlay: acknowledging everything at once', () => {
  it('drops every pending fact in order, forgets every item, and takes new facts afresh', () => {
    counters = new Map();
    const me = ORIGINS[0]!;
    const overlay = new PendingOverlay();
    overlay.add(fact(me, 1, 0, 'create', 'x', { v: 1 }));
    overlay.add(fact(me, 2, 0, 'create', 'y', { v: 1 }, 'd'));
    overlay.add(fact(me, 3, 0, 'update', 'x', { v: 3 }));
    // Part first (the fact-by-fact path), then the rest in one step.
    expect(overlay.acknowledge(1).map((f) => f.counter)).toEqual([1]);
    overlay.add(fact(me, 4, 0, 'update', 'y', { w: 4 }, 'd'));
    expect(overlay.acknowledge(10).map((f) => f.counter)).toEqual([2, 3, 4]);
    expect(overlay.count).toBe(0);
    expect(overlay.oldest()).toBeUndefined();
    expect(overlay.all()).toEqual([]);
    expect([...overlay.items('c')]).toEqual([]);
    expect([...overlay.items('d')]).toEqual([]);
    expect(overlay.pending('c', 'x')).toBeUndefined();
    expect(overlay.pending('d', 'y')).toBeUndefined();
    expect(overlay.acknowledge(20)).toEqual([]);
    // The item `add` took last is forgotten too: a new fact on it starts a fold of its own.
    overlay.add(fact(me, 5, 0, 'update', 'y', { z: 5 }, 'd'));
    expect(overlay.pending('d', 'y')?.fields).toEqual(new Map([['z', 5]]));
    expect(overlay.rollback(4).map((f) => f.counter)).toEqual([5]);
    expect(overlay.pending('d', 'y')).toBeUndefined();
  });
});

describe('pending overlay: acknowledged facts leave their items lazily', () => {
  // A model: the pending facts are exactly our facts above the acknowledged counter and not rolled
  // back; each item's fold is theirs, and `items` lists the items that have any.
  const stepArb = fc.oneof(
    fc.record({
      kind: fc.constant('write' as const),
      item: fc.nat({ max: 5 }),
      col: fc.boolean(),
      field: fc.nat({ max: 2 }),
    }),
    fc.record({ kind: fc.constant('ack' as const), back: fc.nat({ max: 6 }) }),
    fc.record({ kind: fc.constant('rollback' as const), back: fc.nat({ max: 3 }) }),
  );

  it('pending, items, count and oldest match a model through writes, acks and rollbacks (property, 1,000 runs)', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        counters = new Map();
        const me = ORIGINS[0]!;
        const overlay = new PendingOverlay();
        let live: Fact[] = [];
        let made = 0;
        for (const step of steps) {
          if (step.kind === 'write') {
            // Counters continue after rolled-back ones, as the writer's do.
            counters.set(me, made);
            const f = fact(
              me,
              made + 1,
              0,
              'update',
              `i${step.item}`,
              { [`f${step.field}`]: made },
              step.col ? 'c' : 'd',
            );
            made = f.counter;
            live.push(f);
            overlay.add(f);
          } else if (step.kind === 'ack') {
            // Acknowledge up to a counter at or below the newest pending one.
            const to = live.length === 0 ? 0 : live[Math.max(0, live.length - 1 - step.back)]!.counter;
            const dropped = overlay.acknowledge(to);
            expect(dropped).toEqual(live.filter((f) => f.counter <= to));
            live = live.filter((f) => f.counter > to);
          } else {
            const keep =
              live.length <= step.back ? (live[0]?.counter ?? 1) - 1 : live[live.length - 1 - step.back]!.counter;
            const dropped = overlay.rollback(Math.max(keep, 0));
            expect(dropped.map((f) => f.counter)).toEqual(
              live
                .filter((f) => f.counter > keep)
                .map((f) => f.counter)
                .reverse(),
            );
            live = live.filter((f) => f.counter <= keep);
          }
          expect(overlay.count).toBe(live.length);
          expect(overlay.oldest()).toBe(live[0]);
          for (const col of ['c', 'd']) {
            const mine = live.filter((f) => f.collection === col);
            expect(new Set(overlay.items(col))).toEqual(new Set(mine.map((f) => f.item)));
            for (let i = 0; i <= 5; i++) {
              const onItem = mine.filter((f) => f.item === `i${i}`);
              const fields = new Map<string, unknown>();
              for (const f of onItem)
                for (const [k, v] of Object.entries((f as { data: JsonObject }).data)) fields.set(k, v);
              expect(overlay.pending(col, `i${i}`)?.fields).toEqual(onItem.length === 0 ? undefined : fields);
            }
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a peer that keeps writing new items while acks trail behind holds at most twice what was pending (and 1,024)', () => {
    counters = new Map();
    const me = ORIGINS[0]!;
    const overlay = new PendingOverlay();
    let acked = 0;
    let written = 0;
    let most = 0;
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 100; i++) overlay.add(fact(me, ++written, 0, 'create', `item-${written}`, { n: written }));
      // Acks trail 300 facts behind the writes.
      if (written > 300) acked += overlay.acknowledge(written - 300).length;
      most = Math.max(most, overlay.entries);
      expect(overlay.entries).toBeLessThanOrEqual(2 * 400 + 1024);
    }
    expect(acked).toBe(written - 300);
    expect(overlay.count).toBe(300);
    // The bound was reached and swept, not merely never approached.
    expect(most).toBeGreaterThan(1024);
    overlay.acknowledge(written);
    expect(overlay.entries).toBe(0);
  });

  it('a newcomer acknowledging a burst frame by frame empties the overlay at its last ack', () => {
    counters = new Map();
    const me = ORIGINS[0]!;
    const overlay = new PendingOverlay();
    for (let i = 1; i <= 20_000; i++) overlay.add(fact(me, i, 0, 'create', `item-${i}`, { n: i }));
    for (let to = 1_000; to < 20_000; to += 1_000) {
      expect(overlay.acknowledge(to)).toHaveLength(1_000);
      // Nothing swept: an entry goes when touched (one per round below), not per acknowledged fact.
      expect(overlay.entries).toBe(20_000 - (to / 1_000 - 1));
      expect(overlay.pending('c', `item-${to}`)).toBeUndefined();
      expect(overlay.pending('c', `item-${to + 1}`)?.exists).toBe(true);
    }
    expect([...overlay.items('c')]).toHaveLength(1_000);
    expect(overlay.acknowledge(20_000)).toHaveLength(1_000);
    expect(overlay.entries).toBe(0);
  });
});

describe('pending overlay: the view predicts the acknowledged state', () => {
  // Our pending facts are newer than everything in the registers (walls 100+): once they land,
  // the LWW state must show exactly what the overlay showed while they were pending, including a
  // re-create after a delete (which hides every older field) — and after any acknowledgement or
  // rollback, the view equals the registers with the remaining facts on top.
  const opArb = fc.record({
    kind: fc.constantFrom('create', 'update', 'update', 'update', 'delete'),
    field: fc.constantFrom('f1', 'f2', 'f3'),
    value: fc.integer({ min: 0, max: 9 }),
  });

  it('while pending, after acks and after rollbacks (property, 1,000 runs)', () => {
    fc.assert(
      fc.property(
        factsArb,
        fc.array(opArb, { maxLength: 30 }),
        fc.nat(),
        fc.nat(),
        (remote, ops, ackAt, rollbackAt) => {
          counters = new Map();
          const me = ORIGINS[0]!;
          const base = remote.filter((f) => f.collection === 'c' && f.item === 'i1' && f.origin !== me);
          const overlay = new PendingOverlay();
          const mine: Fact[] = [];
          let visible = viewOf('i1', stateOf(base).record('c', 'i1'), undefined) !== undefined;
          let wall = 100;
          for (const op of ops) {
            // Only what the API lets a caller write: create when invisible, update/delete when visible.
            const kind = visible ? (op.kind === 'create' ? 'update' : op.kind) : 'create';
            const f = fact(me, wall++, 0, kind, 'i1', kind === 'delete' ? undefined : { [op.field]: op.value });
            mine.push(f);
            overlay.add(f);
            visible = kind !== 'delete';
            expect(viewOf('i1', stateOf([...base, ...mine]).record('c', 'i1'), undefined)).toEqual(
              viewOf('i1', stateOf(base).record('c', 'i1'), overlay.pending('c', 'i1')),
            );
          }
          const acked = mine.length === 0 ? 0 : mine[ackAt % mine.length]!.counter;
          overlay.acknowledge(acked);
          const landed = mine.filter((f) => f.counter <= acked);
          expect(viewOf('i1', stateOf([...base, ...landed]).record('c', 'i1'), overlay.pending('c', 'i1'))).toEqual(
            viewOf('i1', stateOf([...base, ...mine]).record('c', 'i1'), undefined),
          );
          const keep = mine.length === 0 ? 0 : Math.max(acked, mine[rollbackAt % mine.length]!.counter);
          overlay.rollback(keep);
          expect(viewOf('i1', stateOf([...base, ...landed]).record('c', 'i1'), overlay.pending('c', 'i1'))).toEqual(
            viewOf('i1', stateOf([...base, ...mine.filter((f) => f.counter <= keep)]).record('c', 'i1'), undefined),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('pending overlay: many pending facts on one item', () => {
  it('acknowledged from the front in steps, rolled back from the back: the fold is always the remaining facts', () => {
    counters = new Map();
    const me = ORIGINS[0]!;
    const overlay = new PendingOverlay();
    const facts: Fact[] = [fact(me, 1, 0, 'create', 'x', { f0: 0 })];
    for (let i = 1; i < 500; i++) facts.push(fact(me, 1 + i, 0, 'update', i % 3 === 0 ? 'y' : 'x', { [`u${i}`]: i }));
    for (const f of facts) overlay.add(f);
    // The fold of an item is the last value per field among the facts still pending on it.
    const expected = (item: string, from: number, to: number): Record<string, unknown> => {
      const fields: Record<string, unknown> = {};
      for (const f of facts.slice(from, to)) if (f.item === item && f.type !== 'delete') Object.assign(fields, f.data);
      return fields;
    };
    let acked = 0;
    for (const step of [1, 2, 3, 50, 7, 100, 64, 65]) {
      const dropped = overlay.acknowledge(acked + step);
      expect(dropped.map((f) => f.counter)).toEqual(facts.slice(acked, acked + step).map((f) => f.counter));
      acked += step;
      expect(overlay.count).toBe(facts.length - acked);
      for (const item of ['x', 'y']) {
        expect(Object.fromEntries(overlay.pending('c', item)?.fields ?? new Map())).toEqual(
          expected(item, acked, facts.length),
        );
      }
    }
    const rolledBack = overlay.rollback(acked + 10);
    expect(rolledBack).toHaveLength(facts.length - acked - 10);
    for (const item of ['x', 'y']) {
      expect(Object.fromEntries(overlay.pending('c', item)?.fields ?? new Map())).toEqual(
        expected(item, acked, acked + 10),
      );
    }
    overlay.acknowledge(acked + 10);
    expect(overlay.count).toBe(0);
    expect(overlay.pending('c', 'x')).toBeUndefined();
    expect(overlay.pending('c', 'y')).toBeUndefined();
    expect([...overlay.items('c')]).toEqual([]);
  });
});

describe('updates of an item with many fields', () => {
  it('change the record in place when the state shares no records: one field map, not a copy per update', () => {
    counters = new Map();
    const state = new LwwState();
    state.apply(fact(ORIGINS[0]!, 1, 0, 'create', 'big', {}));
    // A created item's fields are the create's data until the first update makes them a map of
    // their own (see the next test); from then on every update changes that map.
    expect(state.apply(fact(ORIGINS[0]!, 2, 0, 'update', 'big', { f0: -1 }))).toBe(true);
    const fields = state.record('c', 'big')!.fields;
    expect(fields).toBeInstanceOf(Map);
    // Copying the map per update made 100,000 updates of a 1,000-field item quadratic (the
    // local-writes bench fell from 126k to 4k writes/s).
    for (let i = 0; i < 2_000; i++) {
      expect(state.apply(fact(ORIGINS[0]!, 2 + i, 0, 'update', 'big', { [`f${i % 1000}`]: i }))).toBe(true);
    }
    const record = state.record('c', 'big')!;
    expect(record.fields).toBe(fields);
    expect(record.fields.size).toBe(1000);
    expect(record.fields.get('f7')?.value).toBe(1007);
    // An older write changes nothing and says so.
    expect(state.apply(fact(ORIGINS[1]!, 1, 0, 'update', 'big', { f7: -1 }))).toBe(false);
    expect(state.record('c', 'big')!.fields.get('f7')?.value).toBe(1007);
  });
});

describe("a created item's fields", () => {
  it('read as registers from the create, the same objects each time, and become a map of their own only when changed', () => {
    counters = new Map();
    const state = new LwwState();
    const created = fact(ORIGINS[0]!, 5, 0, 'create', 'x', { a: 1, b: 'two', c: null });
    expect(state.apply(created)).toBe(true);
    const fields = state.record('c', 'x')!.fields;
    expect(fields).not.toBeInstanceOf(Map);
    expect(fields.size).toBe(3);
    const a = fields.get('a');
    expect(a).toEqual({ value: 1, stamp: { wall: 5, logical: 0, origin: ORIGINS[0], counter: created.counter } });
    expect(fields.get('a')).toBe(a);
    expect(fields.has('c')).toBe(true);
    expect(fields.has('d')).toBe(false);
    expect([...fields.keys()]).toEqual(['a', 'b', 'c']);
    expect([...fields].map(([k, r]) => [k, r.value])).toEqual([
      ['a', 1],
      ['b', 'two'],
      ['c', null],
    ]);
    const seen: string[] = [];
    fields.forEach((reg, key, map) => {
      expect(map).toBe(fields);
      seen.push(`${key}=${JSON.stringify(reg.value)}`);
    });
    expect(seen).toEqual(['a=1', 'b="two"', 'c=null']);
    expect(viewOf('x', state.record('c', 'x'), undefined)).toEqual({ id: 'x', a: 1, b: 'two', c: null });
    // Same registers, same hash as a state that built them from the fact some other way (a draft).
    const other = new LwwState();
    other.apply(fact(ORIGINS[1]!, 1, 0, 'update', 'x', { a: 0 }));
    other.apply(created);
    expect(other.record('c', 'x')!.fields).toBeInstanceOf(Map);
    expect(other.hash()).toBe(state.hash());
    // An older update changes nothing; a newer one changes the record's own map, not the create.
    expect(state.apply(fact(ORIGINS[1]!, 1, 0, 'update', 'x', { a: -1 }))).toBe(false);
    expect(state.apply(fact(ORIGINS[1]!, 9, 0, 'update', 'x', { b: 'three' }))).toBe(true);
    expect(state.record('c', 'x')!.fields).toBeInstanceOf(Map);
    expect(fields.get('b')?.value).toBe('two');
    expect(viewOf('x', state.record('c', 'x'), undefined)).toEqual({ id: 'x', a: 1, b: 'three', c: null });
  });
});

describe('view cache', () => {
  it('after an update of ours it knows the item is visible, rebuilds its view, and forgets on any other change', () => {
    counters = new Map();
    const [me, them] = [ORIGINS[0]!, ORIGINS[1]!];
    const state = new LwwState();
    const overlay = new PendingOverlay();
    const views = new ViewCache(state, overlay);
    state.apply(fact(them, 1, 0, 'create', 'x', { v: 1 }));
    expect(views.view('c', 'x')).toEqual({ id: 'x', v: 1 });
    overlay.add(fact(me, 2, 0, 'update', 'x', { v: 2 }));
    views.invalidate('c', 'x', true);
    expect(views.isVisible('c', 'x')).toBe(true);
    expect(views.view('c', 'x')).toEqual({ id: 'x', v: 2 }); // rebuilt, not the stale view
    expect(views.all('c')).toEqual([{ id: 'x', v: 2 }]);
    overlay.add(fact(me, 3, 0, 'update', 'x', { v: 3 }));
    views.invalidate('c', 'x', true);
    expect(views.all('c')).toEqual([{ id: 'x', v: 3 }]);
    // A delete from elsewhere becomes durable: an ordinary invalidation drops what the cache knew.
    state.apply(fact(them, 4, 0, 'delete', 'x'));
    overlay.acknowledge(3);
    views.invalidate('c', 'x');
    expect(views.isVisible('c', 'x')).toBe(false);
    expect(views.view('c', 'x')).toBeUndefined();
    // An item the cache has never seen, marked by an update: visible, and its view is built.
    state.apply(fact(them, 5, 0, 'create', 'y', { w: 1 }));
    views.invalidate('c', 'y', true);
    expect(views.isVisible('c', 'y')).toBe(true);
    expect(views.view('c', 'y')).toEqual({ id: 'y', w: 1 });
  });
});
