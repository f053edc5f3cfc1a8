import fc from 'fast-check';
import { expect, it } from 'vitest';
import { base64url, Reader, StringTable, Writer } from '../../engine/facts/bytes.js';

it('base64url is RFC 4648 §5 without padding (as Node encodes it), for every length', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      expect(base64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
    }),
  );
});

it("toHex is lowercase hex, as @noble/hashes' bytesToHex", async () => {
  const { toHex } = await import('../../engine/facts/bytes.js');
  const { bytesToHex } = await import('@noble/hashes/utils.js');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      expect(toHex(bytes)).toBe(bytesToHex(bytes));
    }),
  );
});

it('a Reader with a StringTable reads every string a Writer wrote, whatever shares a slot (property)', () => {
  const table = new StringTable();
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('items', 'title', 'qty')), { maxLength: 200 }),
      (strings) => {
        const w = new Writer();
        for (const s of strings) w.string(s);
        const bytes = w.finish();
        const interned = new Reader(bytes, 0, bytes.length, table);
        const plain = new Reader(bytes);
        for (const s of strings) {
          expect(interned.string(1024)).toBe(s);
          expect(plain.string(1024)).toBe(s);
        }
        expect(interned.done).toBe(true);
      },
    ),
    { numRuns: 300 },
  );
  // More distinct names than slots: each is read back as itself, not as the one it evicted.
  const many = Array.from({ length: 20_000 }, (_, i) => `item-${i.toString(36)}`);
  const w = new Writer();
  for (const s of many) w.string(s);
  const bytes = w.finish();
  for (let pass = 0; pass < 2; pass++) {
    const r = new Reader(bytes, 0, bytes.length, table);
    for (const s of many) expect(r.string(1024)).toBe(s);
  }
});

it('Reader.window reads one record of a buffer after another, each from a clean state', () => {
  const w = new Writer();
  w.string('first').uvarint(300).string('second');
  const bytes = w.finish();
  const r = new Reader(bytes);
  expect(r.window(0, 6).string(64)).toBe('first');
  expect(r.done).toBe(true);
  // A window too short for its record fails, and the next window starts clean.
  r.window(6, 7).uvarint();
  expect(r.failed).toBe(true);
  expect(r.window(6, 8).uvarint()).toBe(300);
  expect(r.done).toBe(true);
  expect(r.window(8, bytes.length).string(64)).toBe('second');
  expect(r.done).toBe(true);
  // A window past the buffer's end is cut to it.
  r.window(8, bytes.length + 10).string(64);
  expect(r.done).toBe(true);
});

it("a copy of raw bytes read from a Node Buffer is a copy (a Buffer's slice() is a view)", async () => {
  const { decodeEntry, encodeEntry } = await import('../../engine/log/entry-codec.js');
  const { interleavedRuns } = await import('../../testing/facts.js');
  const entry = interleavedRuns('s', 1, 1, 1)[0]!;
  expect(entry.sig).toBeDefined();
  const hash = Uint8Array.from(entry.hash);
  const sig = Uint8Array.from(entry.sig!);
  // better-sqlite3 hands blobs back as Buffers.
  const stored = Buffer.from(encodeEntry(entry));
  const decoded = decodeEntry(stored)._unsafeUnwrap();
  stored.fill(0);
  expect(decoded.hash).toEqual(hash);
  expect(decoded.sig).toEqual(sig);
  expect(new Reader(Buffer.from([1, 2, 3])).raw(2).slice().buffer.byteLength).toBe(2);
});

it('writes the bytes a hex string spells, in either case, as raw(hexToBytes(…)) does', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), (bytes, upper) => {
      let hex = Buffer.from(bytes).toString('hex');
      if (upper) hex = hex.toUpperCase();
      expect(new Writer(4).u8(7).hex(hex).u8(9).finish()).toEqual(new Uint8Array([7, ...bytes, 9]));
    }),
  );
});

it('views what was written last, after truncation and after the buffer grew', () => {
  const w = new Writer(16);
  const bytes = (n: number, from: number) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
  w.raw(bytes(10, 0));
  expect(w.view()).toEqual(bytes(10, 0));
  w.truncate(0).raw(bytes(10, 50));
  expect(w.view()).toEqual(bytes(10, 50)); // same length: the same view may serve, with the new bytes
  w.reset().raw(bytes(100, 7)); // grows into a new buffer
  w.truncate(10);
  expect(w.view()).toEqual(bytes(10, 7));
  expect(w.view().buffer).not.toBe(new Writer(16).view().buffer);
});
