/**
 * The fault campaign: many peers write while the network drops, duplicates and reorders messages,
 * partitions come and go, clocks are off and peers crash, restart or leave for good. Then every
 * fault heals, and a liveness oracle checks Jepsen-style that the peers converged, and in bounded
 * virtual time: every peer holds every fact any peer holds, the same state, nothing pending, every
 * write that succeeded is everywhere, and with pruning on every log is short once the prune window
 * lapses. A network that goes quiet while peers disagree is a failure of its own.
 *
 * Swarm testing (as FoundationDB's and TigerBeetle's simulators do it): each seed draws its own
 * fault *mix* — which faults are on and how hard — so over many seeds the campaign meets schedules a
 * fixed mix never draws: no drops but a partition from the start, heavy duplication, clocks an hour
 * off, crashes between two writes of one step, pruning with peers that never come back, idle
 * stretches longer than the prune window.
 *
 * One seed drives everything (mix, network, workload, faults), so a failing seed replays exactly:
 * `npm run sim -- --campaign --seed N`. Used by test/sim/campaign*.test.ts and by
 * `npm run sim -- --campaign --seeds N`.
 *
 * This is also the pattern for testing an app's own offline behaviour: peers on a SimNetwork,
 * faults from a seeded generator, Jepsen-style checks at the end.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { createPeer, memoryStorage, type Peer, type PeerInit, type Space, type Storage } from '../engine/index.js';
import { faultyStorage, type FaultyStorage } from '../engine/storage/faulty.js';
import { SimNetwork, type SimClock, type SimStats } from '../transports/memory/index.js';
import { SNAPSHOT_STATE_FACTOR } from '../engine/limits.js';

/** Which faults a run injects, and how hard. Drawn from the seed unless given. */
export interface FaultMix {
  readonly drop: number;
  readonly duplicate: number;
  readonly reorder: number;
  /**
   * `random`: partitions come and go during the run; `from-start`: the peers are split before they
   * ever talk, for a long time (then random ones too).
   */
  readonly partitions: 'none' | 'random' | 'from-start';
  /**
   * `random`: processes die at random instants and restart; `storage`: some die between two writes
   * of one step (their storage crashes at a drawn write), with the crashing write landed or not.
   */
  readonly crashes: 'none' | 'random' | 'storage';
  /** Largest clock offset of a peer (ms, either way); 0: every clock right. Clocks heal at the end. */
  readonly skew: number;
  /**
   * Snapshots and pruning: peers snapshot often, prune behind a short window, some leave for good,
   * and the run has idle stretches longer than the window.
   */
  readonly pruning: boolean;
}

export interface CampaignOptions {
  readonly seed: number;
  /** @default 20 */
  readonly peers?: number;
  /** Writes per peer. @default 200 */
  readonly writes?: number;
  /** Faults to use instead of drawing them from the seed (what is given overrides the draw). */
  readonly mix?: Partial<FaultMix>;
  /** Extra peer options (ackQuorum, snapshotEvery…); with snapshotEvery, pruning is on. */
  readonly peer?: Partial<PeerInit>;
  /** Called after every round with the fraction of the workload done. */
  readonly onProgress?: (done: number) => void;
  /** Where a failing run describes every live peer (what it holds, whom it syncs with). */
  readonly log?: (line: string) => void;
  /**
   * A member that does not play by the rules, started once the honest peers run (their ids given),
   * acting once per round after every draw of the campaign's own (it draws from a stream of its
   * own, so the seed's mix and workload stay what they are without it), and leaving for good when
   * the faults heal. Honest peers must converge as without it, and never blame each other.
   */
  readonly adversary?: (net: SimNetwork, space: string, honest: readonly string[]) => Promise<Adversary>;
}

/** A misbehaving member of a campaign (see CampaignOptions.adversary). */
export interface Adversary {
  readonly id: string;
  /** One round's worth of misbehaviour. */
  act(): Promise<void>;
  /** It goes away for good (its links go down). */
  leave(): void;
}

export interface CampaignResult {
  readonly seed: number;
  /** The faults this run injected. */
  readonly mix: FaultMix;
  /** Empty when every check passed. */
  readonly failures: string[];
  readonly stats: SimStats;
  /** Virtual ms from the moment every fault healed until the peers converged (quiet). */
  readonly convergeMs: number;
  readonly acknowledgedWrites: number;
  readonly crashes: number;
  readonly partitions: number;
  /** Peers that left for good during the run. */
  readonly departed: number;
  /**
   * Acknowledged writes of departed peers that every peer holding them took with it when it left
   * (the author and all who acknowledged it departed before anyone else had them): lost by the
   * definition of the quorum, not required anywhere.
   */
  readonly lostWithDeparted: number;
  /** Stretches with no writes, longer than the prune window. */
  readonly idleStretches: number;
  readonly stateHash: string;
}

const SPACE = 'campaign';
/** Writes a peer makes per round, at most. */
const WRITES_PER_ROUND = 50;
/** With pruning on: snapshots every this many entries, pruning behind this window. */
const PRUNING = { snapshotEvery: 300, pruneWindow: 3_000 } as const;
/** After every fault healed, peers must converge within this (plus the largest clock skew). */
const CONVERGE_WITHIN_MS = 30 * 60_000;

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
  pick<T>(values: readonly T[]): T {
    return values[this.int(values.length)]!;
  }
}

/** The mix of one seed: every dimension drawn on its own, so all combinations come up. */
export function drawMix(seed: number): FaultMix {
  // Nearby seeds must draw unrelated mixes: scramble the seed first (murmur3's finalizer).
  let h = seed ^ 0x5a4a7;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  const rng = new Rng((h ^ (h >>> 16)) | 0);
  return {
    drop: rng.pick([0, 0, 0.02, 0.1, 0.3]),
    duplicate: rng.pick([0, 0.1, 0.3]),
    reorder: rng.pick([0, 0.1, 0.3]),
    partitions: rng.pick(['none', 'random', 'random', 'from-start'] as const),
    crashes: rng.pick(['none', 'random', 'random', 'storage'] as const),
    skew: rng.pick([0, 0, 0, 30_000, 3_600_000]),
    pruning: rng.chance(0.3),
  };
}

/** A short description of a mix, for reports. */
export function describeMix(mix: FaultMix): string {
  const parts = [`drop ${mix.drop}`, `dup ${mix.duplicate}`, `reorder ${mix.reorder}`];
  if (mix.partitions !== 'none') parts.push(`partitions ${mix.partitions}`);
  if (mix.crashes !== 'none') parts.push(`crashes ${mix.crashes}`);
  if (mix.skew > 0) parts.push(`skew ±${mix.skew / 1000} s`);
  if (mix.pruning) parts.push('pruning');
  return parts.join(', ');
}

/** One peer's process: its peer and space, its (possibly crash-prone) storage and its clock. */
interface Proc {
  readonly peer: Peer;
  readonly space: Space;
  /** The storage that survives a crash (what a restart opens). */
  readonly disk: Storage;
  readonly setClock: (clock: SimClock) => void;
  /** Item ids of its own writes acknowledged by the quorum (released from the pending set). */
  readonly acked: Set<string>;
  /** Its storage crashed: the process is dead. */
  readonly dead: { readonly value: boolean };
  /** Its storage, when faults are injected into it. */
  readonly faulty: FaultyStorage | undefined;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const n = options.peers ?? 20;
  const writes = options.writes ?? 200;
  const pruningGiven = options.peer?.snapshotEvery !== undefined;
  const mix: FaultMix = { ...drawMix(options.seed), ...(pruningGiven ? { pruning: true } : {}), ...options.mix };
  const peerInit: Partial<PeerInit> = { ...(mix.pruning ? PRUNING : {}), ...options.peer };
  const rng = new Rng(options.seed);
  const net = new SimNetwork({
    seed: options.seed,
    latency: { min: 5, max: 60 },
    drop: mix.drop,
    duplicate: mix.duplicate,
    reorder: mix.reorder,
  });

  const clocks: SimClock[] = [];
  for (let i = 0; i < n; i++) {
    const skewed = mix.skew > 0 && rng.chance(0.3);
    clocks.push(
      skewed ? { offset: Math.round((rng.float() * 2 - 1) * mix.skew), drift: (rng.float() - 0.5) * 0.002 } : {},
    );
  }
  let crashes = 0;
  /** Start process `i` on `disk` (a fresh one at first; the same one after a crash). */
  const start = async (i: number, disk: Storage = memoryStorage(), faults = true): Promise<Proc> => {
    if (faults && mix.crashes === 'storage' && rng.chance(0.3)) {
      // This process dies between two writes: at a drawn write, which lands or not.
      const dead = { value: false, id: '' };
      const faulty = faultyStorage(disk, {
        failAfterWrites: 5 + rng.int(300),
        mode: 'crash',
        landed: rng.chance(0.5),
        onCrash: () => {
          crashes++;
          dead.value = true;
          if (dead.id !== '') net.crash(dead.id);
        },
      });
      const proc = await open(i, faulty, disk, dead, faulty);
      if (proc !== undefined) {
        dead.id = proc.peer.id;
        return proc;
      }
      // It died while starting: the next start goes through.
    }
    return (await open(i, disk, disk, { value: false }, undefined))!;
  };
  const open = async (
    i: number,
    storage: Storage,
    disk: Storage,
    dead: { value: boolean },
    faulty: FaultyStorage | undefined,
  ): Promise<Proc | undefined> => {
    const node = net.node({ clock: clocks[i]! });
    const peer = await createPeer({ ...peerInit, ...node, storage });
    if (peer.isErr()) return undefined;
    const space = await peer.value.space(SPACE);
    if (space.isErr()) {
      net.crash(peer.value.id);
      return undefined;
    }
    const acked = new Set<string>();
    space.value.subscribe((event) => {
      if (event.source !== 'ack') return;
      for (const change of event.changes) if (change.collection === 'items') acked.add(change.id);
    });
    return { peer: peer.value, space: space.value, disk, setClock: node.setClock, acked, dead, faulty };
  };

  const procs: (Proc | undefined)[] = [];
  /** Processes that died and have not restarted yet, and those that left for good. */
  const down: (Proc | undefined)[] = new Array<Proc | undefined>(n).fill(undefined);
  const departed = new Map<number, Proc>();
  /**
   * Writes each departed peer had acknowledged that a peer still in the run holds: what must be
   * everywhere at the end. An acknowledgement says `ackQuorum` other peers held the write, not that
   * they stay: when the last peer holding it leaves too, the write goes with them.
   */
  const requiredOfDeparted = new Map<number, Set<string>>();
  let lostWithDeparted = 0;
  const ackedUnheld: string[] = [];
  const heldByStayer = (id: string): boolean => {
    for (let j = 0; j < n; j++) {
      const q = departed.has(j) ? undefined : (procs[j] ?? down[j]);
      if (q?.space.collection('items').get(id) !== undefined) return true;
    }
    return false;
  };
  /** `p` (process `i`) left for good: what it alone held with other departed peers is gone. */
  const leftWith = (i: number, p: Proc): void => {
    requiredOfDeparted.set(i, new Set(p.acked));
    // An acknowledgement is a claim that another peer held the write: one held by nobody else is a bug.
    const others = [...procs, ...down, ...departed.values()].filter((q) => q !== undefined && q !== p);
    const unheld = [...p.acked].filter((id) => !others.some((q) => q!.space.collection('items').get(id) !== undefined));
    if (unheld.length > 0)
      ackedUnheld.push(`peer ${i} left with ${unheld.length} acknowledged writes nobody else held, e.g. ${unheld[0]}`);
    for (const ids of requiredOfDeparted.values()) {
      for (const id of ids) {
        if (heldByStayer(id)) continue;
        ids.delete(id);
        lostWithDeparted++;
      }
    }
  };
  for (let i = 0; i < n; i++) procs.push(await start(i));
  const ids = procs.map((p) => p!.peer.id);
  // (No await without one: the run of a seed stays what it was, message for message.)
  const adversary = options.adversary === undefined ? undefined : await options.adversary(net, SPACE, ids);

  let partitions = 0;
  let partitioned = false;
  const split = () => {
    const groups: string[][] = [[], [], []];
    for (const id of ids) groups[rng.int(1 + rng.int(3))]!.push(id);
    net.partition(groups.filter((g) => g.length > 0));
    partitioned = true;
    partitions++;
  };
  /** Until then (virtual ms since the start), the partition from the start holds. */
  let holdPartitionUntil = 0;
  if (mix.partitions === 'from-start') {
    split();
    holdPartitionUntil = 40_000 + rng.int(80_000);
  }

  /** Items whose create resolved Ok on their author (durable there), by author. */
  const durable: Set<string>[] = Array.from({ length: n }, () => new Set<string>());
  const written = new Array<number>(n).fill(0);
  const inFlight: Promise<void>[] = [];
  let idleStretches = 0;

  while (written.some((w, i) => w < writes && !departed.has(i))) {
    for (let i = 0; i < n; i++) {
      const p = procs[i];
      if (p === undefined || written[i]! >= writes) continue;
      const count = Math.min(writes - written[i]!, 1 + rng.int(WRITES_PER_ROUND));
      const items = p.space.collection<{ by: number; k: number }>('items');
      for (let k = 0; k < count; k++) {
        const id = `p${i}-${written[i]!}`;
        written[i]!++;
        inFlight.push(
          items.create({ by: i, k: written[i]! }, id).match(
            () => void durable[i]!.add(id),
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

    const elapsed = net.stats().elapsed;
    if (mix.partitions !== 'none' && elapsed >= holdPartitionUntil && rng.chance(0.15)) {
      if (partitioned && rng.chance(0.5)) {
        net.heal();
        partitioned = false;
      } else split();
    }
    if (mix.crashes === 'random' && rng.chance(0.1)) {
      const i = rng.int(n);
      const p = procs[i];
      if (p !== undefined) {
        net.crash(p.peer.id);
        procs[i] = undefined;
        down[i] = p;
        crashes++;
      }
    }
    // Processes whose storage crashed are down too.
    for (let i = 0; i < n; i++) {
      const p = procs[i];
      if (p?.dead.value === true) {
        procs[i] = undefined;
        down[i] = p;
      }
    }
    if (mix.pruning && rng.chance(0.1) && departed.size < n / 4) {
      // A peer leaves for good (its unacknowledged writes with it).
      const i = rng.int(n);
      const p = procs[i];
      if (p !== undefined) {
        net.crash(p.peer.id);
        procs[i] = undefined;
        departed.set(i, p);
        leftWith(i, p);
      }
    }
    for (let i = 0; i < n; i++) {
      if (procs[i] === undefined && down[i] !== undefined && !departed.has(i) && rng.chance(0.3)) {
        procs[i] = await start(i, down[i]!.disk);
        down[i] = undefined;
      }
    }
    if (mix.pruning && rng.chance(0.05)) {
      // Nobody writes for longer than the prune window.
      idleStretches++;
      await net.advance((peerInit.pruneWindow ?? PRUNING.pruneWindow) * 2 + rng.int(5_000));
    }
    if (adversary !== undefined) await adversary.act();
    await net.advance(20 + rng.int(300));
    options.onProgress?.(written.reduce((a, b) => a + b, 0) / (n * writes));
  }

  // Heal everything: the network, every clock, every crashed process that has not left for good.
  adversary?.leave();
  net.heal();
  for (let i = 0; i < n; i++) clocks[i] = {};
  for (const p of procs) {
    p?.setClock({});
    p?.faulty?.heal(); // a disk that has not crashed yet no longer will
  }
  for (let i = 0; i < n; i++) {
    const p = procs[i];
    if (p?.dead.value === true) {
      procs[i] = undefined;
      down[i] = p;
    }
    if (procs[i] === undefined && !departed.has(i)) {
      procs[i] = await start(i, down[i]!.disk, false);
      down[i] = undefined;
    }
  }
  await Promise.all(inFlight);
  const healedAt = net.stats().elapsed;
  const bound = CONVERGE_WITHIN_MS + mix.skew;
  const quiet = await net.runUntilQuiet({ maxTime: bound });
  const convergeMs = net.stats().elapsed - healedAt;

  const failures: string[] = [...ackedUnheld];
  const live = procs.filter((p): p is Proc => p !== undefined);
  const agree = new Set(live.map((p) => p.space.stateHash())).size === 1;
  if (!quiet)
    failures.push(`the peers did not converge within ${bound / 60_000} virtual minutes of the last fault healing`);
  else if (!agree) failures.push('the network went quiet while peers disagree');
  checkConverged(live, failures);
  if (adversary !== undefined) {
    // Whatever it did, no honest peer was made to blame another.
    for (const p of live) {
      const blamed = p.space
        .status()
        .faults.filter((f) =>
          f.type === 'equivocation'
            ? ids.includes(f.origin ?? '')
            : (f.type === 'invalid-input' || f.type === 'bad-snapshot') && ids.includes(f.peer),
        );
      for (const f of blamed.slice(0, 1)) {
        const who = ids.indexOf(f.type === 'equivocation' ? f.origin! : f.peer);
        failures.push(`peer ${ids.indexOf(p.peer.id)} blamed honest peer ${who}: ${f.type} ${f.message}`);
      }
    }
  }
  if (process.env.CAMPAIGN_DEBUG && !quiet) {
    const { decodeFrame } = await import('../engine/sync/codec.js');
    net.intercept((from, to, frame) => {
      const m = decodeFrame(frame);
      const t = m.isOk() ? m.value.type : '?';
      console.log(
        'late',
        net.stats().elapsed,
        from.slice(-4),
        to.slice(-4),
        t,
        m.isOk() && m.value.type === 'error' ? m.value.code : '',
        frame.length,
      );
      return true;
    });
    await net.advance(600_000);
  }
  if (process.env.CAMPAIGN_DEBUG && failures.length > 0) {
    for (const [k, p] of live.entries()) {
      const st = p.space.status();
      console.log(
        k,
        p.peer.id.slice(-6),
        'pending',
        st.pending,
        'peers',
        st.peers.length,
        'logStart',
        st.logStart,
        'len',
        st.logLength,
        JSON.stringify(sorted(st.vector).map(([o, c]) => o.slice(-4) + ':' + c)),
      );
    }
  }

  // Every write that became durable on a live peer is everywhere; of a departed peer, every write the
  // quorum acknowledged before it left, unless all who held it left too (see `requiredOfDeparted`).
  for (let i = 0; i < n; i++) {
    const required = requiredOfDeparted.get(i) ?? durable[i]!;
    for (const [k, p] of live.entries()) {
      const present = new Set(
        p.space
          .collection('items')
          .all()
          .map((item) => item.id),
      );
      const missing = [...required].filter((id) => !present.has(id));
      if (missing.length > 0) {
        failures.push(
          `peer ${k} lacks ${missing.length} acknowledged writes of peer ${i}, e.g. ${missing.slice(0, 3).join(', ')}`,
        );
      }
    }
  }
  const snapshotEvery = peerInit.snapshotEvery;
  if (snapshotEvery !== undefined && quiet) {
    // Once the prune window lapses (peers that left are past it), every log is short.
    await net.advance((peerInit.pruneWindow ?? 0) + 10_000);
    await net.runUntilQuiet({ maxTime: bound });
    for (const [i, p] of live.entries()) {
      const length = p.space.status().logLength;
      // Snapshots come every max(snapshotEvery, items / SNAPSHOT_STATE_FACTOR) entries (limits.ts);
      // the items: those written, plus the five shared ones at most.
      const items = p.space.collection('items').all().length + 5;
      const every = Math.max(snapshotEvery, Math.ceil(items / SNAPSHOT_STATE_FACTOR));
      if (length > 3 * every)
        failures.push(`peer ${i} log holds ${length} entries (> 3 × ${every}, the snapshot interval)`);
    }
    // Nothing durable is lost to pruning: its author still finds it through history.
    const all = [...durable.entries()].filter(([i]) => !departed.has(i)).flatMap(([, ids]) => [...ids]);
    const sample = all.filter((_, k) => k % Math.max(1, Math.floor(all.length / 60)) === 0);
    for (const id of sample) {
      const author = Number(id.slice(1, id.indexOf('-')));
      const facts = await net.until(procs[author]!.space.history('items', id));
      if (facts.isErr() || !facts.value.some((f) => f.type === 'create'))
        failures.push(
          `history of ${id} on its author lacks its create${facts.isErr() ? `: ${facts.error.message}` : `: ${facts.value.map((f) => f.type).join(',')}`}`,
        );
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
    mix,
    failures,
    stats: net.stats(),
    convergeMs,
    acknowledgedWrites: durable.reduce((sum, ids) => sum + ids.size, 0),
    crashes,
    partitions,
    departed: departed.size,
    lostWithDeparted,
    idleStretches,
    stateHash: live[0]!.space.stateHash(),
  };
}

/** Every live peer holds the same facts (same vector), the same state, and nothing pending. */
function checkConverged(live: readonly Proc[], failures: string[]): void {
  const [first, ...rest] = live;
  if (first === undefined) return;
  const vector = JSON.stringify(sorted(first.space.status().vector));
  for (const [k, p] of rest.entries()) {
    if (JSON.stringify(sorted(p.space.status().vector)) !== vector) {
      failures.push(`peer ${k + 1} holds other facts than peer 0 (vectors differ)`);
    }
    if (p.space.stateHash() !== first.space.stateHash()) failures.push(`peer ${k + 1} has another state than peer 0`);
  }
  for (const [k, p] of live.entries()) {
    const pending = p.space.status().pending;
    if (pending !== 0) failures.push(`peer ${k} still has ${pending} pending facts`);
  }
}

function sorted(vector: Record<string, number>): [string, number][] {
  return Object.entries(vector).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}
