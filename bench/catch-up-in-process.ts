/**
 * Catch-up of a fresh peer in one process, no faults: the receive path (decode, verify, store,
 * apply) without sockets, next to automerge-repo syncing the same number of map sets over its
 * MessageChannel adapter. Part of the network suite.
 *
 * - **Shoal**: a SimNetwork (no loss, default latency); the source writes N creates in bursts of
 *   `BURST` (each burst awaited, so each is one signed run — the log of an app that writes as its
 *   user acts) and snapshots them (as a source that sat idle has); a fresh peer joins; the clock runs
 *   until the fresh peer is in sync with the source (`whenSynced`: it holds durably and has applied
 *   everything the source told it of, as automerge-repo's "heads equal"), and the two state hashes
 *   are compared outside it. The source's own work while serving is in the same process and on the
 *   clock, as automerge-repo's is. What follows the catch-up — the newcomer's snapshot of all it
 *   received (deferred until the catch-up ended), the attestations both ways and pruning on both
 *   peers — is timed on to quiet as its own metric (automerge-repo here has no storage, so it has no
 *   counterpart).
 * - **automerge-repo**: one repo holds a document with N map sets, a fresh repo `find`s it over a
 *   MessageChannel; the clock runs until the heads are equal.
 *
 * Both report CPU time of the process (getrusage) next to wall time: the machine is shared.
 */
import type { BenchContext, BenchRow } from './harness.js';
import { signatureFloor, type Floor } from './floor.js';
import { collectGarbage } from './measure.js';

/** Facts / map sets at scale 1 (the row). */
const FULL_SIZE = 20_000;
/** Writes per signed run on the Shoal source. */
const BURST = 10;
/** Goal from issue 15: at least this many times automerge-repo's throughput. */
const GOAL_RATIO = 2;
const SPACE = 'bench';

interface Measured {
  readonly ms: number;
  readonly cpuMs: number;
  readonly bytes: number;
  /** Shoal: CPU from the join until the network is quiet (the catch-up and what follows it). */
  readonly quietCpuMs?: number;
  /** Shoal: the floor of checking the facts frames the newcomer received (bench/floor.ts). */
  readonly floor?: Floor;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function shoal(n: number): Promise<Measured> {
  const { createPeer, memoryStorage } = await import('../engine/index.js');
  const { SimNetwork } = await import('../transports/memory/index.js');
  const { PeerCache } = await import('../engine/peer/cache.js');
  const { frameType } = await import('../engine/sync/codec.js');
  const net = new SimNetwork({ seed: 7 });
  const open = async () => {
    // Each peer with its own caches, as two processes would have: a SimNetwork shares one between
    // its peers (decoded runs, hash chains, verified signatures, item records), which would let the
    // newcomer reuse the source's work and pay for record sharing it does not need.
    const node = { ...net.node(), cache: new PeerCache() };
    const peer = (await createPeer({ storage: memoryStorage(), ...node }))._unsafeUnwrap();
    return { peer, space: (await peer.space(SPACE))._unsafeUnwrap() };
  };
  const source = await open();
  const items = source.space.collection<{ title: string; n: number }>('items');
  for (let start = 0; start < n; start += BURST) {
    const writes = [];
    for (let i = start; i < Math.min(n, start + BURST); i++) writes.push(items.create({ title: `item ${i}`, n: i }));
    for (const written of await Promise.all(writes)) written._unsafeUnwrap();
  }
  (await net.until(source.space.snapshot()))._unsafeUnwrap();
  await net.runUntilQuiet();
  const sent = net.stats().bytesSent;
  // The facts frames the source sends (to the newcomer: the only other peer), kept for the floor.
  const frames: Uint8Array[] = [];
  net.intercept((_from, _to, frame) => {
    if (frameType(frame) === 'facts') frames.push(frame.slice());
    return true;
  });
  collectGarbage();
  const cpu = cpuMs();
  const started = performance.now();
  const fresh = await open();
  (await net.until(fresh.space.whenSynced({ peers: [source.peer.id] })))._unsafeUnwrap();
  const caughtUp = { ms: performance.now() - started, cpuMs: cpuMs() - cpu, bytes: net.stats().bytesSent - sent };
  if ((fresh.space.status().vector[source.peer.id] ?? 0) < n) throw new Error('shoal: the catch-up stalled');
  if (fresh.space.stateHash() !== source.space.stateHash()) throw new Error('shoal: the fresh peer differs');
  if (!(await net.runUntilQuiet())) throw new Error('shoal: the network never went quiet');
  net.intercept(undefined);
  const quietCpuMs = cpuMs() - cpu;
  await fresh.peer.close();
  await source.peer.close();
  return { ...caughtUp, quietCpuMs, floor: signatureFloor(SPACE, frames) };
}

async function automergeRepo(n: number): Promise<Measured> {
  const A = await import('@automerge/automerge');
  const { Repo } = await import('@automerge/automerge-repo');
  const { MessageChannelNetworkAdapter } = await import('@automerge/automerge-repo-network-messagechannel');
  const items: Record<string, string> = {};
  for (let i = 0; i < n; i++) items[`k${i}`] = `item ${i}`;
  const { port1, port2 } = new MessageChannel();
  let bytes = 0;
  // Sync messages both ways (as Shoal's frames are counted): their payload is `data`; the envelope
  // around it (type, sender, target, document id) is not counted.
  const count = (event: MessageEvent): void => {
    bytes += (event.data as { data?: Uint8Array } | undefined)?.data?.byteLength ?? 0;
  };
  port1.addEventListener('message', count);
  port2.addEventListener('message', count);
  const share = { sharePolicy: () => Promise.resolve(true) };
  const source = new Repo({ network: [new MessageChannelNetworkAdapter(port1)], ...share });
  const handle = source.import<{ items: Record<string, string> }>(A.save(A.from({ items })));
  const heads = JSON.stringify(handle.heads());
  collectGarbage();
  const cpu = cpuMs();
  const started = performance.now();
  const fresh = new Repo({ network: [new MessageChannelNetworkAdapter(port2)], ...share });
  const found = await fresh.find<{ items: Record<string, string> }>(handle.url);
  while (JSON.stringify(found.heads()) !== heads) await new Promise((resolve) => setTimeout(resolve, 1));
  const measured = { ms: performance.now() - started, cpuMs: cpuMs() - cpu, bytes };
  if (Object.keys(found.doc().items).length !== n) throw new Error('automerge-repo: keys missing');
  await fresh.shutdown();
  await source.shutdown();
  port1.close();
  return measured;
}

/** The rows of the in-process catch-up at `scale`. */
export async function catchUpInProcess(ctx: BenchContext): Promise<BenchRow[]> {
  const n = Math.max(1000, Math.round(FULL_SIZE * ctx.scale));
  const workload = `Catch-up of a fresh peer in one process, ${n.toLocaleString('en-US')} facts / map sets, no faults`;
  const rows: BenchRow[] = [];
  ctx.log(`in-process catch-up: shoal…`);
  const s = await shoal(n);
  ctx.log(`in-process catch-up: automerge-repo…`);
  const a = await automergeRepo(n);
  const notes = {
    shoal: `SimNetwork, memory storage; the source wrote in bursts of ${BURST} (one signed run each) and snapshotted; clock stops when the newcomer is in sync with the source (whenSynced: all N hashed, chain-checked, signature-verified, stored, applied); state hash checked; bytes = every frame both ways until then`,
    'automerge-repo':
      'MessageChannel adapters; document built outside the clock; bytes = sync messages both ways (payloads; envelopes not counted)',
  };
  for (const [system, m] of [
    ['shoal', s],
    ['automerge-repo', a],
  ] as const) {
    rows.push(
      {
        workload,
        system,
        metric: 'time',
        value: m.ms,
        unit: 'ms',
        better: 'lower',
        ...(system === 'shoal' ? { goalRatio: { vs: ['automerge-repo'], atLeast: GOAL_RATIO } } : {}),
        note: notes[system],
      },
      { workload, system, metric: 'CPU time (process)', value: m.cpuMs, unit: 'ms', better: 'lower' },
      ...(m.quietCpuMs === undefined
        ? []
        : [
            {
              workload,
              system,
              metric: 'CPU until quiet (+ snapshot, attestations, pruning)',
              value: m.quietCpuMs,
              unit: 'ms',
              better: 'lower' as const,
              note: "the catch-up, then the newcomer's deferred snapshot of everything, attestations both ways and pruning on both peers",
            },
          ]),
      { workload, system, metric: 'bytes on the wire per fact', value: m.bytes / n, unit: 'B/fact', better: 'lower' },
      ...(m.floor === undefined
        ? []
        : [
            {
              workload,
              system,
              metric: 'floor: key import + hashes + signature checks, CPU',
              value: m.floor.keyImportMs + m.floor.hashMs + m.floor.verifyMs,
              unit: 'ms',
              better: 'lower' as const,
              note:
                `the facts frames the newcomer received, same run: key import ${m.floor.keyImportMs.toFixed(2)} ms, ` +
                `hashes ${m.floor.hashMs.toFixed(2)} ms, Ed25519 verify ${m.floor.verifyMs.toFixed(2)} ms (node:crypto, ` +
                `one per run as sent); what any peer that checks every fact pays — the rest of the catch-up is ` +
                `decode, log, state and the sync protocol`,
            },
          ]),
    );
  }
  return rows;
}
