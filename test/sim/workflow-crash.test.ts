/**
 * Crash at every write point of the snapshot, history and prune workflows: a peer writes, snapshots
 * (chunks, root, history blobs, metadata), prunes (truncate) and does it again, while its disk dies
 * at the k-th write — with the write lost, or landed but never acknowledged. Restarted on the same
 * disk, it must hold every write it acknowledged (in its state, and in its history even where the log
 * was pruned), finish the interrupted workflow, and converge with the peer that never crashed.
 */
import { describe, expect, it } from 'vitest';
import type { ResultAsync } from 'neverthrow';
import { createPeer, memoryStorage, type Peer, type Space, type Storage, type WriteError } from '../../engine/index.js';
import { faultyStorage } from '../../testing/index.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { unwrap } from '../support/peers.js';

const SPACE = 'w';
const OPTIONS = { snapshotEvery: 12, pruneWindow: 60_000 };

interface Outcome {
  readonly writes: number;
  readonly trace: readonly string[];
}

async function open(net: SimNetwork, storage: Storage): Promise<{ peer: Peer; space: Space }> {
  const peer = unwrap(await createPeer({ storage, ...net.node(), ...OPTIONS }));
  return { peer, space: unwrap(await peer.space(SPACE)) };
}

/** Runs the scenario with A's disk crashing at write `k` (never when undefined). */
async function scenario(k: number | undefined, landed: boolean): Promise<Outcome> {
  const net = new SimNetwork({ seed: 61 });
  const inner = memoryStorage();
  let aId: string | undefined;
  const disk = faultyStorage(inner, {
    ...(k === undefined ? {} : { failAfterWrites: k }),
    mode: 'crash',
    landed,
    onCrash: () => {
      if (aId !== undefined) net.crash(aId);
    },
  });
  const acknowledged = new Set<string>();
  const deleted = new Set<string>();
  /** Deletes that failed in the crash: they may or may not have landed. */
  const indeterminate = new Set<string>();
  const b = await open(net, memoryStorage());
  const opened = await createPeer({ storage: disk, ...net.node(), ...OPTIONS });
  if (opened.isOk()) {
    aId = opened.value.id;
    const space = await opened.value.space(SPACE);
    if (space.isOk()) {
      const items = space.value.collection<{ n: number }>('items');
      const write = async (what: ResultAsync<unknown, WriteError>, id: string, kind: 'create' | 'delete') => {
        if ((await what).isOk()) (kind === 'create' ? acknowledged : deleted).add(id);
        else if (kind === 'delete') indeterminate.add(id);
      };
      for (let round = 0; round < 3 && !disk.crashed; round++) {
        for (let i = 0; i < 10; i++) await write(items.create({ n: i }, `r${round}-${i}`), `r${round}-${i}`, 'create');
        if (round > 0) await write(items.delete(`r${round - 1}-0`), `r${round - 1}-0`, 'delete');
        unwrap(await b.space.collection('items').create({ n: -round }, `b${round}`));
        await net.runUntilQuiet();
      }
    }
  }
  const outcome = { writes: disk.writes, trace: disk.trace };
  if (disk.crashed) net.crash(aId ?? '');
  else
    await opened.match(
      (p) => p.close(),
      () => undefined,
    );

  // Restart on what reached the disk.
  const a = await open(net, inner);
  expect(await net.runUntilQuiet()).toBe(true);
  const seed = `crash at write ${k} (${landed ? 'landed' : 'lost'}): ${outcome.trace.slice(-3).join(' | ')}`;
  expect(a.space.stateHash(), seed).toBe(b.space.stateHash());
  expect(a.space.status().pending, seed).toBe(0);
  expect(a.space.status().faults, seed).toEqual([]);
  for (const id of acknowledged) {
    if (indeterminate.has(id)) continue;
    const present = !deleted.has(id);
    expect(a.space.collection('items').get(id) !== undefined, `${seed}: ${id}`).toBe(present);
    expect(b.space.collection('items').get(id) !== undefined, `${seed}: ${id} on B`).toBe(present);
  }
  // Nothing acknowledged was lost to pruning: history still finds the create of an early item.
  if (acknowledged.has('r0-1')) {
    const history = unwrap(await a.space.history('items', 'r0-1'));
    expect(
      history.map((f) => f.type),
      seed,
    ).toContain('create');
  }
  // The disk replays to the same state (chains verify on open).
  await a.peer.close();
  const again = await open(net, inner);
  expect(again.space.stateHash(), seed).toBe(b.space.stateHash());
  return outcome;
}

describe('crash at every write point of the snapshot, history and prune workflows', () => {
  it('without a crash, the scenario snapshots and prunes (the control)', async () => {
    const outcome = await scenario(undefined, false);
    const kinds = outcome.trace.join('\n');
    expect(kinds).toMatch(/writeBlob/); // snapshot chunks, roots, history blobs
    expect(kinds).toMatch(/setMetadata/); // pending, then snapshot + history
    expect(kinds).toMatch(/truncate/); // pruning
  });

  it('nothing acknowledged is lost, whichever write the crash hits', async () => {
    const { writes } = await scenario(undefined, false);
    expect(writes).toBeGreaterThan(20);
    for (let k = 0; k < writes; k++) {
      await scenario(k, false);
      await scenario(k, true);
    }
  }, 600_000);
});
