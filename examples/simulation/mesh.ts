/**
 * A random mesh of simulated peers writing and converging: the scenario behind `npm run sim` and
 * the 1,000-peer benchmark. Everything derives from the seed.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { createPeer, memoryStorage, type Space } from '../../engine/index.js';
import type { SpaceImpl } from '../../engine/space/space.js';
import { SimNetwork, type SimStats } from '../../transports/memory/index.js';

/** Virtual time a mesh run waits for convergence before it gives up, in milliseconds. */
export const MESH_MAX_VIRTUAL_MS = 10 * 60_000; // 10 min

export interface MeshOptions {
  /** A whole number (SimNetwork's seed). */
  readonly seed: number;
  /** At least 1. */
  readonly peers: number;
  /** Writes per peer, at least 1. */
  readonly writes: number;
  /** Links per peer (random regular-ish graph, always connected). */
  readonly degree: number;
  /** Probability that a message is lost, in [0, 1]. */
  readonly drop: number;
  /** Sample convergence every this many virtual ms. @default 100 */
  readonly sampleEvery?: number;
  readonly onProgress?: (converged: number, total: number, elapsedMs: number) => void;
  /**
   * Let the replicas share what they decode, verify and compute (the network's `PeerCache`); with
   * false each peer has its own, as separate processes would. Same run either way, only slower.
   * @default true
   */
  readonly shareCaches?: boolean;
}

export interface MeshResult {
  /** Every peer holds every fact, and all have one state hash. */
  readonly converged: boolean;
  /** Virtual ms from the first write until every peer held every fact (or until it gave up). */
  readonly convergeMs: number;
  /** Peers holding every fact at the end. */
  readonly convergedPeers: number;
  /** Different state hashes among the peers at the end (1 when converged). */
  readonly stateHashes: number;
  readonly stats: SimStats;
  readonly facts: number;
  /** (virtual ms, peers holding every fact) samples. */
  readonly curve: [number, number][];
  readonly stateHash: string;
  /** Most bytes of JavaScript heap in use at a convergence sample (garbage not yet collected included). */
  readonly peakHeap: number;
  /**
   * Most bytes of ArrayBuffers (typed arrays: hashes, signatures, encoded frames, counter vectors)
   * at a convergence sample: memory outside the JavaScript heap, not counted in `peakHeap`.
   */
  readonly peakArrayBuffers: number;
  /**
   * Wall-clock ms from the call until every peer held every fact (or the run gave up): creating the
   * peers, the writes and the sync. The network going quiet afterwards and the state-hash check
   * are off the clock.
   */
  readonly wallMs: number;
  /** CPU ms (user + system, the whole process) over the same span as `wallMs`. */
  readonly cpuMs: number;
}

/** Run the mesh. Options out of range are a caller's bug: it throws a RangeError for them. */
export async function runMesh(options: MeshOptions): Promise<MeshResult> {
  if (!(options.peers >= 1 && options.writes >= 1)) {
    throw new RangeError(`runMesh: peers and writes must be at least 1 (got ${options.peers}, ${options.writes})`);
  }
  const started = performance.now();
  const cpu = process.cpuUsage();
  const rng = xoroshiro128plus(options.seed ^ 0x3e5);
  const random = () => uniformFloat64(rng);
  const net = new SimNetwork({ seed: options.seed, mesh: false, drop: options.drop, latency: { min: 5, max: 40 } });
  const spaces: Space[] = [];
  const ids: string[] = [];
  for (let i = 0; i < options.peers; i++) {
    const { cache, ...node } = net.node();
    const shared = options.shareCaches === false ? {} : { cache };
    const peer = (await createPeer({ storage: memoryStorage(), ...node, ...shared }))._unsafeUnwrap();
    spaces.push((await peer.space('mesh'))._unsafeUnwrap());
    ids.push(peer.id);
  }
  // A ring keeps the graph connected; random chords bring each peer up to about `degree` links.
  const links = new Set<string>();
  const link = (a: number, b: number) => {
    if (a === b) return;
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    if (links.has(key)) return;
    links.add(key);
    net.linkUp(ids[a]!, ids[b]!);
  };
  for (let i = 0; i < options.peers; i++) link(i, (i + 1) % options.peers);
  const extra = Math.max(0, Math.round((options.peers * options.degree) / 2) - options.peers);
  for (let k = 0; k < extra; k++) link(Math.floor(random() * options.peers), Math.floor(random() * options.peers));
  await net.advance(1);

  const start = net.stats().elapsed;
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < options.peers; i++) {
    const items = spaces[i]!.collection<{ by: number; n: number }>('items');
    for (let n = 0; n < options.writes; n++)
      writes.push(
        items.create({ by: i, n }, `p${i}-${n}`).match(
          () => 0,
          () => 1,
        ),
      );
  }
  await Promise.all(writes);
  const facts = options.peers * options.writes;
  const holdsAll = (s: Space) => Object.values(s.status().vector).reduce((a, b) => a + b, 0) === facts;
  // Sampling a thousand peers ten times a virtual second through `status()` (an object of every
  // origin's counter each time) cost more than the sync it watched. The replica's durable tips say
  // the same without building anything, and a peer whose durable version did not move since it was
  // last found short is still short. The result below is counted through `status()` again.
  const checked = new Map<Space, number>();
  const holdsAllNow = (s: Space): boolean => {
    const replica = (s as SpaceImpl).replica;
    const version = replica.durableVersion;
    if (checked.get(s) === version) return false;
    checked.set(s, version);
    let held = 0;
    for (const tip of replica.durableTips().values()) held += tip.counter;
    return held === facts;
  };
  const curve: [number, number][] = [];
  const sampleEvery = options.sampleEvery ?? 100;
  // Peers that converged stay converged (nothing is written after the start): only check the rest.
  let waiting = spaces;
  let converged = 0;
  let peakHeap = 0;
  let peakArrayBuffers = 0;
  const sampleMemory = () => {
    const memory = process.memoryUsage();
    peakHeap = Math.max(peakHeap, memory.heapUsed);
    peakArrayBuffers = Math.max(peakArrayBuffers, memory.arrayBuffers);
  };
  sampleMemory();
  while (converged < options.peers) {
    await net.advance(sampleEvery);
    sampleMemory();
    waiting = waiting.filter((s) => !holdsAllNow(s));
    converged = options.peers - waiting.length;
    const elapsed = net.stats().elapsed - start;
    curve.push([elapsed, converged]);
    options.onProgress?.(converged, options.peers, elapsed);
    if (elapsed > MESH_MAX_VIRTUAL_MS) break;
  }
  const convergeMs = net.stats().elapsed - start;
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  await net.runUntilQuiet({ maxTime: MESH_MAX_VIRTUAL_MS });
  const hashes = new Set(spaces.map((s) => s.stateHash()));
  // Counted again after the network went quiet: a run that gave up may have moved on since.
  const holding = spaces.filter(holdsAll).length;
  return {
    converged: holding === options.peers && hashes.size === 1,
    convergeMs,
    convergedPeers: holding,
    stateHashes: hashes.size,
    stats: net.stats(),
    facts,
    curve,
    stateHash: spaces[0]!.stateHash(),
    peakHeap,
    peakArrayBuffers,
    wallMs,
    cpuMs,
  };
}
