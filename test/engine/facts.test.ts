import { PeerCache } from '../../engine/peer/cache.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../engine/env.js';
import { Reader, toHex, Writer } from '../../engine/facts/bytes.js';
import { canonicalBytes, computeHash, sealFact } from '../../engine/facts/codec.js';
import { sha256 } from '../../engine/facts/hash.js';
import { readJson, writeJson } from '../../engine/facts/json.js';
import { HlcClock } from '../../engine/facts/hlc.js';
import {
  createSigner,
  identityFromSeed,
  originOf,
  SignatureCache,
  SignatureVerifier,
} from '../../engine/facts/sign.js';
import type { PeerId, UnhashedFact } from '../../engine/facts/types.js';
import { decodeEntry, decodeEntryBody, encodeEntry, encodeEntryBody } from '../../engine/log/entry-codec.js';
import type { FactEntry } from '../../engine/log/fact-entry.js';
import { unwrap } from '../support/peers.js';

/** The identity made from 32 bytes of 7: a fixed origin for the vectors. */
const ORIGIN = '12D3KooWRawPbxPtP1eZaJpumGnyWX2DcUyd3RQnydr3eAto4Az7' as PeerId;

const hex = (...parts: string[]): string => parts.join('').replace(/\s+/g, '');
const ascii = (s: string): string => toHex(new TextEncoder().encode(s));

const createFact: UnhashedFact = {
  origin: ORIGIN,
  counter: 1,
  hlc: { wall: 1_700_000_000_123, logical: 0 },
  type: 'create',
  collection: 'items',
  item: 'a1',
  // Keys deliberately out of order: the encoding sorts them.
  data: { title: 'milk ü', qty: 2, price: 1.5, tags: ['x', null, true], nested: { b: -3, a: false } },
  prev: null,
};

describe('canonical encoding (test vectors)', () => {
  it('encodes a create exactly as the format says', () => {
    const expected = hex(
      '01', // version
      '09',
      ascii('groceries'), // space
      '34',
      ascii(ORIGIN), // origin (52 chars)
      '01', // counter 1
      'fbd095ffbc31', // wall 1,700,000,000,123 as a varint
      '00', // logical
      '01', // create
      '05',
      ascii('items'),
      '02',
      ascii('a1'),
      '07',
      '05', // object with 5 keys, sorted:
      '06',
      ascii('nested'),
      '07',
      '02',
      '01',
      ascii('a'),
      '01',
      '01',
      ascii('b'),
      '03',
      '05', // {a:false, b:-3 (zigzag 5)}
      '05',
      ascii('price'),
      '04',
      '3ff8000000000000', // float64 1.5
      '03',
      ascii('qty'),
      '03',
      '04', // int 2 (zigzag 4)
      '04',
      ascii('tags'),
      '06',
      '03',
      '05',
      '01',
      ascii('x'),
      '00',
      '02', // ['x', null, true]
      '05',
      ascii('title'),
      '05',
      '07',
      ascii('milk ü'), // UTF-8, 7 bytes
      '00', // prev: none
    );
    expect(toHex(unwrap(canonicalBytes('groceries', createFact)))).toBe(expected);
  });

  it('hashes to the same SHA-256 on every run, with node:crypto and with @noble/hashes', () => {
    const bytes = unwrap(canonicalBytes('groceries', createFact));
    const hash = unwrap(computeHash('groceries', createFact));
    expect(toHex(hash)).toBe('1dda19d1ffc808e570e238a234551f2c0bfeb822a7b086f8902e1c93011eb2ca');
    expect(toHex(nobleSha256(bytes))).toBe(toHex(hash));
    expect(toHex(sha256(bytes))).toBe(toHex(hash));
  });

  it('encodes an update and a delete with prev links', () => {
    const prev = unwrap(computeHash('groceries', createFact));
    const update: UnhashedFact = {
      ...createFact,
      counter: 2,
      hlc: { wall: 1_700_000_000_123, logical: 1 },
      type: 'update',
      data: { qty: 3 },
      prev,
    };
    expect(toHex(unwrap(canonicalBytes('groceries', update)))).toBe(
      hex(
        '01',
        '09',
        ascii('groceries'),
        '34',
        ascii(ORIGIN),
        '02',
        'fbd095ffbc31',
        '01',
        '02',
        '05',
        ascii('items'),
        '02',
        ascii('a1'),
        '03',
        ascii('qty'),
        '03',
        '06',
        '01',
        toHex(prev),
      ),
    );
    const del = {
      origin: ORIGIN,
      counter: 3,
      hlc: { wall: 5, logical: 0 },
      type: 'delete',
      collection: 'items',
      item: 'a1',
      prev,
    } as UnhashedFact;
    expect(toHex(unwrap(canonicalBytes('groceries', del)))).toBe(
      hex(
        '01',
        '09',
        ascii('groceries'),
        '34',
        ascii(ORIGIN),
        '03',
        '05',
        '00',
        '03',
        '05',
        ascii('items'),
        '02',
        ascii('a1'),
        '01',
        toHex(prev),
      ),
    );
  });

  it('depends on the space id, so a fact cannot be replayed into another space', () => {
    expect(toHex(unwrap(computeHash('a', createFact)))).not.toBe(toHex(unwrap(computeHash('b', createFact))));
  });

  it('encodes the space and origin of each fact, whatever was encoded before it (property)', () => {
    // Encoders keep the prefix (version, space, origin) of the last fact in place: it must never leak.
    const lengthHex = (s: string): string => s.length.toString(16).padStart(2, '0');
    const prefix = (space: string, origin: string): string =>
      hex('01', lengthHex(space), ascii(space), lengthHex(origin), ascii(origin));
    const rest = toHex(unwrap(canonicalBytes('groceries', createFact))).slice(prefix('groceries', ORIGIN).length);
    const origins = [ORIGIN, `${ORIGIN.slice(0, -1)}8`, '12D3KooWShort'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('g', 'gr', 'groceries', 'x'), fc.constantFrom(...origins)), {
          maxLength: 12,
        }),
        (sequence) => {
          for (const [space, origin] of sequence) {
            const fact = { ...createFact, origin: origin as PeerId };
            expect(toHex(unwrap(canonicalBytes(space, fact)))).toBe(prefix(space, origin) + rest);
            expect(toHex(unwrap(computeHash(space, fact)))).toBe(toHex(sha256(unwrap(canonicalBytes(space, fact)))));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same bytes whatever the key order of the data (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== 'id' && k !== '__proto__'),
          fc.jsonValue(),
          { maxKeys: 6 },
        ),
        (data) => {
          const reversed = Object.fromEntries(Object.entries(data).reverse());
          const a = canonicalBytes('s', { ...createFact, data } as UnhashedFact);
          const b = canonicalBytes('s', { ...createFact, data: reversed } as UnhashedFact);
          expect(a.isOk()).toBe(b.isOk());
          if (a.isOk() && b.isOk()) expect(toHex(a.value)).toBe(toHex(b.value));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('JSON values', () => {
  const withValue = (value: unknown) =>
    sealFact('s', { ...createFact, type: 'update', data: { v: value } } as unknown as UnhashedFact);
  const sparse: unknown[] = [1];
  sparse[2] = 3;
  class Thing {
    x = 1;
  }
  let deep: unknown = 1;
  for (let i = 0; i < 70; i++) deep = [deep];

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['undefined', undefined],
    ['a function', () => 1],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a class instance', new Thing()],
    ['a sparse array', sparse],
    ['a lone surrogate', '\uD800'],
    ['a bigint', 1n],
    ['nesting deeper than 64', deep],
  ])('refuses %s', (_name, value) => {
    const result = withValue(value);
    expect(result.isErr() && result.error.type).toBe('invalid-input');
  });

  it('refuses a __proto__ key anywhere', () => {
    const poisoned = JSON.parse('{"__proto__": {"x": 1}}') as unknown;
    expect(withValue(poisoned).isErr()).toBe(true);
  });

  it("accepts every JSON value and copies it (frozen), so later mutation of the caller's object cannot reach the fact", () => {
    const data = { list: [1, { a: 'b' }], n: -0.25 };
    const fact = unwrap(sealFact('s', { ...createFact, data }));
    data.list.push(2);
    expect((fact as { data: unknown }).data).toEqual({ list: [1, { a: 'b' }], n: -0.25 });
    expect(Object.isFrozen((fact as unknown as { data: { list: unknown } }).data.list)).toBe(true);
  });

  it('round-trips arbitrary JSON through the at-rest encoding (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const fact = withValue(value);
        if (fact.isErr()) return; // e.g. -0 inside; the property is about what seals
        const entry: FactEntry = fact.value;
        const back = unwrap(decodeEntry(encodeEntry(entry)));
        expect(back).toEqual(entry);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('numbers in the canonical form', () => {
  const encode = (value: number): Uint8Array => {
    const w = new Writer();
    expect(writeJson(w, value)).toBeUndefined();
    return w.finish();
  };
  const decode = (bytes: Uint8Array): number | undefined => {
    const r = new Reader(bytes);
    const value = readJson(r);
    return r.done ? (value as number) : undefined;
  };

  it('every safe integer, up to ±(2^53 - 1), seals and round-trips (2^52 and above were refused as "does not round-trip")', () => {
    const edges = [2 ** 52 - 1, 2 ** 52, 2 ** 52 + 1, Number.MAX_SAFE_INTEGER, 2 ** 53, 2 ** 60, 1e300];
    for (const n of [...edges, ...edges.map((e) => -e), 0, 1, -1]) {
      expect(decode(encode(n)), String(n)).toBe(n);
      const fact = sealFact('s', { ...createFact, type: 'update', data: { v: n } } as unknown as UnhashedFact);
      expect(fact.isOk(), String(n)).toBe(true);
    }
    fc.assert(
      fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(decode(encode(n))).toBe(n === 0 ? 0 : n);
      }),
      { numRuns: 2000 },
    );
  });

  it('one encoding per number: an integer varint of 2^52 or more, or a float64 holding an integer below 2^52, is refused', () => {
    const int = (zigzag: number): Uint8Array => {
      const w = new Writer();
      return w.u8(3).uvarint(zigzag).finish();
    };
    const float = (n: number): Uint8Array => {
      const w = new Writer();
      return w.u8(4).f64(n).finish();
    };
    expect(decode(int(2 ** 53 - 3))).toBe(-(2 ** 52 - 1));
    expect(decode(int(2 ** 53 - 1))).toBeUndefined(); // -2^52: written as float64
    expect(decode(float(-(2 ** 52)))).toBe(-(2 ** 52));
    expect(decode(float(2 ** 52 - 1))).toBeUndefined(); // written as a varint
    expect(decode(float(0.5))).toBe(0.5);
  });
});

describe('entries at rest', () => {
  it('round-trip with and without signature, whole and as body', () => {
    const fact = unwrap(sealFact('s', createFact));
    const signed: FactEntry = { ...fact, sig: new Uint8Array(64).fill(9) };
    expect(unwrap(decodeEntry(encodeEntry(signed)))).toEqual(signed);
    expect(unwrap(decodeEntry(encodeEntry(fact)))).toEqual(fact);
    expect(unwrap(decodeEntryBody(encodeEntryBody(fact), fact.origin, fact.counter, fact.hash, undefined))).toEqual(
      fact,
    );
  });

  it('decoding arbitrary bytes never throws (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const result = decodeEntry(bytes);
        expect(result.isOk() || result.isErr()).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('signatures', () => {
  it('sign with the identity, verify against its origin', async () => {
    const key = unwrap(await identityFromSeed(new Uint8Array(32).fill(7)));
    expect(originOf(key)).toBe(ORIGIN);
    const signer = unwrap(createSigner(key));
    const hash = unwrap(computeHash('s', createFact));
    const sig = await signer.sign(hash);
    const verifier = new SignatureVerifier();
    expect(await verifier.verify(ORIGIN, hash, sig)).toBe(true);
    const other = hash.slice();
    other[0]! ^= 1;
    expect(await verifier.verify(ORIGIN, other, sig)).toBe(false);
    const otherKey = unwrap(await identityFromSeed(new Uint8Array(32).fill(8)));
    expect(await verifier.verify(originOf(otherKey), hash, sig)).toBe(false);
    expect(await verifier.verify('not-a-peer-id', hash, sig)).toBe(false);
    expect(await verifier.verify(ORIGIN, hash, sig.subarray(0, 63))).toBe(false);
  });

  it('remembers a triple checked twice by its signature object, and only that exact triple', async () => {
    const key = unwrap(await identityFromSeed(new Uint8Array(32).fill(7)));
    const hash = unwrap(computeHash('s', createFact));
    const sig = await unwrap(createSigner(key)).sign(hash);
    const cache = new SignatureCache();
    const verifier = new SignatureVerifier(cache);
    expect(await verifier.verify(ORIGIN, hash, sig)).toBe(true);
    expect(await verifier.verify(ORIGIN, hash, sig)).toBe(true);
    expect(cache.repeated.has(sig)).toBe(true);
    // The same signature object with another hash, or in another origin's name: checked, refused.
    const other = hash.slice();
    other[0]! ^= 1;
    expect(await verifier.verify(ORIGIN, other, sig)).toBe(false);
    const otherKey = unwrap(await identityFromSeed(new Uint8Array(32).fill(8)));
    expect(await verifier.verify(originOf(otherKey), hash, sig)).toBe(false);
    // The object changed after it verified (a view into a reused buffer): no longer a hit.
    sig[5]! ^= 1;
    expect(await verifier.verify(ORIGIN, hash, sig)).toBe(false);
    sig[5]! ^= 1;
    expect(await verifier.verify(ORIGIN, hash, sig)).toBe(true);
  });
});

describe('signature cache bounds', () => {
  it('keeps the keys of at most keyEntries origins, and still verifies the ones it let go', async () => {
    const signers = await Promise.all(
      [1, 2, 3, 4, 5].map(async (n) => {
        const key = unwrap(await identityFromSeed(new Uint8Array(32).fill(n)));
        const hash = unwrap(computeHash('s', createFact));
        return { origin: originOf(key), hash, sig: await unwrap(createSigner(key)).sign(hash) };
      }),
    );
    const small = new SignatureCache(2);
    const large = new SignatureCache(); // the default, KEY_CACHE_ENTRIES
    for (const cache of [small, large]) {
      const verifier = new SignatureVerifier(cache);
      for (let round = 0; round < 2; round++)
        for (const { origin, hash, sig } of signers) expect(await verifier.verify(origin, hash, sig)).toBe(true);
    }
    expect(small.keys.size).toBe(2);
    expect(large.keys.size).toBe(5);
    expect(new PeerCache({ keyEntries: 3 }).signatures.keyEntries).toBe(3);
  });
});

describe('hybrid logical clock', () => {
  const fakeEnv = (now: () => number): Env => ({
    now,
    setTimer: () => ({ cancel: () => {} }),
    randomBytes: (n) => new Uint8Array(n),
    random: () => 0,
  });

  it('never goes backwards, even when the wall clock does', () => {
    let wall = 1000;
    const clock = new HlcClock(
      fakeEnv(() => wall),
      60_000,
    );
    const a = clock.tick();
    wall = 500;
    const b = clock.tick();
    expect(b).toEqual({ wall: 1000, logical: 1 });
    expect(a).toEqual({ wall: 1000, logical: 0 });
    wall = 2000;
    expect(clock.tick()).toEqual({ wall: 2000, logical: 0 });
  });

  it('stamps after what it observed (causality)', () => {
    const clock = new HlcClock(
      fakeEnv(() => 1000),
      60_000,
    );
    clock.observe({ wall: 5000, logical: 3 });
    expect(clock.tick()).toEqual({ wall: 5000, logical: 4 });
  });

  it('refuses a reading more than maxDrift ahead', () => {
    const clock = new HlcClock(
      fakeEnv(() => 1000),
      60_000,
    );
    expect(clock.check({ wall: 61_000, logical: 0 }).isOk()).toBe(true);
    const drifted = clock.check({ wall: 61_001, logical: 0 });
    expect(drifted.isErr() && drifted.error.type).toBe('clock-drift');
  });
});
