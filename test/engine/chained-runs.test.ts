/**
 * Consecutive runs of one origin in one frame are checked as one chain with one signature check,
 * the last run's (engine/sync/ingest.ts, verifyChainedRuns in engine/facts/run.ts). That is only
 * sound because every fact is hashed, each run's hash is linked to the next run's `prev` and the
 * last signature covers the end of that chain: a forged fact anywhere breaks it, and then the runs
 * are checked one by one — the valid prefix goes in, nothing of the bad run or after it does.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createPeer, memoryStorage, type Env } from '../../engine/index.js';
import { toHex } from '../../engine/facts/bytes.js';
import { chainOf, runsOf, type Run } from '../../engine/facts/run.js';
import type { Storage } from '../../engine/storage/storage.js';
import type { SpaceImpl } from '../../engine/space/space.js';
import type { PeerId } from '../../engine/facts/types.js';
import { unwrap } from '../support/peers.js';

const NOW = 1_700_000_000_000;
const FROM = '12D3KooWSender' as PeerId;

/** A fixed clock and seeded randomness (`seed` decides the identity a peer makes). */
function fixedEnv(seed: number): Env {
  return {
    now: () => NOW,
    setTimer: () => ({ cancel: () => {} }),
    randomBytes: (n) => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff),
    random: () => 0.5,
  };
}

/** Four writes, each awaited: four runs of one fact, each signed. */
async function authorRuns(): Promise<Run[]> {
  const storage = memoryStorage();
  const peer = unwrap(await createPeer({ storage, env: fixedEnv(1) }));
  const items = unwrap(await peer.space('s')).collection('items');
  unwrap(await items.create({ title: 'milk' }, 'a'));
  unwrap(await items.update('a', 'title', 'oat milk'));
  unwrap(await items.create({ title: 'eggs' }, 'b'));
  unwrap(await items.update('b', 'title', 'six eggs'));
  await peer.close();
  const runs = runsOf(unwrap(await unwrap(await storage.openLog('s')).query('start', 'end')).entries);
  expect(runs.map((r) => r.facts.length)).toEqual([1, 1, 1, 1]);
  return runs;
}

/** `run` with its claimed hash recomputed from its (possibly forged) facts and `prev`. */
function rehashed(run: Run, prev = run.prev): Run {
  const moved = { ...run, prev };
  const facts = unwrap(chainOf('s', moved));
  return { ...moved, hash: facts[facts.length - 1]!.hash };
}

/** `runs` from `from` on with a forged value in `runs[from]` and every hash after it recomputed. */
function forgedFrom(runs: readonly Run[], from: number): Run[] {
  const out = runs.slice(0, from);
  const bad = runs[from]!;
  let prev = rehashed({ ...bad, facts: [{ ...bad.facts[0]!, data: { title: 'poison' } }] });
  out.push(prev);
  for (const run of runs.slice(from + 1)) out.push((prev = rehashed(run, prev.hash)));
  return out;
}

const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : toHex(bytes));

const junk = (sig: Uint8Array): Uint8Array => sig.map((b, i) => (i === 7 ? b ^ 1 : b));

describe('runs of one origin checked as one chain', () => {
  let runs: Run[];
  let storage: Storage;
  let space: SpaceImpl;

  beforeEach(async () => {
    runs = await authorRuns();
    storage = memoryStorage();
    const peer = unwrap(await createPeer({ storage, env: fixedEnv(2) }));
    space = unwrap(await peer.space('s')) as SpaceImpl;
  });

  /** The signatures stored with each entry of the log, as hex. */
  const storedSigs = async () =>
    unwrap(await unwrap(await storage.openLog('s')).query('start', 'end')).entries.map((e) => hex(e.sig));
  const titles = () => space.collection<{ title: string }>('items').all();

  it('one signature check for the chain: earlier signatures are not checked, and not stored', async () => {
    // Junk in the inner signatures: only the last one vouches for the chain, so only it is kept.
    const sent = runs.map((run, i) => (i < runs.length - 1 ? { ...run, sig: junk(run.sig) } : run));
    const outcome = await space.ingest(sent, FROM);
    expect(await outcome.durable).toBe(true);
    expect(outcome.errors).toEqual([]);
    expect(titles()).toEqual([
      { id: 'a', title: 'oat milk' },
      { id: 'b', title: 'six eggs' },
    ]);
    expect(await storedSigs()).toEqual([undefined, undefined, undefined, hex(runs[3]!.sig)]);
  });

  it('a forged fact inside the chain, hashes recomputed to the end: refused, the runs before it go in', async () => {
    const outcome = await space.ingest(forgedFrom(runs, 1), FROM);
    expect(await outcome.durable).toBe(true);
    expect(outcome.errors.map((e) => e.type)).toEqual(['bad-signature']);
    expect(outcome.errors[0]).toMatchObject({ origin: runs[0]!.origin, counter: 2 });
    expect(titles()).toEqual([{ id: 'a', title: 'milk' }]);
    expect(space.status().vector).toEqual({ [runs[0]!.origin]: 1 });
    // What went in was checked on its own: it keeps its own signature.
    expect(await storedSigs()).toEqual([hex(runs[0]!.sig)]);
  });

  it('a forged run whose hash does not link to the next run: refused, nothing of it applied', async () => {
    // Runs 3 and 4 untouched (their signature is genuine), run 2 forged with its hash recomputed.
    const sent = [runs[0]!, forgedFrom(runs, 1)[1]!, runs[2]!, runs[3]!];
    const outcome = await space.ingest(sent, FROM);
    expect(await outcome.durable).toBe(true);
    expect(outcome.errors.map((e) => e.type)).toEqual(['bad-signature']);
    expect(titles()).toEqual([{ id: 'a', title: 'milk' }]);
    expect(space.status().vector).toEqual({ [runs[0]!.origin]: 1 });
  });

  it('a forged fact in a run that still claims the genuine hash: refused, nothing of it applied', async () => {
    // Every claim and link as the author made them; only the facts of run 2 changed.
    const bad = runs[1]!;
    const sent = [runs[0]!, { ...bad, facts: [{ ...bad.facts[0]!, data: { title: 'poison' } }] }, ...runs.slice(2)];
    const outcome = await space.ingest(sent, FROM);
    expect(await outcome.durable).toBe(true);
    expect(outcome.errors.map((e) => e.type)).toEqual(['bad-hash']);
    expect(titles()).toEqual([{ id: 'a', title: 'milk' }]);
    expect(space.status().vector).toEqual({ [runs[0]!.origin]: 1 });
  });

  it('a bad last signature: the runs before it, each signed, go in; the last is refused', async () => {
    const sent = [...runs.slice(0, 3), { ...runs[3]!, sig: junk(runs[3]!.sig) }];
    const outcome = await space.ingest(sent, FROM);
    expect(await outcome.durable).toBe(true);
    expect(outcome.errors.map((e) => e.type)).toEqual(['bad-signature']);
    expect(outcome.errors[0]).toMatchObject({ counter: 4 });
    expect(titles()).toEqual([
      { id: 'a', title: 'oat milk' },
      { id: 'b', title: 'eggs' },
    ]);
    expect(await storedSigs()).toEqual(runs.slice(0, 3).map((r) => hex(r.sig)));
  });
});
