import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { PeerId } from '../../engine/facts/types.js';
import { CounterVector, OriginSlots } from '../../engine/sync/counter-vector.js';

const origin = (n: number) => `origin-${n}` as PeerId;

/** Counters of every width a vector widens through (a byte, 16 bits, 31 bits, doubles). */
const counters = fc.oneof(fc.nat(300), fc.nat(70_000), fc.nat(2 ** 33), fc.nat(2 ** 40));

describe('CounterVector', () => {
  it('reads like the Map it replaces, whatever the order of sets and advances', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(200), counters), { maxLength: 300 }), (ops) => {
        const slots = new OriginSlots();
        const vector = new CounterVector(slots);
        const model = new Map<PeerId, number>();
        for (const [raise, n, counter] of ops) {
          if (raise) {
            vector.advance(new Map([[origin(n), counter]]));
            if (counter > (model.get(origin(n)) ?? 0)) model.set(origin(n), counter);
          } else {
            vector.set(origin(n), counter);
            if (counter === 0) model.delete(origin(n));
            else model.set(origin(n), counter);
          }
        }
        expect(vector.size).toBe(model.size);
        expect(new Map(vector)).toEqual(model);
        for (let n = 0; n <= 200; n++) expect(vector.get(origin(n))).toBe(model.get(origin(n)));
      }),
    );
  });

  it('shares the slots of its space: vectors made before an origin was seen read it as absent', () => {
    const slots = new OriginSlots();
    const early = new CounterVector(slots, new Map([[origin(1), 3]]));
    const late = new CounterVector(slots, new Map([[origin(2), 5]]));
    expect(early.get(origin(2))).toBeUndefined();
    expect(late.get(origin(1))).toBeUndefined();
    early.set(origin(2), 7);
    expect([...early]).toEqual([
      [origin(1), 3],
      [origin(2), 7],
    ]);
    expect(slots.size).toBe(2);
  });

  it('stores a byte per origin while counters are small, and widens without losing any', () => {
    const slots = new OriginSlots();
    const vector = new CounterVector(slots);
    for (let n = 0; n < 1000; n++) vector.set(origin(n), 1 + (n % 255));
    const slotsHeld = vector.byteLength; // a byte each, grown by half at a time
    expect(slotsHeld).toBeGreaterThanOrEqual(1000);
    expect(slotsHeld).toBeLessThan(1600);
    const steps: [number, number][] = [
      [300, 2],
      [70_000, 4],
      [2 ** 31 - 1, 4],
      [2 ** 31, 8],
      [2 ** 40, 8],
    ];
    for (const [counter, width] of steps) {
      vector.advance(new Map([[origin(500), counter]]));
      expect(vector.get(origin(500))).toBe(counter);
      expect(vector.byteLength).toBe(slotsHeld * width);
      for (let n = 0; n < 1000; n++) if (n !== 500) expect(vector.get(origin(n))).toBe(1 + (n % 255));
    }
    vector.set(origin(999), 0);
    expect(vector.size).toBe(999);
  });
});
