// The baselines' inputs and conflict rules, at sizes small enough for a unit test. Nothing is timed.
import { describe, expect, it } from 'vitest';
import { automergeLocalWrites, automergeMerge, automergeStream } from '../../bench/baselines/automerge.js';
import { yjsLocalWrites, yjsMerge, yjsStream, yProtocolsUpdateMessageBytes } from '../../bench/baselines/yjs.js';
import { distinct, randomHex, seededUint32 } from '../../bench/random.js';
import { shoalLocalWrites, shoalMerge, shoalStream } from '../../bench/shoal.js';
import { fieldKey, type LocalWritesSystem, type MergeSystem, type StreamSystem } from '../../bench/systems.js';

const systems: [string, MergeSystem<unknown>, LocalWritesSystem<unknown>, StreamSystem][] = [
  ['shoal', shoalMerge, shoalLocalWrites, shoalStream],
  ['yjs', yjsMerge, yjsLocalWrites, yjsStream],
  ['automerge', automergeMerge, automergeLocalWrites, automergeStream],
];

describe.each(systems)('%s baseline', (_name, merge, local, stream) => {
  it.each([1, 5])(
    'merges %i set(s) per writer to the winner its conflict rule predicts, in any order',
    async (setsPerWriter) => {
      const input = await merge.generate({ writers: 12, setsPerWriter, seed: 7 });
      expect(input.updates).toHaveLength(12);
      for (const order of [input.updates, [...input.updates].reverse()]) {
        const replica = await merge.ingest(order);
        expect(merge.value(replica)).toBe(input.expected);
        expect(await merge.atRestBytes(replica)).toBeGreaterThan(0);
        merge.dispose?.(replica);
      }
    },
  );

  it('makes the same input from the same seed', async () => {
    const a = await merge.generate({ writers: 4, setsPerWriter: 1, seed: 3 });
    const b = await merge.generate({ writers: 4, setsPerWriter: 1, seed: 3 });
    expect(a.expected).toBe(b.expected);
    expect(a.updates.map((u) => u.byteLength)).toEqual(b.updates.map((u) => u.byteLength));
  });

  it.each([1, 7])('applies local writes (%i per transaction), the last write of a field winning', async (batch) => {
    const doc = await local.write(await local.create(), { writes: 55, keys: 10, batch });
    expect(local.read(doc, fieldKey(54, 10))).toBe(54);
    expect(local.read(doc, fieldKey(0, 10))).toBe(50);
    expect(local.read(doc, fieldKey(9, 10))).toBe(49);
    local.dispose?.(doc);
  });

  it('streams to a reader that ends equal to the writer, counting every payload on the wire', async () => {
    const bytes = await stream.stream({ ops: 250, batch: 100, keys: 10, seed: 1 });
    expect(bytes.payloadBytes).toBeGreaterThan(0);
    expect(bytes.wireBytes).toBeGreaterThanOrEqual(bytes.payloadBytes);
    expect(bytes.perOpUpdateBytes).toBeGreaterThan(0);
  });
});

describe('helpers', () => {
  it('frames a y-protocols update message: two type bytes and a varint length', () => {
    expect(yProtocolsUpdateMessageBytes(100)).toBe(103);
    expect(yProtocolsUpdateMessageBytes(127)).toBe(130);
    expect(yProtocolsUpdateMessageBytes(128)).toBe(132);
  });
  it('draws distinct seeded ids and hex of the asked length', () => {
    const ids = distinct(100, seededUint32(1));
    expect(new Set(ids).size).toBe(100);
    expect(distinct(100, seededUint32(1))).toEqual(ids);
    expect(randomHex(seededUint32(1), 16)).toMatch(/^[0-9a-f]{32}$/);
    expect(randomHex(seededUint32(1), 3)).toMatch(/^[0-9a-f]{6}$/);
  });
});
