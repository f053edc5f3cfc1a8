/**
 * Realistic facts for storage tests: hash-chained runs per origin, sealed with the real codec, the
 * last fact of each run signed (with a stand-in 64-byte signature unless a real one is asked for).
 */
import { sealFact } from '../engine/facts/codec.js';
import type { Fact, Hash, JsonObject, PeerId, UnhashedFact } from '../engine/facts/types.js';
import type { FactEntry } from '../engine/log/fact-entry.js';

/** A PeerId-shaped origin (52 characters, like a real Ed25519 PeerId). */
export function testOrigin(n: number): PeerId {
  return `12D3KooW${String(n).padStart(4, '0')}${'x'.repeat(40)}` as PeerId;
}

/** Makes one origin's chain of facts in one space: counters 1, 2, 3… each linked to the last. */
export class FactChain {
  readonly origin: PeerId;
  readonly space: string;
  counter = 0;
  prev: Hash | null = null;
  wall: number;

  constructor(space: string, origin: PeerId, wall = 1_764_000_000_000) {
    this.space = space;
    this.origin = origin;
    this.wall = wall;
  }

  /** The next fact: a create, update or delete of `item` in `collection`. */
  next(kind: 'create' | 'update' | 'delete' = 'update', item = 'item-1', data?: JsonObject): Fact {
    const base = {
      origin: this.origin,
      counter: this.counter + 1,
      hlc: { wall: ++this.wall, logical: 0 },
      collection: 'items',
      item,
      prev: this.prev,
    };
    const draft: UnhashedFact =
      kind === 'delete'
        ? { ...base, type: 'delete' }
        : {
            ...base,
            type: kind,
            data:
              data ??
              (kind === 'create' ? { name: `thing ${base.counter}`, done: false } : { done: base.counter % 2 === 0 }),
          };
    const fact = sealFact(this.space, draft)._unsafeUnwrap();
    this.counter = fact.counter;
    this.prev = fact.hash;
    return fact;
  }

  /** A run of `n` facts (mixed kinds), the last one carrying `sig`. */
  run(n: number, sig: Uint8Array = fakeSignature(this.counter + n)): FactEntry[] {
    const out: FactEntry[] = [];
    for (let i = 0; i < n; i++) {
      const c = this.counter + 1;
      const kind = c % 10 === 1 ? 'create' : c % 10 === 0 ? 'delete' : 'update';
      out.push(this.next(kind, `item-${Math.floor(c / 10)}`));
    }
    const last = out[n - 1];
    if (last !== undefined) out[n - 1] = { ...last, sig };
    return out;
  }
}

/** A stand-in signature: 64 deterministic bytes (storage never verifies signatures). */
export function fakeSignature(seed: number): Uint8Array {
  return Uint8Array.from({ length: 64 }, (_, i) => (seed * 31 + i * 7) & 0xff);
}

/**
 * The fields a backend must keep, with byte arrays as plain Uint8Arrays: what `toEqual` compares
 * so a backend that hands out Buffers or omits absent keys is judged on content alone.
 */
export function normalize(entry: FactEntry): Record<string, unknown> {
  const bytes = (b: Uint8Array | null | undefined) => (b == null ? b : Uint8Array.from(b));
  const out: Record<string, unknown> = {
    origin: entry.origin,
    counter: entry.counter,
    hlc: { wall: entry.hlc.wall, logical: entry.hlc.logical },
    type: entry.type,
    collection: entry.collection,
    item: entry.item,
    prev: bytes(entry.prev),
    hash: bytes(entry.hash),
  };
  if (entry.type !== 'delete') out.data = entry.data;
  if (entry.sig !== undefined) out.sig = bytes(entry.sig);
  if (entry.snapshot !== undefined) out.snapshot = entry.snapshot;
  if (entry.history !== undefined) out.history = entry.history;
  if (entry.pending !== undefined) out.pending = entry.pending;
  return out;
}

/** Facts from several origins interleaved run by run, as a peer receives them. */
export function interleavedRuns(space: string, origins: number, runs: number, runLength: number): FactEntry[] {
  const chains = Array.from({ length: origins }, (_, i) => new FactChain(space, testOrigin(i + 1)));
  const out: FactEntry[] = [];
  for (let r = 0; r < runs; r++) out.push(...chains[r % origins]!.run(runLength));
  return out;
}
