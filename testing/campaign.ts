/**
 * The fault campaign: many peers write while the network drops, duplicates and reorders messages,
 * partitions come and go and peers crash and restart. Then everything heals and goes quiet, and the
 * checks are Jepsen-style: every peer has the same state, nothing is pending, and every write any
 * peer saw succeed is present on every peer.
 *
 * One seed drives everything (network, workload, faults), so a failing seed replays exactly:
 * `npm run sim -- --campaign --seed N`. Used by test/sim/campaign*.test.ts and by `npm run sim -- --campaign --seeds N`.
 *
 * This is also the pattern for testing an app's own offline behaviour: peers on a SimNetwork,
 * faults from a seeded generator, Jepsen-style checks at the end.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { createPeer, memoryStorage, type Peer, type PeerInit, type Space, type Storage } from '../engine/index.js';
import { SimNetwork, type SimStats } from '../transports/memory/index.js';

interface SimPeer {
  readonly peer: Peer;
  readonly space: Space;
  readonly storage: Storage;
}

/** A peer on `net` with `space` open; `storage` given to restart a crashed peer on its disk. */
async function startPeer(
  net: SimNetwork,
  init: Partial<PeerInit>,
  storage: Storage = memoryStorage(),
): Promise<SimPeer> {
  const peer = (await createPeer({ ...init, storage, ...net.node() }))._unsafeUnwrap();
  const space = (await peer.space(SPACE))._unsafeUnwrap();
  return { peer, space, storage };
}

export interface CampaignOptions {
  readonly seed: number;
  /** @default 20 */
  readonly peers?: number;
  /** Writes per peer. @default 200 */
  readonly writes?: number;
  /** @default 0.1 */
  readonly drop?: number;
  /** @default 0.1 */
  readonly duplicate?: number;
  /** @default 0.1 */
  readonly reorder?: number;
  /** Random partitions that heal. @default true */
  readonly partitions?: boolean;
  /** Random crashes and restarts. @default true */
  readonly crashes?: boolean;
  /** Extra peer options (ackQuorum, snapshotEvery…). */
  readonly peer?: Partial<PeerInit>;
  /** Called after every round with the fraction of the workload done. */
  readonly onProgress?: (done: number) => void;
}

export interface CampaignResult {
  readonly seed: number;
  /** Empty when every check passed. */
  readonly failures: string[];
  readonly stats: SimStats;
  /** Virtual ms from the end of the workload (heal) until quiet. */
  readonly convergeMs: number;
  readonly acknowledgedWrites: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly stateHash: string;
}

const SPACE = 'campaign';
/** Writes a peer makes per round, at most. */
const WRITES_PER_ROUND = 50;

class Rng {
  readonly #rng: RandomGenerator;
  constructor(seed: number) {
    this.#rng = xoroshiro128plus(seed ^ 0x0c0ffee);
  }
  float(): number {
    return uniformFloat64(this.#rng);
  }
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const n = options.peers ?? 20;
  const writes = options.writes ?? 200;
  const rng = new Rng(options.seed);
  const net = new SimNetwork({
    seed: options.seed,
    latency: { min: 5, max: 60 },
    drop: options.drop ?? 0.1,
    duplicate: options.duplicate ?? 0.1,
    reorder: options.reorder ?? 0.1,
  });
  const peers: (SimPeer | undefined)[] = [];
  const stopped: SimPeer[] = [];
  for (let i = 0; i < n; i++) peers.push(await startPeer(net, options.peer ?? {}));
  const ids = peers.map((p) => p!.peer.id);

  /** Items whose create resolved Ok: they must be on every peer at the end. */
  const acknowledged = new Set<string>();
  const written = new Array<number>(n).fill(0);
  const inFlight: Promise<void>[] = [];
  let crashes = 0;
  let partitions = 0;
  let partitioned = false;

  while (written.some((w) => w < writes)) {
    for (let i = 0; i < n; i++) {
      const p = peers[i];
      if (p === undefined || written[i]! >= writes) continue;
      const count = Math.min(writes - written[i]!, 1 + rng.int(WRITES_PER_ROUND));
      const items = p.space.collection<{ by: number; k: number; note?: string }>('items');
      for (let k = 0; k < count; k++) {
        const id = `p${i}-${written[i]!}`;
        written[i]!++;
        inFlight.push(
          items.create({ by: i, k: written[i]! }, id).match(
            () => void acknowledged.add(id),
            () => undefined, // closed by a crash: indeterminate
          ),
        );
      }
      // Churn on shared items, to exercise LWW and deletes under faults (not part of the set check).
      if (rng.chance(0.3)) {
        const shared = p.space.collection<{ v: number }>('shared');
        const id = `s${rng.int(5)}`;
        const op =
          shared.get(id) === undefined
            ? shared.create({ v: i }, id)
            : rng.chance(0.2)
              ? shared.delete(id)
              : shared.update(id, 'v', written[i]!);
        inFlight.push(
          op.match(
            () => undefined,
            () => undefined,
          ),
        );
      }
    }

    if (options.partitions !== false && rng.chance(0.15)) {
      if (partitioned && rng.chance(0.5)) {
        net.heal();
        partitioned = false;
      } else {
        const groups: string[][] = [[], [], []];
        for (const id of ids) groups[rng.int(1 + rng.int(3))]!.push(id);
        net.partition(groups.filter((g) => g.length > 0));
        partitioned = true;
        partitions++;
      }
    }
    if (options.crashes !== false && rng.chance(0.1)) {
      const i = rng.int(n);
      const p = peers[i];
      if (p !== undefined) {
        net.crash(p.peer.id);
        peers[i] = undefined;
        stopped[i] = p;
        crashes++;
      }
    }
    for (let i = 0; i < n; i++) {
      if (peers[i] === undefined && stopped[i] !== undefined && rng.chance(0.3)) {
        peers[i] = await startPeer(net, options.peer ?? {}, stopped[i]!.storage);
      }
    }
    await net.advance(20 + rng.int(300));
    options.onProgress?.(written.reduce((a, b) => a + b, 0) / (n * writes));
  }

  // Heal everything, restart every crashed peer, and let the network go quiet.
  net.heal();
  for (let i = 0; i < n; i++)
    if (peers[i] === undefined) peers[i] = await startPeer(net, options.peer ?? {}, stopped[i]!.storage);
  await Promise.all(inFlight);
  const healedAt = net.stats().elapsed;
  const quiet = await net.runUntilQuiet({ maxTime: 30 * 60_000 });
  const stats = net.stats();

  const failures: string[] = [];
  if (!quiet) failures.push('the network did not go quiet within 30 virtual minutes');
  const live = peers as SimPeer[];
  const hashes = new Set(live.map((p) => p.space.stateHash()));
  if (hashes.size !== 1) failures.push(`peers disagree: ${hashes.size} different state hashes`);
  for (const [i, p] of live.entries()) {
    const status = p.space.status();
    if (status.pending !== 0) failures.push(`peer ${i} still has ${status.pending} pending facts`);
    const present = new Set(
      p.space
        .collection('items')
        .all()
        .map((item) => item.id),
    );
    const missing = [...acknowledged].filter((id) => !present.has(id));
    if (missing.length > 0)
      failures.push(`peer ${i} lacks ${missing.length} acknowledged writes, e.g. ${missing.slice(0, 3).join(', ')}`);
  }
  const snapshotEvery = options.peer?.snapshotEvery;
  if (snapshotEvery !== undefined) {
    // Pruning keeps every log to the tail since a recent snapshot.
    for (const [i, p] of live.entries()) {
      const length = p.space.status().logLength;
      if (length > 3 * snapshotEvery) failures.push(`peer ${i} log holds ${length} entries (> 3 × snapshotEvery)`);
    }
    // Nothing acknowledged is lost to pruning: its author still finds it through history.
    const sample = [...acknowledged].filter((_, k) => k % Math.max(1, Math.floor(acknowledged.size / 60)) === 0);
    for (const id of sample) {
      const author = Number(id.slice(1, id.indexOf('-')));
      const facts = await live[author]!.space.history('items', id);
      if (facts.isErr() || !facts.value.some((f) => f.type === 'create'))
        failures.push(`history of ${id} on its author lacks its create`);
    }
  }
  const reference = JSON.stringify(live[0]!.space.collection('shared').all());
  for (const [i, p] of live.entries()) {
    if (JSON.stringify(p.space.collection('shared').all()) !== reference)
      failures.push(`peer ${i} shows different shared items`);
  }
  for (const p of live) await p.peer.close();
  return {
    seed: options.seed,
    failures,
    stats,
    convergeMs: stats.elapsed - healedAt,
    acknowledgedWrites: acknowledged.size,
    crashes,
    partitions,
    stateHash: live[0]!.space.stateHash(),
  };
}
