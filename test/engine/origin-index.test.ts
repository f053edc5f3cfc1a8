import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { PeerId } from '../../engine/facts/types.js';
import { OriginIndex } from '../../engine/log/origin-index.js';
import { OriginSlots } from '../../engine/log/origin-slots.js';

/** The index as a plain table: one sequence id per counter (what OriginIndex kept before it kept stretches). */
class Model {
  readonly byOrigin = new Map<PeerId, { first: number; seqs: number[] }>();
  add(origin: PeerId, counter: number, seq: number): void {
    const e = this.byOrigin.get(origin);
    if (e === undefined || counter > e.first + e.seqs.length)
      this.byOrigin.set(origin, { first: counter, seqs: [seq] });
    else if (counter === e.first + e.seqs.length) e.seqs.push(seq);
  }
  seqOf(origin: PeerId, counter: number): number | undefined {
    const e = this.byOrigin.get(origin);
    return e === undefined ? undefined : e.seqs[counter - e.first];
  }
  dropBefore(seq: number): void {
    for (const [origin, e] of this.byOrigin) {
      let cut = 0;
      while (cut < e.seqs.length && e.seqs[cut]! < seq) cut++;
      if (cut === e.seqs.length) this.byOrigin.delete(origin);
      else if (cut > 0) this.byOrigin.set(origin, { first: e.first + cut, seqs: e.seqs.slice(cut) });
    }
  }
}

const origins = ['a', 'b', 'c'] as PeerId[];

describe('OriginIndex', () => {
  it('answers as a table of every sequence id would, through appends, jumps and truncation', () => {
    // A log appended in order: each step appends a fact of one origin (its next counter, or a jump
    // past facts a snapshot brought, or a stale counter that must change nothing), or truncates it.
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('append' as const),
        origin: fc.nat(2),
        jump: fc.oneof(fc.constant(0), fc.nat(5), fc.integer({ min: -3, max: -1 })),
      }),
      fc.record({ kind: fc.constant('truncate' as const), back: fc.nat(30) }),
    );
    fc.assert(
      fc.property(fc.constantFrom(0, 2 ** 31 - 60), fc.array(step, { maxLength: 200 }), (base, steps) => {
        // Slots the space handed out to other origins first: the index reads its origins' own.
        const slots = new OriginSlots();
        for (const other of ['x', 'y'] as PeerId[]) slots.slot(other);
        const index = new OriginIndex(slots);
        const model = new Model();
        const next = new Map<PeerId, number>();
        // From `base` on, counters and sequence ids pass 2^31 − 1 on the way (the index widens).
        let seq = base;
        for (const s of steps) {
          if (s.kind === 'truncate') {
            const cut = Math.max(base, seq - s.back);
            index.dropBefore(cut);
            model.dropBefore(cut);
            continue;
          }
          const origin = origins[s.origin]!;
          const counter = Math.max(base + 1, (next.get(origin) ?? base + 1) + s.jump);
          index.add(origin, counter, seq);
          model.add(origin, counter, seq);
          seq++;
          if (counter >= (next.get(origin) ?? base + 1)) next.set(origin, counter + 1);
        }
        for (const origin of origins) {
          expect(index.first(origin)).toBe(model.byOrigin.get(origin)?.first);
          for (let c = base; c <= (next.get(origin) ?? base + 1) + 1; c++)
            expect(index.seqOf(origin, c)).toBe(model.seqOf(origin, c));
        }
        expect(index.starts()).toEqual(new Map([...model.byOrigin].map(([o, e]) => [o, e.first])));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps one stretch for an origin whose facts sit one after another', () => {
    const index = new OriginIndex();
    const origin = 'solo' as PeerId;
    for (let c = 1; c <= 100_000; c++) index.add(origin, c, c + 6);
    expect(index.seqOf(origin, 1)).toBe(7);
    expect(index.seqOf(origin, 100_000)).toBe(100_006);
    expect(index.seqOf(origin, 100_001)).toBeUndefined();
    index.dropBefore(50_006);
    expect(index.first(origin)).toBe(50_000);
    expect(index.seqOf(origin, 49_999)).toBeUndefined();
    expect(index.seqOf(origin, 50_000)).toBe(50_006);
  });

  it('holds counters and sequence ids past 32 bits', () => {
    const index = new OriginIndex();
    const big = 2 ** 31 - 2;
    for (let k = 0; k < 5; k++) index.add('a' as PeerId, big + k, big + 10 + k);
    index.add('b' as PeerId, 2 ** 40, 2 ** 33);
    for (let k = 0; k < 5; k++) expect(index.seqOf('a' as PeerId, big + k)).toBe(big + 10 + k);
    expect(index.seqOf('b' as PeerId, 2 ** 40)).toBe(2 ** 33);
    index.dropBefore(big + 12);
    expect(index.first('a' as PeerId)).toBe(big + 2);
    expect(index.seqOf('a' as PeerId, big + 2)).toBe(big + 12);
  });
});
