/**
 * The canonical key order of objects (fact data, state hashes) is `Array.prototype.sort`'s: sorting
 * a few keys by insertion instead (to spare V8's sort its allocations) must not move a single byte.
 * Model tests against the old sort, on both sides of the insertion-sort cutoff (16).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reader, Writer } from '../../engine/facts/bytes.js';
import { readJson, sortKeys, writeJson } from '../../engine/facts/json.js';
import { sorted } from '../../engine/state/lww.js';

/** Distinct keys: short, with shared prefixes, non-ASCII and astral characters (surrogate pairs). */
const keyChar = fc.constantFrom('a', 'b', 'B', '_', '0', 'é', 'ß', '中', '\u{1F600}', '\u{FFFF}', '\u{10000}');
const key = fc.array(keyChar, { minLength: 0, maxLength: 4 }).map((chars) => chars.join(''));
const keySets = fc.uniqueArray(key, { minLength: 0, maxLength: 40 });

describe('canonical key order', () => {
  it('sortKeys orders like Array.prototype.sort, under and over 16 keys (property, 2,000 runs)', () => {
    fc.assert(
      fc.property(keySets, (keys) => {
        expect(sortKeys([...keys])).toEqual([...keys].sort());
      }),
      { numRuns: 2000 },
    );
  });

  it('the state-hash entry sort orders like the old comparator sort (property, 2,000 runs)', () => {
    fc.assert(
      fc.property(keySets, (keys) => {
        const entries = keys.map((k, i): [string, number] => [k, i]);
        const old = [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        expect(sorted(new Map(entries).entries())).toEqual(old);
      }),
      { numRuns: 2000 },
    );
  });

  it('writeJson encodes an object with its keys in the old order, whatever their insertion order', () => {
    fc.assert(
      fc.property(
        keySets.filter((keys) => !keys.includes('__proto__')),
        fc.integer(),
        (keys, seed) => {
          const shuffled = [...keys].sort((a, b) => ((hash(a) ^ seed) >>> 0) - ((hash(b) ^ seed) >>> 0));
          const obj: Record<string, number> = {};
          shuffled.forEach((k, i) => (obj[k] = i));
          const w = new Writer();
          expect(writeJson(w, obj)).toBeUndefined();
          // Expected bytes: the object written field by field in `sort()` order.
          const expected = new Writer();
          expected.u8(7).uvarint(keys.length);
          for (const k of [...keys].sort()) {
            expected.string(k);
            writeJson(expected, obj[k]);
          }
          expect(w.view()).toEqual(expected.view());
          // And the reader, which refuses keys out of order, takes it back.
          expect(readJson(new Reader(w.view()))).toEqual(obj);
        },
      ),
      { numRuns: 500 },
    );
  });
});

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h;
}
