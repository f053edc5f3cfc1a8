/**
 * A sender frames an origin's consecutive signed runs as ONE run signed by the last signature
 * (engine/sync/frame-reader.ts). A member with a valid key, or a relay of another origin's facts,
 * tampers with such a run: every tampering gets a typed error and changes nothing (state, log,
 * vector, what a later run links to), and the honest run still lands afterwards.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createPeer, memoryStorage, type Env } from '../../engine/index.js';
import { runOf, runsOf, type Run } from '../../engine/facts/run.js';
import type { Fact, PeerId } from '../../engine/facts/types.js';
import type { SpaceImpl } from '../../engine/space/space.js';
import { unwrap } from '../support/peers.js';

const NOW = 1_700_000_000_000;
const FROM = '12D3KooWSender' as PeerId;

function fixedEnv(seed: number): Env {
  return {
    now: () => NOW,
    setTimer: () => ({ cancel: () => {} }),
    randomBytes: (n) => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff),
    random: () => 0.5,
  };
}

/** Six writes of one author, each awaited (six signed runs), and the author's facts. */
async function author(seed: number): Promise<Run[]> {
  const storage = memoryStorage();
  const peer = unwrap(await createPeer({ storage, env: fixedEnv(seed) }));
  const items = unwrap(await peer.space('s')).collection('items');
  for (let i = 0; i < 6; i++) unwrap(await items.create({ v: i }, `x${seed}-${i}`));
  await peer.close();
  return runsOf(unwrap(await unwrap(await storage.openLog('s')).query('start', 'end')).entries);
}

/** The runs as one, signed by the last signature (as the frame reader sends them). */
const merged = (runs: readonly Run[]): Run =>
  runOf(
    runs.flatMap((r) => r.facts as readonly Fact[]),
    runs[runs.length - 1]!.sig,
  );

describe('one signature over consecutive runs: tampered merged runs are refused and change nothing', () => {
  let runs: Run[];
  let other: Run[];
  let space: SpaceImpl;

  beforeEach(async () => {
    runs = await author(1);
    other = await author(3);
    space = unwrap(
      await unwrap(await createPeer({ storage: memoryStorage(), env: fixedEnv(2) })).space('s'),
    ) as SpaceImpl;
  });

  const observable = () => ({
    hash: space.stateHash(),
    vector: space.status().vector,
    length: space.status().logLength,
    items: space.collection('items').all(),
    tip: space.replica.tip(runs[0]!.origin),
  });

  /** `bad` is refused with `type` (or waits for a gap: nothing stored), nothing changes, then the real run lands. */
  async function refusedThenHonest(bad: Run, type: string | undefined, held = 0): Promise<void> {
    const before = observable();
    const outcome = await space.ingest([bad], FROM);
    expect(await outcome.durable).toBe(true);
    expect(outcome.errors.map((e) => e.type)).toEqual(type === undefined ? [] : [type]);
    expect(observable()).toEqual(before);
    const honest = await space.ingest([merged(runs.slice(held))], FROM);
    expect(await honest.durable).toBe(true);
    expect(honest.errors).toEqual([]);
    expect(space.status().vector[runs[0]!.origin]).toBe(6);
    expect(
      space
        .collection('items')
        .all()
        .filter((i) => i.id.startsWith('x1-')),
    ).toHaveLength(6);
  }

  const facts = () => merged(runs).facts as readonly Fact[];
  const withFacts = (list: readonly Fact[]): Run => ({ ...merged(runs), facts: list });

  it('the merged run as sent is taken, and stored as one signed run', async () => {
    const outcome = await space.ingest([merged(runs)], FROM);
    expect(await outcome.durable).toBe(true);
    expect(outcome.errors).toEqual([]);
    expect(space.status().vector[runs[0]!.origin]).toBe(6);
  });

  it('a middle fact dropped', async () => {
    const f = facts();
    await refusedThenHonest(withFacts([...f.slice(0, 2), ...f.slice(3)]), 'bad-hash');
  });

  it('two middle facts swapped', async () => {
    const f = facts();
    await refusedThenHonest(withFacts([f[0]!, f[2]!, f[1]!, ...f.slice(3)]), 'bad-hash');
  });

  it('a middle fact duplicated', async () => {
    const f = facts();
    await refusedThenHonest(withFacts([...f.slice(0, 3), f[2]!, ...f.slice(3)]), 'bad-hash');
  });

  it("another origin's fact spliced in the middle", async () => {
    const f = facts();
    await refusedThenHonest(withFacts([...f.slice(0, 2), other[2]!.facts[0]! as Fact, ...f.slice(3)]), 'bad-hash');
  });

  it('a middle fact replaced by one with the same body but another stamp', async () => {
    const f = facts();
    const changed = { ...f[3]!, hlc: { ...f[3]!.hlc, logical: f[3]!.hlc.logical + 1 } };
    await refusedThenHonest(withFacts([...f.slice(0, 3), changed, ...f.slice(4)]), 'bad-hash');
  });

  it("a shorter run's signature on the longer run", async () => {
    await refusedThenHonest({ ...merged(runs), sig: runs[2]!.sig }, 'bad-signature');
  });

  it("a shorter run's signature and hash on the longer run", async () => {
    await refusedThenHonest({ ...merged(runs), sig: runs[2]!.sig, hash: runs[2]!.hash }, 'bad-hash');
  });

  it("another origin's signature", async () => {
    await refusedThenHonest({ ...merged(runs), sig: merged(other).sig }, 'bad-signature');
  });

  it('a run that starts past our tip (a gap) waits, stored nowhere', async () => {
    await refusedThenHonest(merged(runs.slice(2)), undefined);
  });

  it('a counter past the largest safe integer', async () => {
    await refusedThenHonest({ ...merged(runs), first: 2 ** 53 }, 'malformed');
  });

  it('a run over a snapshot-pruned prefix: only what follows our tip is taken', async () => {
    expect(await (await space.ingest([merged(runs.slice(0, 3))], FROM)).durable).toBe(true);
    // A forged fact below our tip, hashes recomputed: the fact at our tip no longer matches.
    const f = facts();
    const forged = { ...f[1]!, data: { v: 666 } };
    await refusedThenHonest(withFacts([f[0]!, forged, ...f.slice(2)]), 'bad-hash', 3);
    expect(space.collection('items').get('x1-1')).toEqual({ id: 'x1-1', v: 1 });
  });
});
