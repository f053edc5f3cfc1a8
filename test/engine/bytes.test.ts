import fc from 'fast-check';
import { expect, it } from 'vitest';
import { base64url } from '../../engine/facts/bytes.js';

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
