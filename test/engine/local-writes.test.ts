/**
 * The local write path: writes of one tick become one durable batch in call order, a storage
 * failure fails every write of the batch (and of the batches behind it) and leaves nothing half
 * applied, and `space.transact` makes a burst of writes one batch that is made whole or not at all.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  memoryStorage,
  type FactEntry,
  type QueryValue,
  type Space,
  type SpaceEvent,
  type Storage,
} from '../../engine/index.js';
import { equalBytes } from '../../engine/facts/bytes.js';
import { canonicalBytes, LocalFactSealer, sealFact } from '../../engine/facts/codec.js';
import { DigestSlab, sha256 } from '../../engine/facts/hash.js';
import type { JsonObject, JsonValue, PeerId, UnhashedFact } from '../../engine/facts/types.js';
import { DIGEST_SLAB_BYTES, MAX_ID_LENGTH, MAX_SEGMENT_BYTES, MAX_TRANSACTION_WRITES } from '../../engine/limits.js';
import { faultyStorage, type FaultyStorage } from '../../testing/index.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

const SPACE = 's';

/** Every entry of the space's log, oldest first. */
async function logOf(storage: Storage): Promise<FactEntry[]> {
  const log = unwrap(await storage.openLog(SPACE));
  const out: FactEntry[] = [];
  for (let at: number | 'start' = 'start'; ;) {
    const page: QueryValue<FactEntry> = unwrap(await log.query(at, 'end'));
    out.push(...page.entries);
    if (page.isComplete) return out;
    at = page.endSequenceId;
  }
}

/** The `addEntries` calls the space made so far (from a faulty storage's trace). */
const appends = (disk: FaultyStorage): string[] => disk.trace.filter((line) => line.startsWith('addEntries'));

/** Counters and chain of the own facts in `entries`: 1, 2, 3… each linked to the one before. */
function expectChain(entries: readonly FactEntry[]): void {
  entries.forEach((entry, i) => {
    expect(entry.counter).toBe(i + 1);
    if (i === 0) expect(entry.prev).toBeNull();
    else expect(equalBytes(entry.prev!, entries[i - 1]!.hash)).toBe(true);
  });
}

/** A peer with one visible item `doc` in collection `c`; its disk fails from then on if `failAfterOpen`. */
async function writer(seed: number, failAfterOpen = false) {
  const probe = faultyStorage(memoryStorage());
  await opened(new SimNetwork({ seed }), probe);
  const disk = faultyStorage(memoryStorage(), failAfterOpen ? { failAfterWrites: probe.writes, mode: 'error' } : {});
  const { space } = await opened(new SimNetwork({ seed }), disk);
  const events: SpaceEvent[] = [];
  space.subscribe((event) => events.push(event));
  return { space, disk, items: space.collection<Record<string, number>>('c'), events };
}

async function opened(net: SimNetwork, storage: FaultyStorage): Promise<{ space: Space }> {
  const { space } = await simPeer(net, SPACE, { storage });
  unwrap(await space.collection('c').create({ v: 0 }, 'doc'));
  return { space };
}

describe('writes of one tick', () => {
  it('go to the log as one batch, in call order, chained, signed once at its end', async () => {
    const { space, disk, items } = await writer(1);
    const before = appends(disk).length;
    const results = Array.from({ length: 50 }, (_, i) => items.update('doc', `f${i}`, i));
    for (const result of await Promise.all(results)) unwrap(result);
    expect(appends(disk).slice(before)).toEqual([`addEntries ${SPACE} @1 ×50`]);
    const log = await logOf(disk);
    expectChain(log);
    expect(log.slice(1).map((e) => Object.keys((e as { data: object }).data)[0])).toEqual(
      results.map((_, i) => `f${i}`),
    );
    expect(log.filter((e) => e.sig !== undefined).map((e) => e.counter)).toEqual([1, 51]);
    expect(space.status().logLength).toBe(51);
  });

  it('a storage failure fails every write of the batch and of the batches behind it, and undoes them all', async () => {
    const { space, disk, items, events } = await writer(2, true);
    // Room again the moment the first batch has failed: what was queued behind it must fail anyway
    // (it chains onto facts that were never written), not reach the disk now that it has room.
    space.subscribe((event) => event.source === 'rollback' && disk.heal());
    const first = Array.from({ length: 5 }, (_, i) => items.update('doc', 'v', i + 1));
    // Queued while the first batch is being written: a second batch, chained onto the first.
    await Promise.resolve();
    const second = [items.update('doc', 'w', 1), items.create({ v: 9 }, 'other')];
    expect(items.get('doc')).toMatchObject({ v: 5, w: 1 });
    for (const result of await Promise.all([...first, ...second])) {
      expect(result.isErr() && result.error.type).toBe('storage');
    }
    expect(await logOf(disk)).toHaveLength(1);
    expect(items.get('doc')).toEqual({ id: 'doc', v: 0 });
    expect(items.get('other')).toBeUndefined();
    expect(space.status().pending).toBe(1);
    expect(events.at(-1)?.source).toBe('rollback');
    // The chain goes on from the last durable fact.
    unwrap(await items.update('doc', 'v', 7));
    const log = await logOf(disk);
    expectChain(log);
    expect(log).toHaveLength(2);
  });
  it('checks every item id, even right after a burst of writes to one item', async () => {
    const { space, items } = await writer(11);
    for (const result of await Promise.all([0, 1, 2].map((i) => items.update('doc', 'v', i)))) unwrap(result);
    const logLength = space.status().logLength;
    // Names that differ from the last ones written (the writer keeps those that passed) are checked.
    for (const bad of ['', 'x\uD800', 'x'.repeat(MAX_ID_LENGTH + 1), 7 as unknown as string]) {
      const refused = await items.update(bad, 'v', 1);
      expect(refused.isErr() && refused.error.type).toBe('invalid-input');
      const created = await items.create({ v: 1 }, bad);
      expect(created.isErr() && created.error.type).toBe('invalid-input');
      // And after a refusal, the item written before is not taken for checked under a bad name.
      unwrap(await items.update('doc', 'v', 2));
      expect((await space.collection(bad).create({ v: 1 }, 'doc')).isErr()).toBe(true);
    }
    expect(items.get('doc')).toMatchObject({ v: 2 });
    expect(space.status().logLength).toBe(logLength + 4);
  });

  it(`signs where a stretch of own facts reaches MAX_SEGMENT_BYTES (${MAX_SEGMENT_BYTES} B), and at the end of each batch`, async () => {
    const { space, disk, items } = await writer(12);
    const text = space.collection<Record<string, string>>('c');
    const big = 'x'.repeat(48 * 1024);
    const writes = Math.ceil((2.5 * MAX_SEGMENT_BYTES) / big.length);
    unwrap(
      await space.transact(() => {
        for (let i = 0; i < writes; i++) void text.update('doc', 'w', `${i}${big}`);
      }),
    );
    unwrap(await items.update('doc', 'v', 0));
    const log = await logOf(disk);
    expectChain(log);
    // The rule, replayed: canonical bytes counted since the last forced signature.
    const expected = new Set([1, writes + 1, writes + 2]);
    let bytes = 0;
    for (const entry of log) {
      bytes += unwrap(canonicalBytes(SPACE, entry)).length;
      if (bytes >= MAX_SEGMENT_BYTES) {
        expected.add(entry.counter);
        bytes = 0;
      }
    }
    expect(expected.size).toBe(5);
    expect(log.filter((e) => e.sig !== undefined).map((e) => e.counter)).toEqual([...expected].sort((a, b) => a - b));
  });
});

describe('space.transact', () => {
  it('makes every write inside one batch: visible at once, durable together', async () => {
    const { space, disk, items } = await writer(3);
    const before = appends(disk).length;
    const inside: ReturnType<typeof items.update>[] = [];
    const done = space.transact(() => {
      for (let i = 0; i < 20; i++) inside.push(items.update('doc', 'v', i));
      void items.create({ v: 1 }, 'x');
      expect(items.get('doc')).toMatchObject({ v: 19 });
    });
    expect(items.get('x')).toMatchObject({ v: 1 });
    unwrap(await done);
    for (const result of await Promise.all(inside)) unwrap(result);
    expect(appends(disk).slice(before)).toEqual([`addEntries ${SPACE} @1 ×21`]);
    expectChain(await logOf(disk));
  });

  it('writes nothing when the function throws, and says what it threw', async () => {
    const { space, disk, items, events } = await writer(4);
    const boom = new Error('boom');
    let inner: Awaited<ReturnType<typeof items.update>> | undefined;
    const done = await space.transact(() => {
      void items.update('doc', 'v', 1).then((r) => (inner = r));
      void items.create({ v: 2 }, 'x');
      throw boom;
    });
    expect(done.isErr() && done.error).toMatchObject({ type: 'threw', cause: boom });
    expect(inner?.isErr() && inner.error.type).toBe('threw');
    expect(items.get('doc')).toEqual({ id: 'doc', v: 0 });
    expect(items.get('x')).toBeUndefined();
    expect(space.status().pending).toBe(1);
    expect(events.at(-1)?.source).toBe('rollback');
    unwrap(await items.update('doc', 'v', 3));
    const log = await logOf(disk);
    expect(log).toHaveLength(2);
    expectChain(log);
  });

  it('rolls back only its own writes: writes queued before it in the same tick stay', async () => {
    const { space, disk, items } = await writer(5);
    const before = items.update('doc', 'a', 1);
    const failed = space.transact(() => {
      void items.update('doc', 'b', 2);
      throw new Error('no');
    });
    const after = items.update('doc', 'c', 3);
    unwrap(await before);
    unwrap(await after);
    expect((await failed).isErr()).toBe(true);
    const log = await logOf(disk);
    expectChain(log);
    expect(log.slice(1).map((e) => (e as { data: object }).data)).toEqual([{ a: 1 }, { c: 3 }]);
    expect(items.get('doc')).toEqual({ id: 'doc', v: 0, a: 1, c: 3 });
  });

  it('refuses a function that returns a promise, keeping none of its writes', async () => {
    const { space, disk, items } = await writer(6);
    // The type (and the lint) already steer an app away from this; the check is for the rest.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    const refused = await space.transact(async () => {
      void items.update('doc', 'v', 1);
      await Promise.resolve();
    });
    expect(refused.isErr() && refused.error.type).toBe('async');
    expect(await logOf(disk)).toHaveLength(1);
    expect(items.get('doc')).toEqual({ id: 'doc', v: 0 });
    // A write's own result is a thenable too, but not a promise: returning it is fine.
    const returnsWrite = (): unknown => items.update('doc', 'v', 2);
    unwrap(await space.transact(returnsWrite));
    expect(await logOf(disk)).toHaveLength(2);
  });

  it(`refuses more than MAX_TRANSACTION_WRITES (${MAX_TRANSACTION_WRITES}) writes, keeping none`, async () => {
    const { space, disk, items } = await writer(7);
    let last: Awaited<ReturnType<typeof items.update>> | undefined;
    const done = await space.transact(() => {
      for (let i = 0; i <= MAX_TRANSACTION_WRITES; i++) void items.update('doc', 'v', i).then((r) => (last = r));
    });
    expect(done.isErr() && done.error).toMatchObject({ type: 'too-many-writes', limit: MAX_TRANSACTION_WRITES });
    expect(last?.isErr() && last.error.type).toBe('too-many-writes');
    expect(await logOf(disk)).toHaveLength(1);
    expect(space.status().pending).toBe(1);
    // Exactly the limit is one batch.
    unwrap(
      await space.transact(() => {
        for (let i = 0; i < MAX_TRANSACTION_WRITES; i++) void items.update('doc', 'v', i);
      }),
    );
    expect(await logOf(disk)).toHaveLength(1 + MAX_TRANSACTION_WRITES);
  });

  it('a write refused on its own fails alone; the rest of the transaction is made', async () => {
    const { space, items } = await writer(8);
    let refused: Awaited<ReturnType<typeof items.update>> | undefined;
    unwrap(
      await space.transact(() => {
        void items.update('doc', 'v', 1);
        void items.update('missing', 'v', 2).then((r) => (refused = r));
      }),
    );
    expect(refused?.isErr() && refused.error.type).toBe('not-found');
    expect(items.get('doc')).toMatchObject({ v: 1 });
  });

  it('a nested transact joins the outer one: one batch, and a throw inside undoes the whole', async () => {
    const { space, disk, items } = await writer(9);
    const before = appends(disk).length;
    unwrap(
      await space.transact(() => {
        void items.update('doc', 'a', 1);
        void space.transact(() => void items.update('doc', 'b', 2));
        void items.update('doc', 'c', 3);
      }),
    );
    expect(appends(disk).slice(before)).toEqual([`addEntries ${SPACE} @1 ×3`]);

    let inner: Awaited<ReturnType<typeof space.transact>> | undefined;
    const outer = await space.transact(() => {
      void items.update('doc', 'd', 4);
      void space
        .transact(() => {
          throw new Error('inner');
        })
        .then((r) => (inner = r));
      void items.update('doc', 'e', 5);
    });
    expect(outer.isErr() && outer.error.type).toBe('threw');
    expect(inner?.isErr() && inner.error.type).toBe('threw');
    expect(items.get('doc')).toEqual({ id: 'doc', v: 0, a: 1, b: 2, c: 3 });
    expect(await logOf(disk)).toHaveLength(4);
  });

  it('fails with the storage error, as a whole, when its batch cannot be written', async () => {
    const { space, disk, items } = await writer(10, true);
    const done = await space.transact(() => {
      void items.update('doc', 'v', 1);
      void items.update('doc', 'w', 2);
    });
    expect(done.isErr() && done.error.type).toBe('storage');
    expect(await logOf(disk)).toHaveLength(1);
    expect(items.get('doc')).toEqual({ id: 'doc', v: 0 });
  });
});

describe('LocalFactSealer', () => {
  const origin = '12D3KooWSealerSealerSealerSealerSealerSealerSealer' as PeerId;
  const value = fc.oneof(
    fc.constantFrom(0, -0, 1.5, -7, 2 ** 53, null, true, '', 'ü'),
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown),
  );

  it('seals exactly the fact sealFact builds from the same draft (hash, canonical data)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('create', 'update', 'delete'), fc.string({ minLength: 1 }), value), {
          minLength: 1,
          maxLength: 20,
        }),
        (writes) => {
          const sealer = new LocalFactSealer(SPACE, origin);
          let prev: Uint8Array | null = null;
          writes.forEach(([type, field, v], i) => {
            const data: JsonObject | undefined = type === 'delete' ? undefined : ({ [field]: v } as JsonObject);
            const hlc = { wall: 1000 + i, logical: i };
            const draft = {
              origin,
              counter: i + 1,
              hlc,
              type,
              collection: 'c',
              item: 'i',
              prev,
              ...(data ? { data } : {}),
            };
            const expected = sealFact(SPACE, draft as UnhashedFact);
            const sealed = sealer.seal({ type, collection: 'c', item: 'i', data }, i + 1, hlc, prev);
            expect(sealed.isOk()).toBe(expected.isOk());
            // The field form (what Collection.update takes) refuses and seals exactly the same.
            const byField =
              type === 'update' ? sealer.sealField('c', 'i', field, v as JsonValue, i + 1, hlc, prev) : undefined;
            if (byField !== undefined) expect(byField.isOk()).toBe(expected.isOk());
            if (sealed.isErr() || expected.isErr()) return;
            expect(sealed.value).toEqual(expected.value);
            if (data !== undefined) expect(Object.isFrozen((sealed.value as { data: JsonObject }).data)).toBe(true);
            if (byField !== undefined) {
              expect(byField._unsafeUnwrap()).toEqual(expected.value);
              expect(Object.isFrozen((byField._unsafeUnwrap() as { data: JsonObject }).data)).toBe(true);
            }
            prev = sealed.value.hash;
          });
        },
      ),
    );
  });
});

describe('DigestSlab', () => {
  it('gives every input its own SHA-256, across slabs, none overwritten by the next', () => {
    const slab = new DigestSlab();
    const inputs = Array.from({ length: (3 * DIGEST_SLAB_BYTES) / 32 + 5 }, (_, i) =>
      new TextEncoder().encode(`fact ${i}`),
    );
    const digests = inputs.map((input) => slab.digest(input));
    digests.forEach((digest, i) => {
      expect(digest).toHaveLength(32);
      expect(equalBytes(digest, sha256(inputs[i]!))).toBe(true);
    });
  });
});
