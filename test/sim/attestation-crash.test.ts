/**
 * Crash at every write point of attestation and adoption. Two scenarios, each run once per write k
 * with the k-th write lost, then with it landed but never acknowledged:
 *
 * - An attester's disk dies while it writes, snapshots and attests its neighbour's snapshots (the
 *   attestation book is persisted with the snapshot metadata).
 * - A peer that was away past the prune point dies while it adopts an attested snapshot (chunks,
 *   tips, root, history heads, the adopted list, the attestations, acknowledgements).
 *
 * Restarted on the same disk, the peer must hold everything it acknowledged, converge with the others,
 * record no fault, and still find every fact through `history()` — pruned or adopted.
 */
import { describe, expect, it } from 'vitest';
import { createPeer, memoryStorage, type Peer, type Space, type Storage } from '../../engine/index.js';
import { faultyStorage } from '../../testing/index.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { unwrap } from '../support/peers.js';

const SPACE = 'at';
const OPTIONS = { snapshotEvery: 10, pruneWindow: 2_000 };

interface Node {
  readonly peer: Peer;
  readonly space: Space;
}

async function open(net: SimNetwork, storage: Storage): Promise<Node> {
  const peer = unwrap(await createPeer({ storage, ...net.node(), ...OPTIONS }));
  return { peer, space: unwrap(await peer.space(SPACE)) };
}

const items = (n: Node) => n.space.collection<{ v: number }>('items');

/**
 * A, B and C; C is away while A and B write 40 items, snapshot, attest each other and prune; then C
 * comes back and catches up from their snapshot. `who` names the peer whose disk crashes at write
 * `k` (B: the attester, C: the adopter); undefined k runs without a crash and counts the writes.
 */
async function scenario(
  who: 'B' | 'C',
  k: number | undefined,
  landed: boolean,
): Promise<{ writes: number; pruned: number; adopted: boolean }> {
  const net = new SimNetwork({ seed: 71 });
  const inner = memoryStorage();
  let crashId: string | undefined;
  const disk = faultyStorage(inner, {
    ...(k === undefined ? {} : { failAfterWrites: k }),
    mode: 'crash',
    landed,
    onCrash: () => {
      if (crashId !== undefined) net.crash(crashId);
    },
  });
  const a = await open(net, memoryStorage());
  const acknowledged = new Set<string>();
  const opened = await createPeer({ storage: who === 'B' ? disk : memoryStorage(), ...net.node(), ...OPTIONS });
  if (who === 'B' && opened.isOk()) crashId = opened.value.id;
  const b = opened.isOk() ? await opened.value.space(SPACE) : undefined;
  const bNode = opened.isOk() && b?.isOk() === true ? { peer: opened.value, space: b.value } : undefined;
  const cStorage = who === 'C' ? disk : memoryStorage();
  const cInner = who === 'C' ? inner : cStorage;
  let c: Node | undefined;
  const cOpened = await createPeer({ storage: cStorage, ...net.node(), ...OPTIONS });
  if (who === 'C' && cOpened.isOk()) crashId = cOpened.value.id;
  if (cOpened.isOk()) {
    const space = await cOpened.value.space(SPACE);
    if (space.isOk()) c = { peer: cOpened.value, space: space.value };
  }
  const ids = [a.peer.id, bNode?.peer.id ?? '', c?.peer.id ?? ''];

  unwrap(await items(a).create({ v: -1 }, 'first'));
  await net.advance(5_000);
  net.partition([[ids[0]!, ids[1]!], [ids[2]!]]);
  for (let i = 0; i < 40; i++) {
    const writer = i % 2 === 0 || bNode === undefined || disk.crashed ? a : bNode;
    if ((await items(writer).create({ v: i }, `x${i}`)).isOk() && !(writer === bNode && disk.crashed))
      acknowledged.add(`x${i}`);
  }
  await net.advance(30_000);
  net.heal();
  await net.advance(60_000);
  const writes = disk.writes;
  const trace = `crash of ${who} at write ${k} (${landed ? 'landed' : 'lost'}): ${disk.trace.slice(-3).join(' | ')}`;

  // Restart the crashed peer on what reached its disk (or close it cleanly) and let things settle.
  if (disk.crashed && crashId !== undefined) net.crash(crashId);
  const restartB = who === 'B' && disk.crashed;
  const restartC = who === 'C' && disk.crashed;
  const bAfter = restartB ? await open(net, inner) : bNode;
  const cAfter = restartC ? await open(net, cInner) : c;
  expect(bAfter, trace).toBeDefined();
  expect(cAfter, trace).toBeDefined();
  await net.advance(120_000);
  for (const [name, n] of [
    ['B', bAfter!],
    ['C', cAfter!],
  ] as const) {
    expect(n.space.stateHash(), `${trace}: ${name}`).toBe(a.space.stateHash());
    expect(n.space.status().faults, `${trace}: ${name}`).toEqual([]);
    expect(n.space.status().pending, `${trace}: ${name}`).toBe(0);
    for (const id of acknowledged) expect(items(n).get(id), `${trace}: ${name} ${id}`).toBeDefined();
  }
  for (const id of ['first', 'x0', 'x1', 'x39']) {
    if (id !== 'first' && !acknowledged.has(id)) continue;
    const history = unwrap(await net.until(cAfter!.space.history('items', id)));
    expect(
      history.map((f) => f.type),
      `${trace}: history of ${id} on C`,
    ).toEqual(['create']);
  }
  // C holds fewer entries than there are facts: it adopted a snapshot rather than replaying them.
  return { writes, pruned: a.space.status().logStart, adopted: cAfter!.space.status().logLength < 41 };
}

describe('crash at every write point of attestation and adoption', () => {
  it('without a crash, A and B prune behind an attested snapshot and C adopts it (the control)', async () => {
    const control = await scenario('C', undefined, false);
    expect(control.writes).toBeGreaterThan(10);
    expect(control.pruned).toBeGreaterThan(0);
    expect(control.adopted).toBe(true);
  });

  for (const who of ['B', 'C'] as const) {
    it(`${who === 'B' ? 'the attester' : 'the adopter'} loses nothing, whichever write the crash hits`, async () => {
      const { writes } = await scenario(who, undefined, false);
      expect(writes).toBeGreaterThan(10);
      for (let k = 0; k < writes; k++) {
        await scenario(who, k, false);
        await scenario(who, k, true);
      }
    }, 900_000);
  }
});

describe('a crash between a snapshot and its own attestation (campaign seed 2011)', () => {
  /**
   * B snapshots every 10 entries; A never snapshots on its own, it only attests what B asks about.
   * B's disk dies at write `crashAt` (undefined: no crash); B restarts on what reached its disk.
   */
  async function run(crashAt: number | undefined) {
    const net = new SimNetwork({ seed: 5 });
    const open = async (storage: Storage, snapshotEvery: number) => {
      const peer = unwrap(await createPeer({ storage, ...net.node(), snapshotEvery, pruneWindow: 2_000 }));
      return { peer, space: unwrap(await peer.space(SPACE)) };
    };
    const a = await open(memoryStorage(), 1_000);
    const inner = memoryStorage();
    const crashed: string[] = [];
    const disk = faultyStorage(inner, {
      ...(crashAt === undefined ? {} : { failAfterWrites: crashAt }),
      mode: 'crash',
      landed: false,
      onCrash: () => crashed.forEach((id) => net.crash(id)),
    });
    let b = await open(disk, 10);
    crashed.push(b.peer.id);
    await net.advance(2_000);
    // Writes after the crash fail: the process is dead.
    for (let i = 0; i < 25; i++) void (await items(b).create({ v: i }, `x${i}`));
    await net.advance(30_000);
    if (disk.crashed) {
      net.crash(b.peer.id);
      b = await open(inner, 10);
      await net.advance(60_000);
    }
    return { a, b, trace: [...disk.trace] };
  }

  it('the restarted peer asks for attestations of its latest snapshot again, and prunes behind it', async () => {
    const control = await run(undefined);
    const status = control.b.space.status();
    expect(status.snapshot).toBeDefined();
    expect(status.logStart).toBe(status.snapshot!.sequenceId);
    // The write that saves the attestation of B's last snapshot: the first attestations write after
    // the last snapshot's metadata.
    const lastSnapshot = control.trace.findLastIndex((w) => /setMetadata .*"snapshot":/.test(w));
    const crashAt = control.trace.findIndex(
      (w, k) => k > lastSnapshot && w.startsWith('setMeta space/at/attestations'),
    );
    expect(lastSnapshot).toBeGreaterThan(0);
    expect(crashAt).toBeGreaterThan(lastSnapshot);

    const { a, b } = await run(crashAt);
    const after = b.space.status();
    expect(b.space.stateHash()).toBe(a.space.stateHash());
    expect(after.faults).toEqual([]);
    expect(after.snapshot).toBeDefined();
    // Before the fix: B's own attestation of its latest snapshot was lost with the crash, and after the
    // restart nobody asked for attestations again, so B never pruned behind it.
    expect(after.logStart).toBe(after.snapshot!.sequenceId);
  });
});
