/**
 * Bad input from a peer gets a typed error and changes nothing: not the state, not the log, not
 * `stateHash()`.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createPeer, memoryStorage, type Env, type Space } from '../../engine/index.js';
import { HlcClock } from '../../engine/facts/hlc.js';
import { createSigner, identityFromSeed, SignatureVerifier } from '../../engine/facts/sign.js';
import { computeHash } from '../../engine/facts/codec.js';
import { runOf, runsOf, verifyRun, type FactBody, type Run } from '../../engine/facts/run.js';
import type { Fact, PeerId } from '../../engine/facts/types.js';
import { MAX_VALUE_BYTES } from '../../engine/limits.js';
import type { SpaceImpl } from '../../engine/space/space.js';
import type { FactEntry } from '../../engine/log/fact-entry.js';
import { unwrap } from '../support/peers.js';

const NOW = 1_700_000_000_000;

/**
 * A clock fixed at NOW + offset, no timers, and random bytes drawn from `seed`: the identity key of a
 * peer comes from them, so peers that must be distinct (author and receiver) take distinct seeds.
 */
function fixedEnv(offset = 0, seed = 1): Env {
  return {
    now: () => NOW + offset,
    setTimer: () => ({ cancel: () => {} }),
    randomBytes: (n) => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff),
    random: () => 0.5,
  };
}

/** An author's facts in space `s`, as runs ready to send (one per write). */
async function authorRuns(
  writes: (space: Space) => Promise<void>,
  env = fixedEnv(),
): Promise<{ runs: Run[]; entries: FactEntry[] }> {
  const storage = memoryStorage();
  const peer = unwrap(await createPeer({ storage, env }));
  const space = unwrap(await peer.space('s'));
  await writes(space);
  await peer.close();
  const log = unwrap(await storage.openLog('s'));
  const entries = unwrap(await log.query('start', 'end')).entries;
  return { runs: runsOf(entries), entries };
}

/** Authors draw their identity from seed 1 (or take one given); the receiver from seed 2. */
const RECEIVER_SEED = 2;

async function receiver(): Promise<SpaceImpl> {
  const peer = unwrap(await createPeer({ storage: memoryStorage(), env: fixedEnv(0, RECEIVER_SEED) }));
  return unwrap(await peer.space('s')) as SpaceImpl;
}

const FROM = '12D3KooWSender' as PeerId;

/** Everything observable about a space's content. */
const snapshotOf = (space: SpaceImpl) => ({
  hash: space.stateHash(),
  status: { ...space.status(), faults: [] },
  items: space.collection('items').all(),
});

async function expectRefused(space: SpaceImpl, runs: Run[], type: string): Promise<void> {
  const before = snapshotOf(space);
  const outcome = await space.ingest(runs, FROM);
  await outcome.durable;
  expect(outcome.errors.map((e) => e.type)).toEqual([type]);
  expect(snapshotOf(space)).toEqual(before);
}

describe('facts refused with a typed error, changing nothing', () => {
  let runs: Run[];
  let space: SpaceImpl;

  beforeEach(async () => {
    ({ runs } = await authorRuns(async (s) => {
      const items = s.collection('items');
      unwrap(await items.create({ title: 'milk' }, 'a'));
      unwrap(await items.update('a', 'title', 'oat milk'));
      unwrap(await items.create({ title: 'eggs' }, 'b'));
    }));
    space = await receiver();
  });

  it('accepts the untampered runs (the control)', async () => {
    // The receiver is another peer than the author: it must not take the facts for its own.
    expect(runs[0]!.origin).not.toBe((await receiver()).replica.origin);
    expect(space.replica.origin).not.toBe(runs[0]!.origin);
    const outcome = await space.ingest(runs, FROM);
    expect(await outcome.durable).toBe(true);
    expect(outcome.errors).toEqual([]);
    expect(space.collection('items').all()).toEqual([
      { id: 'a', title: 'oat milk' },
      { id: 'b', title: 'eggs' },
    ]);
  });

  it('bad hash: a changed value no longer hashes to the signed hash', async () => {
    const run = runs[0]!;
    const tampered: Run = { ...run, facts: [{ ...run.facts[0]!, data: { title: 'poison' } }] };
    await expectRefused(space, [tampered], 'bad-hash');
  });

  it("bad hash: the claimed hash is not the chain's", async () => {
    const hash = runs[0]!.hash.slice();
    hash[5]! ^= 0xff;
    await expectRefused(space, [{ ...runs[0]!, hash }], 'bad-hash');
  });

  it('bad signature', async () => {
    const sig = runs[0]!.sig.slice();
    sig[10]! ^= 1;
    await expectRefused(space, [{ ...runs[0]!, sig }], 'bad-signature');
  });

  it('bad signature: signed by someone else', async () => {
    const stranger = unwrap(createSigner(unwrap(await identityFromSeed(new Uint8Array(32).fill(3)))));
    await expectRefused(space, [{ ...runs[0]!, sig: await stranger.sign(runs[0]!.hash) }], 'bad-signature');
  });

  it('broken prev: the next fact does not link to the one we hold', async () => {
    expect(await (await space.ingest([runs[0]!], FROM)).durable).toBe(true);
    const prev = runs[1]!.prev!.slice();
    prev[0]! ^= 1;
    await expectRefused(space, [{ ...runs[1]!, prev }], 'broken-chain');
  });

  it('wrong counter: a gap is refused with out-of-order, and the run waits until the gap fills', async () => {
    const verified = await verifyRun(
      's',
      runs[2]!,
      undefined,
      new HlcClock(fixedEnv(), 60_000),
      new SignatureVerifier(),
    );
    expect(verified.isErr() && verified.error.type).toBe('out-of-order');
    const before = snapshotOf(space);
    const outcome = await space.ingest([runs[2]!], FROM);
    // Reordering is normal on a network: not the sender's fault, no strike.
    expect(outcome.errors).toEqual([]);
    expect(snapshotOf(space)).toEqual(before);
    // Once the gap fills, the waiting run goes in too.
    await (
      await space.ingest([runs[0]!, runs[1]!], FROM)
    ).durable;
    await (
      await space.ingest([], FROM)
    ).durable;
    expect(space.status().vector).toEqual({ [runs[0]!.origin]: 3 });
  });

  it('wrong counter: zero', async () => {
    await expectRefused(space, [{ ...runs[0]!, first: 0 }], 'malformed');
  });

  it('too far in the future (clock drift)', async () => {
    const ahead = await authorRuns(
      async (s) => {
        unwrap(await s.collection('items').create({ title: 'from the future' }, 'f'));
      },
      fixedEnv(2 * 60_000),
    );
    const before = snapshotOf(space);
    const outcome = await space.ingest(ahead.runs, FROM);
    // Not the sender's fault (its clock is off): not stored, no strike; offered again later.
    expect(outcome.errors).toEqual([]);
    expect(outcome.covered.size).toBe(0);
    expect(snapshotOf(space)).toEqual(before);
  });

  it('oversized value', async () => {
    const big: FactBody = { ...runs[0]!.facts[0]!, data: { title: 'x'.repeat(MAX_VALUE_BYTES + 1) } };
    await expectRefused(space, [{ ...runs[0]!, facts: [big] }], 'too-large');
  });

  it('an update with two fields', async () => {
    const run = runs[1]!;
    await (
      await space.ingest([runs[0]!], FROM)
    ).durable;
    const two: FactBody = { ...run.facts[0]!, data: { title: 'a', qty: 1 } };
    await expectRefused(space, [{ ...run, facts: [two] }], 'malformed');
  });

  it('an update with no field', async () => {
    await (
      await space.ingest([runs[0]!], FROM)
    ).durable;
    await expectRefused(space, [{ ...runs[1]!, facts: [{ ...runs[1]!.facts[0]!, data: {} }] }], 'malformed');
  });

  it('a non-JSON value', async () => {
    const nan: FactBody = { ...runs[0]!.facts[0]!, data: { title: Number.NaN } };
    await expectRefused(space, [{ ...runs[0]!, facts: [nan] }], 'malformed');
  });

  it('a bad item id', async () => {
    await expectRefused(space, [{ ...runs[0]!, facts: [{ ...runs[0]!.facts[0]!, item: '' }] }], 'malformed');
  });

  it('an origin that is not a PeerId', async () => {
    await expectRefused(space, [{ ...runs[0]!, origin: 'mallory' as PeerId }], 'malformed');
  });
});

describe('equivocation', () => {
  it('keeps the first of two signed facts for one counter, and records the proof', async () => {
    const key = unwrap(await identityFromSeed(new Uint8Array(32).fill(9)));
    const author = async (title: string) => {
      const storage = memoryStorage();
      const peer = unwrap(await createPeer({ storage, env: fixedEnv(), identity: key }));
      const space = unwrap(await peer.space('s'));
      unwrap(await space.collection('items').create({ title }, 'a'));
      await peer.close();
      const entries = unwrap(await unwrap(await storage.openLog('s')).query('start', 'end')).entries;
      return runOf(entries, entries[entries.length - 1]!.sig!);
    };
    const first = await author('milk');
    const second = await author('poison');
    const space = await receiver();
    await (
      await space.ingest([first], FROM)
    ).durable;
    const before = space.stateHash();
    const outcome = await space.ingest([second], FROM);
    await outcome.durable;
    expect(space.stateHash()).toBe(before);
    expect(space.collection('items').get('a')).toEqual({ id: 'a', title: 'milk' });
    const faults = space.status().faults;
    expect(faults.map((f) => f.type)).toEqual(['equivocation']);
    expect(faults[0]!.origin).toBe(first.origin);
  });
});

// Facts must hash the same on sender and receiver for the control case above to pass at all.
it('recomputes the same hash the author computed', async () => {
  const { entries } = await authorRuns(async (s) => {
    unwrap(await s.collection('items').create({ title: 'milk' }, 'a'));
  });
  const fact = entries[0]! as Fact;
  expect(unwrap(computeHash('s', fact))).toEqual(fact.hash);
});
