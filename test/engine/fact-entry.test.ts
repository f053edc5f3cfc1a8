import { describe, expect, it } from 'vitest';
import { factOf, SignedEntryCache } from '../../engine/log/fact-entry.js';
import { FactChain, fakeSignature, testOrigin } from '../../testing/facts.js';

describe('SignedEntryCache', () => {
  const [entry] = new FactChain('s', testOrigin(1)).run(1);
  const fact = factOf(entry!);

  it('makes the entry of a fact with its signature: every field of the fact, and the signature', () => {
    const sig = fakeSignature(1);
    const signed = new SignedEntryCache().signed(fact, sig);
    expect(signed).toEqual({ ...fact, sig });
    expect(signed.sig).toBe(sig);
  });

  it('gives every replica that asks with the same fact and signature bytes one object', () => {
    const cache = new SignedEntryCache();
    const first = cache.signed(fact, fakeSignature(1));
    // Another replica's copy of the same bytes (a signature decoded from another frame).
    expect(cache.signed(fact, Uint8Array.from(fakeSignature(1)))).toBe(first);
  });

  it('never hands out an entry with another signature than the one asked with', () => {
    const cache = new SignedEntryCache();
    const first = cache.signed(fact, fakeSignature(1));
    const other = cache.signed(fact, fakeSignature(2));
    expect(other).not.toBe(first);
    expect(other.sig).toEqual(fakeSignature(2));
    expect(first.sig).toEqual(fakeSignature(1));
  });
});
