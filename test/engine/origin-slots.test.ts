import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { PeerId } from '../../engine/facts/types.js';
import { OriginNumbers, OriginSlots, SlotMap } from '../../engine/log/origin-slots.js';
import { OriginDirectory, OriginKeyCache, originKey } from '../../engine/sync/origin-key.js';

const origin = (n: number) => `origin-${n}` as PeerId;

describe('SlotMap', () => {
  it('reads like a Map whatever the order of sets, with slots handed out elsewhere too', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(50), fc.nat(1000)), { maxLength: 200 }), (ops) => {
        const slots = new OriginSlots();
        const map = new SlotMap<number>(slots);
        const model = new Map<PeerId, number>();
        for (const [elsewhere, n, value] of ops) {
          if (elsewhere)
            slots.slot(origin(n)); // another table of the space took a slot first
          else {
            map.set(origin(n), value);
            model.set(origin(n), value);
          }
        }
        expect(map.size).toBe(model.size);
        expect(new Map(map)).toEqual(model);
        expect(new Set(map.keys())).toEqual(new Set(model.keys()));
        expect([...map.values()].sort()).toEqual([...model.values()].sort());
        for (let n = 0; n <= 50; n++) {
          expect(map.get(origin(n))).toBe(model.get(origin(n)));
          expect(map.has(origin(n))).toBe(model.has(origin(n)));
        }
      }),
    );
  });
});

describe('OriginDirectory sharing keys (the simulator)', () => {
  it('resolves only the origins this directory knows, though the way back from keys is shared', () => {
    const shared = new OriginKeyCache();
    const a = new OriginDirectory(shared);
    const b = new OriginDirectory(shared);
    a.add(origin(1));
    a.add(origin(2));
    b.add(origin(2));
    b.add(origin(3));
    expect(a.slots).not.toBe(b.slots); // the order vectors go out in stays each replica's own
    const wire = new Map([origin(1), origin(2), origin(3), origin(4)].map((o, i) => [originKey(o), i + 1]));
    const unknownToB: string[] = [];
    expect(b.resolve(wire, (key) => unknownToB.push(key))).toEqual(
      new Map([
        [origin(2), 2],
        [origin(3), 3],
      ]),
    );
    expect(unknownToB).toEqual([originKey(origin(1)), originKey(origin(4))]);
    expect(a.resolve(wire)).toEqual(
      new Map([
        [origin(1), 1],
        [origin(2), 2],
      ]),
    );
    expect([a.size, b.size]).toEqual([2, 2]);
    expect([a.has(origin(3)), b.has(origin(1))]).toEqual([false, false]);
    // What one directory learns later, another that shares the cache does not know by it.
    b.add(origin(4));
    expect(a.resolve(wire).has(origin(4))).toBe(false);
    expect(b.resolve(wire).get(origin(4))).toBe(4);
  });
});

describe('OriginSlots over shared numbers', () => {
  it('hands out the slots a replica of its own would, in its own order, whatever others take', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), fc.boolean(), fc.nat(60)), { maxLength: 300 }), (ops) => {
        const numbers = new OriginNumbers();
        const shared = [new OriginSlots(numbers), new OriginSlots(numbers), new OriginSlots(numbers)];
        const own = [new OriginSlots(), new OriginSlots(), new OriginSlots()];
        for (const [replica, take, n] of ops) {
          if (take) expect(shared[replica]!.slot(origin(n))).toBe(own[replica]!.slot(origin(n)));
          else expect(shared[replica]!.find(origin(n))).toBe(own[replica]!.find(origin(n)));
        }
        for (let r = 0; r < 3; r++) {
          expect(shared[r]!.size).toBe(own[r]!.size);
          for (let slot = 0; slot < own[r]!.size; slot++)
            expect(shared[r]!.originAt(slot)).toBe(own[r]!.originAt(slot));
          for (let n = 0; n <= 60; n++) expect(shared[r]!.find(origin(n))).toBe(own[r]!.find(origin(n)));
        }
      }),
    );
  });
});
