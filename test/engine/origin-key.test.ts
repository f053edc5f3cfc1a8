import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { toHex } from '../../engine/facts/bytes.js';
import { sha256 } from '../../engine/facts/hash.js';
import type { PeerId } from '../../engine/facts/types.js';
import {
  ORIGIN_KEY_BYTES,
  OriginDirectory,
  OriginKeyCache,
  originKey,
  originKeyAt,
  originKeyBytes,
} from '../../engine/sync/origin-key.js';

describe('origin keys', () => {
  it('read from bytes at any offset as the hex of those bytes, and back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: ORIGIN_KEY_BYTES, maxLength: 40 }), fc.nat(), (bytes, at) => {
        const from = at % (bytes.length - ORIGIN_KEY_BYTES + 1);
        const key = originKeyAt(bytes, from);
        expect(key).toBe(toHex(bytes.subarray(from, from + ORIGIN_KEY_BYTES)));
        expect(originKeyBytes(key)).toEqual(bytes.subarray(from, from + ORIGIN_KEY_BYTES));
      }),
    );
  });

  it('are the first bytes of the SHA-256 of the PeerId', () => {
    const origin = 'p-origin-key' as PeerId;
    expect(originKey(origin)).toBe(toHex(sha256(new TextEncoder().encode(origin)).subarray(0, ORIGIN_KEY_BYTES)));
  });

  it('a directory knows an origin once added, not when it only has a slot for a session vector', () => {
    const dir = new OriginDirectory();
    const a = 'p-a' as PeerId;
    const b = 'p-b' as PeerId;
    dir.slots.slot(b); // a session kept a counter for it before it became durable here
    expect(dir.has(b)).toBe(false);
    expect(dir.size).toBe(0);
    const heard: PeerId[] = [];
    dir.onAdd((origin) => heard.push(origin));
    expect(dir.add(a)).toBe(originKey(a));
    expect(dir.add(b)).toBe(originKey(b));
    dir.add(a);
    expect(heard).toEqual([a, b]);
    expect(dir.has(a) && dir.has(b)).toBe(true);
    expect(dir.size).toBe(2);
    const wire = dir.toWire(
      new Map([
        [a, 3],
        [b, 4],
      ]),
    );
    expect(dir.resolve(wire)).toEqual(
      new Map([
        [a, 3],
        [b, 4],
      ]),
    );
  });

  it('a shared key cache gives every directory the same keys', () => {
    const shared = new OriginKeyCache();
    const origin = 'p-shared' as PeerId;
    const one = new OriginDirectory(shared);
    const other = new OriginDirectory(shared);
    expect(one.add(origin)).toBe(originKey(origin));
    expect(other.add(origin)).toBe(one.add(origin));
    expect(shared.keyOf(origin)).toBe(originKey(origin));
  });
});
