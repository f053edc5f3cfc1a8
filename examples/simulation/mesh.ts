/**
 * A random mesh of simulated peers writing and converging: the scenario behind `npm run sim` and
 * the 1,000-peer benchmark. Everything derives from the seed.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { createPeer, memoryStorage, type Space } from '../../engine/index.js';
import { SimNetwork, type SimStats } from '../../transports/memory/index.js';

export interface MeshOptions {
  readonly seed: number;
  readonly peers: number;
  readonly writes: number;
  /** Links per peer (random regular-ish graph, always connected). */
  readonly degree: number;
  readonly drop: number;
  /** Sample convergence every this many virtual ms. @default 100 */
  readonly sampleEvery?: number;
  readonly onProgress?: (converged: number, total: number, elapsedMs: number) => void;
}

export interface MeshResult {
  readonly converged: boolean;
  /** Virtual ms from the first write until every peer holds every fact. */
  readonly convergeMs: number;
  readonly stats: SimStats;
  readonly facts: number;
  /** (virtual ms, peers holding every fact) samples. */
  readonly curve: [number, number][];
  readonly stateHash: string;
}

export async function runMesh(options: MeshOptions): Promise<MeshResult> {
  const rng = xoroshiro128plus(options.seed ^ 0x3e5);
  const random = () => uniformFloat64(rng);
  const net = new SimNetwork({ seed: options.seed, mesh: false, drop: options.drop, latency: { min: 5, max: 40 } });
  const spaces: Space[] = [];
  const ids: string[] = [];
  for (let i = 0; i < options.peers; i++) {
    const peer = (await createPeer({ storage: memoryStorage(), ...net.node() }))._unsafeUnwrap();
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
  const curve: [number, number][] = [];
  const sampleEvery = options.sampleEvery ?? 100;
  // Peers that converged stay converged (nothing is written after the start): only check the rest.
  let waiting = spaces;
  let converged = 0;
  while (converged < options.peers) {
    await net.advance(sampleEvery);
    waiting = waiting.filter((s) => !holdsAll(s));
    converged = options.peers - waiting.length;
    const elapsed = net.stats().elapsed - start;
    curve.push([elapsed, converged]);
    options.onProgress?.(converged, options.peers, elapsed);
    if (elapsed > 10 * 60_000) break;
  }
  const convergeMs = net.stats().elapsed - start;
  await net.runUntilQuiet({ maxTime: 10 * 60_000 });
  const hashes = new Set(spaces.map((s) => s.stateHash()));
  return {
    converged: converged === options.peers && hashes.size === 1,
    convergeMs,
    stats: net.stats(),
    facts,
    curve,
    stateHash: spaces[0]!.stateHash(),
  };
}
