/**
 * The libp2p transport's frame reader: frames out of any cut of the bytes, limits on lengths and
 * prefixes, and the frame in progress (what the read timeout watches).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES } from '../../engine/limits.js';
import { FrameReader, lengthPrefix, type FramingError } from '../../transports/libp2p/frame-reader.js';
import { pattern } from '../../testing/index.js';

const wire = (frames: readonly Uint8Array[]) =>
  Uint8Array.from(frames.flatMap((f) => [...lengthPrefix(f.byteLength), ...f]));

describe('FrameReader', () => {
  it('gives back the frames written, whatever the cuts between chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 20 }),
        (sizes, cuts) => {
          const frames = sizes.map((size, i) => pattern(size, i + 1));
          const bytes = wire(frames);
          const reader = new FrameReader(MAX_FRAME_BYTES, () => 0);
          const out: Uint8Array[] = [];
          let offset = 0;
          for (let i = 0; offset < bytes.byteLength; i++) {
            const next = Math.min(bytes.byteLength, offset + cuts[i % cuts.length]!);
            const got = reader.push(bytes.slice(offset, next));
            if (!Array.isArray(got)) throw new Error(got.error);
            out.push(...got);
            offset = next;
          }
          expect(out.map((f) => Array.from(f))).toEqual(frames.map((f) => Array.from(f)));
          expect(reader.inProgress()).toBeUndefined();
        },
      ),
      { seed: 11, numRuns: 200 },
    );
  });

  it('refuses a length over the limit and a prefix longer than the limit needs, as soon as it sees them', () => {
    const reader = new FrameReader(1000, () => 0);
    expect((reader.push(lengthPrefix(1001)) as FramingError).error).toMatch(/over the limit/);
    // 1 MiB needs 3 prefix bytes; a 4th continuation byte is refused before the rest arrives.
    const long = new FrameReader(MAX_FRAME_BYTES, () => 0);
    expect((long.push(Uint8Array.of(0x80, 0x80, 0x80)) as FramingError).error).toMatch(/length prefix longer/);
    expect(new FrameReader(MAX_FRAME_BYTES, () => 0).push(lengthPrefix(MAX_FRAME_BYTES))).toEqual([]);
  });

  it('tells when the frame in progress began and, once known, its length', () => {
    let now = 100;
    const reader = new FrameReader(MAX_FRAME_BYTES, () => now);
    expect(reader.inProgress()).toBeUndefined();
    reader.push(Uint8Array.of(0x80 | 0x10)); // the first byte of a two-byte prefix
    expect(reader.inProgress()).toEqual({ startedAt: 100, length: undefined });
    now = 150;
    reader.push(Uint8Array.of(0x01, 1, 2, 3)); // length 0x90 = 144, three bytes of it
    expect(reader.inProgress()).toEqual({ startedAt: 100, length: 144 });
    now = 200;
    const rest = Uint8Array.from([...new Uint8Array(141), ...lengthPrefix(5), 9]);
    expect(reader.push(rest)).toHaveLength(1);
    // The next frame began with this chunk.
    expect(reader.inProgress()).toEqual({ startedAt: 200, length: 5 });
  });
});
