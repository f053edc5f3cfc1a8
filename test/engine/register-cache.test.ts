/**
 * Item records shared between replicas (`RegisterCache`, what a SimNetwork's peers use): the same
 * states as replicas that compute every record themselves, records that never change once handed
 * out, and one record object for all the replicas that took the same steps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Fact, JsonObject, PeerId } from '../../engine/facts/types.js';
import { LwwState } from '../../engine/state/lww.js';
import { RegisterCache } from '../../engine/state/register-cache.js';

const ORIGINS = ['12D3KooWAAA', '12D3KooWBBB', '12D3KooWCCC'] as PeerId[];

/**
 * A fact with its own hash object, as every real fact has (the writer or the chain of a received
 * run computes one per fact); its bytes do not matter here.
 */
function fact(
  origin: PeerId,
  counter: number,
  wall: number,
  type: Fact['type'],
  item: string,
  data?: JsonObject,
): Fact {
  const base = {
    origin,
    counter,
    hlc: { wall, logical: 0 },
    collection: 'c',
    item,
    prev: null,
    hash: new Uint8Array(32),
  };
  return type === 'delete' ? { ...base, type } : { ...base, type, data: data ?? {} };
}

const replicas = (n: number, registers?: RegisterCache): LwwState[] =>
  Array.from({ length: n }, () => new LwwState(registers));

/** Random facts over a few origins, items and fields, small clocks so ties happen. */
const factsArb = fc
  .array(
    fc.record({
      origin: fc.constantFrom(...ORIGINS),
      wall: fc.integer({ min: 0, max: 8 }),
      type: fc.constantFrom<Fact['type']>('create', 'update', 'update', 'delete'),
      item: fc.constantFrom('i1', 'i2'),
      field: fc.constantFrom('f1', 'f2'),
      value: fc.integer({ min: 0, max: 3 }),
    }),
    { maxLength: 24 },
  )
  .map((specs) => specs.map((s, i) => fact(s.origin, i + 1, s.wall, s.type, s.item, { [s.field]: s.value })));

describe('RegisterCache: replicas sharing item records', () => {
  it('gives every replica the state it would compute alone, whatever order each applies the facts in (property, 300 runs)', () => {
    fc.assert(
      fc.property(factsArb, fc.array(fc.integer(), { minLength: 3, maxLength: 3 }), (facts, seeds) => {
        const registers = new RegisterCache();
        const shared = replicas(3, registers);
        const alone = replicas(3);
        seeds.forEach((seed, k) => {
          // Each replica its own arrival order, duplicates included.
          const order = [...facts, ...facts.slice(0, seed % 4)].sort(
            (a, b) => ((a.counter * 7919 + seed) % 97) - ((b.counter * 7919 + seed) % 97),
          );
          for (const f of order) {
            expect(shared[k]!.apply(f)).toBe(alone[k]!.apply(f));
          }
          expect(shared[k]!.hash()).toBe(alone[k]!.hash());
          expect(shared[k]!.itemCount).toBe(alone[k]!.itemCount);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('hands every replica that took the same steps one record object', () => {
    const registers = new RegisterCache();
    const [a, b] = replicas(2, registers);
    const facts = [
      fact(ORIGINS[0]!, 1, 1, 'create', 'i1', { title: 'milk' }),
      fact(ORIGINS[1]!, 1, 2, 'update', 'i1', { done: true }),
    ];
    for (const f of facts) a!.apply(f);
    for (const f of facts) b!.apply(f);
    expect(b!.record('c', 'i1')).toBe(a!.record('c', 'i1'));
    expect(registers.encoding(b!.record('c', 'i1')!)).toBe(registers.encoding(a!.record('c', 'i1')!));
  });

  it('never changes a record once handed out: one replica moving on leaves the others (and old reads) as they were', () => {
    const registers = new RegisterCache();
    const [a, b] = replicas(2, registers);
    const create = fact(ORIGINS[0]!, 1, 1, 'create', 'i1', { title: 'milk', n: 1 });
    a!.apply(create);
    b!.apply(create);
    const held = a!.record('c', 'i1')!;
    const hashBefore = a!.hash();
    // b alone learns an update, a newer create (which drops older fields) and a delete.
    b!.apply(fact(ORIGINS[1]!, 1, 2, 'update', 'i1', { title: 'oat milk' }));
    b!.apply(fact(ORIGINS[1]!, 2, 3, 'create', 'i1', { other: true }));
    b!.apply(fact(ORIGINS[2]!, 1, 4, 'delete', 'i1'));
    expect(a!.record('c', 'i1')).toBe(held);
    expect([...held.fields].map(([field, reg]) => [field, reg.value])).toEqual([
      ['title', 'milk'],
      ['n', 1],
    ]);
    expect(held.exists?.value).toBe(true);
    expect(a!.hash()).toBe(hashBefore);
    expect(b!.record('c', 'i1')!.exists?.value).toBe(false);
    expect([...b!.record('c', 'i1')!.fields.keys()]).toEqual(['other']);
  });
});
