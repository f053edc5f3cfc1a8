import { describe, expect, it } from 'vitest';
import type { Env } from '../../engine/env.js';
import { MemoryEventLog } from '../../engine/log/memory-log.js';
import type { FactEntry } from '../../engine/log/fact-entry.js';
import { Replica } from '../../engine/space/replica.js';
import { FactChain, fakeSignature, testOrigin } from '../../testing/facts.js';

const env: Env = {
  now: () => 1_764_000_000_000,
  setTimer: () => ({ cancel: () => {} }),
  randomBytes: (n) => new Uint8Array(n),
  random: () => 0,
};

function replica(): Replica {
  return new Replica('s', testOrigin(0), new MemoryEventLog<FactEntry>(), env, 60_000, {
    seal: (entries) => Promise.resolve(entries),
    durable: () => {},
    failed: () => {},
  });
}

describe('Replica run ends', () => {
  it('finds the hash of each origin’s signed run end, whatever its counter and however many origins', async () => {
    const r = replica();
    const ends: FactEntry[] = [];
    // Two origins with the same counters: their keys must not collide.
    for (const n of [1, 2]) {
      const chain = new FactChain('s', testOrigin(n));
      ends.push(...chain.run(3).filter((e) => e.sig !== undefined));
    }
    // Counters past 2^32 (where the numeric key would overflow 2^53) and at 2^53 − 1.
    for (const [n, counter] of [
      [3, 2 ** 32 - 1],
      [4, 2 ** 32],
      [5, 2 ** 32 + 7],
      [6, Number.MAX_SAFE_INTEGER],
      // Neighbouring origins at one huge counter: packed into one number they would round together.
      [7, 2 ** 40],
      [8, 2 ** 40],
    ] as const) {
      const chain = new FactChain('s', testOrigin(n));
      chain.counter = counter - 1;
      chain.prev = new Uint8Array(32).fill(n);
      ends.push({ ...chain.next('create', `big-${n}`), sig: fakeSignature(n) });
    }
    let seq = 0;
    for (const e of ends) r.accept(e, seq++);
    for (const e of ends) expect(await r.hashOf(e.origin, e.counter)).toEqual(e.hash);
    // Not held: neither a counter nor an origin it never saw.
    expect(await r.hashOf(testOrigin(1), 4)).toBeUndefined();
    expect(await r.hashOf(testOrigin(9), 3)).toBeUndefined();
  });
});
