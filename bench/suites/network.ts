/**
 * Network suite: catch-up of a fresh peer over a real network on loopback (and, first, in one
 * process without sockets: bench/catch-up-in-process.ts).
 *
 * - **Shoal** over libp2p (TCP + noise + yamux on 127.0.0.1): one peer holds N facts (creates of
 *   `{ title, n }` items); a fresh peer dials it; the clock runs from the dial until the fresh peer's
 *   vector covers all N (every fact hashed, chain-checked, signature-verified and stored), then the
 *   two state hashes are compared outside the clock. Goal (issue 5): ≥ 100,000 facts/s.
 * - **automerge-repo** over its WebSocket client/server adapters on 127.0.0.1: one repo holds a
 *   document with N map sets (`items[k] = string`, the cheapest form for Automerge); a fresh repo
 *   `find`s it; the clock runs until the fresh repo's heads equal the source's.
 *
 * The source runs in a child process (this file, re-entered with `SHOAL_BENCH_NETWORK_ROLE`) and the
 * fresh peer in the suite's own process: two peers on two event loops, as on two machines, and two
 * heaps, so neither system's source data weighs on the measured side. Building the source (writing
 * N facts and snapshotting them, building the document) is outside the clock.
 *
 * Published anchors, for scale: OrbitDB replicates ~1,000 entries in ~20 s; PowerSync syncs ~1M ops
 * in ~60 s.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchRow, BenchSuite } from '../harness.js';
import { catchUpInProcess } from '../catch-up-in-process.js';

/** Facts (Shoal) and map sets (automerge-repo) at scale 1. */
const FULL_SIZE = 1_000_000;

/** Shoal's catch-up goal from the issue, in facts per second. */
const GOAL_FACTS_PER_S = 100_000;

/** Facts written per batch while building the source (outside the clock). */
const WRITE_BATCH = 10_000;

/** Longest a catch-up may take before the suite gives up, in milliseconds. */
const CATCH_UP_TIMEOUT_MS = 15 * 60 * 1000; // 15 min
/**
 * Longest automerge-repo's `find()` may take: it resolves once the document is ready, which here
 * took ~1–2 min for 1M sets; at 1M over WebSocket it has also hung (the source's socket reset).
 */
const FIND_TIMEOUT_MS = 5 * 60 * 1000; // 5 min

const ROLE_ENV = 'SHOAL_BENCH_NETWORK_ROLE';
/** Fresh Shoal peers that catch up from one source (each logged; the median is reported). */
const REPEAT = Math.max(1, Number(process.env['SHOAL_BENCH_NETWORK_REPEAT'] ?? 1) || 1);
const SPACE = 'bench';

type SystemName = 'shoal' | 'automerge-repo';

/** What a source process reports once it holds the data and listens. */
interface Ready {
  readonly kind: 'ready';
  /** Where to reach it: a multiaddr (Shoal) or a ws:// URL (automerge-repo). */
  readonly address: string;
  /** Shoal: the source's PeerId. automerge-repo: the document URL. */
  readonly id: string;
  /** Shoal: the state hash. automerge-repo: the document's heads, as JSON. */
  readonly check: string;
  readonly buildMs: number;
}

// -------------------------------------------------------------------------------------------------
// The source side (child process)

async function shoalSource(n: number): Promise<Ready> {
  const { createPeer } = await import('../../engine/index.js');
  const { sqliteStorage } = await import('../../engine/storage/sqlite/index.js');
  const { libp2pTransport } = await import('../../transports/libp2p/index.js');
  const started = performance.now();
  const transport = libp2pTransport({ listen: ['/ip4/127.0.0.1/tcp/0'], websockets: false });
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-source-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const peer = (
    await createPeer({ storage: sqliteStorage(join(dir, 'source.db')), transports: [transport] })
  )._unsafeUnwrap();
  const space = (await peer.space(SPACE))._unsafeUnwrap();
  const items = space.collection<{ title: string; n: number }>('items');
  for (let start = 0; start < n; start += WRITE_BATCH) {
    const writes = [];
    for (let i = start; i < Math.min(n, start + WRITE_BATCH); i++)
      writes.push(items.create({ title: `item ${i}`, n: i }));
    for (const written of await Promise.all(writes)) written._unsafeUnwrap();
  }
  // Serve as a source that sat idle would: its snapshot of everything made (not still being built
  // while the newcomer is timed).
  (await space.snapshot())._unsafeUnwrap();
  return {
    kind: 'ready',
    address: peer.addresses()[0]!,
    id: peer.id,
    check: space.stateHash(),
    buildMs: performance.now() - started,
  };
}

async function automergeSource(n: number): Promise<Ready> {
  const A = await import('@automerge/automerge');
  const { Repo } = await import('@automerge/automerge-repo');
  const { WebSocketServerAdapter } = await import('@automerge/automerge-repo-network-websocket');
  const { WebSocketServer } = await import('ws');
  const started = performance.now();
  const items: Record<string, string> = {};
  for (let i = 0; i < n; i++) items[`k${i}`] = `item ${i}`;
  const doc = A.from<{ items: Record<string, string> }>({ items });
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  const repo = new Repo({
    network: [new WebSocketServerAdapter(server as unknown as ConstructorParameters<typeof WebSocketServerAdapter>[0])],
    sharePolicy: () => Promise.resolve(true),
  });
  const handle = repo.import<{ items: Record<string, string> }>(A.save(doc));
  return {
    kind: 'ready',
    address: `ws://127.0.0.1:${address.port}`,
    id: handle.url,
    check: JSON.stringify(handle.heads()),
    buildMs: performance.now() - started,
  };
}

async function serveAsSource(system: SystemName, n: number): Promise<void> {
  const ready = system === 'shoal' ? await shoalSource(n) : await automergeSource(n);
  process.send?.(ready);
  // Stay up (serving) until the parent is done with us.
  process.on('message', (message) => {
    if (message === 'cpu') process.send?.({ kind: 'cpu', cpuMs: cpuMs() });
    if (message === 'stop') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
}

// -------------------------------------------------------------------------------------------------
// The measuring side (the suite's process)

interface Source {
  readonly ready: Ready;
  readonly child: ChildProcess;
}

function startSource(system: SystemName, n: number): Promise<Source> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [ROLE_ENV]: `${system}:${n}` },
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ ready: message as Ready, child }));
    child.once('exit', (code) =>
      reject(new Error(`the ${system} source exited with code ${String(code)} before it was ready`)),
    );
  });
}

/** CPU time of this process so far (user + system), in milliseconds. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Longest a source may take to answer a CPU-time question (it answers between two tasks). */
const CPU_ANSWER_TIMEOUT_MS = 60_000;

/**
 * The source process's CPU time so far, in milliseconds; an error when the source dies or does not
 * answer (an automerge-repo source that died while serving once left the suite waiting here forever).
 */
function sourceCpuMs(source: Source): Promise<number> {
  return settled(askCpu(source), 'the source to report its CPU time', source, CPU_ANSWER_TIMEOUT_MS);
}

function askCpu(source: Source): Promise<number> {
  return new Promise((resolve) => {
    const listen = (message: unknown): void => {
      if ((message as { kind?: unknown }).kind !== 'cpu') return;
      source.child.off('message', listen);
      resolve((message as { cpuMs: number }).cpuMs);
    };
    source.child.on('message', listen);
    source.child.send('cpu');
  });
}

function stopSource(source: Source): Promise<void> {
  return new Promise((resolve) => {
    if (source.child.exitCode !== null) return resolve();
    source.child.once('exit', () => resolve());
    source.child.send('stop');
  });
}

/** Why `source` is no longer serving (it exited or was killed), or undefined while it runs. */
function sourceGone(source: Source): string | undefined {
  const { exitCode, signalCode } = source.child;
  if (exitCode !== null) return `the source exited with code ${exitCode}`;
  if (signalCode !== null) return `the source was killed (${signalCode})`;
  return undefined;
}

/** Poll until `done`; fails fast when the source dies, and after `timeoutMs`. */
async function waitUntil(
  done: () => boolean,
  what: string,
  source: Source,
  timeoutMs = CATCH_UP_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    const gone = sourceGone(source);
    if (gone !== undefined) throw new Error(`${gone} while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** `promise`'s value, or an error when the source dies or `timeoutMs` passes first. */
async function settled<T>(promise: Promise<T>, what: string, source: Source, timeoutMs: number): Promise<T> {
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  promise.then(
    (value) => (outcome = { ok: true, value }),
    (error: unknown) => (outcome = { ok: false, error }),
  );
  await waitUntil(() => outcome !== undefined, what, source, timeoutMs);
  if (!outcome!.ok) throw outcome!.error;
  return outcome!.value;
}

interface Measured {
  readonly ms: number;
  readonly bytes: number;
  /** CPU time of the receiving process and of the source process during the catch-up. */
  readonly receiverCpuMs: number;
  readonly senderCpuMs: number;
  readonly note: string;
}

/**
 * Fresh peers catch up from one source, one after the other (`SHOAL_BENCH_NETWORK_REPEAT`, default
 * 1: building the source takes longer than a catch-up); each is logged, the one with the median
 * receiver CPU time is reported.
 */
export async function shoalCatchUp(n: number, ctx: BenchContext): Promise<Measured> {
  ctx.log(`shoal: writing ${n.toLocaleString('en-US')} facts on the source peer…`);
  const source = await startSource('shoal', n);
  try {
    ctx.log(`shoal: source built in ${(source.ready.buildMs / 1000).toFixed(1)} s; a fresh peer catches up…`);
    const all: Measured[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const m = await shoalFreshPeer(n, source);
      ctx.log(
        `shoal: ${(m.ms / 1000).toFixed(2)} s wall, receiver CPU ${(m.receiverCpuMs / 1000).toFixed(2)} s, sender CPU ${(m.senderCpuMs / 1000).toFixed(2)} s, ${(m.bytes / n).toFixed(1)} B/fact`,
      );
      all.push(m);
    }
    all.sort((x, y) => x.receiverCpuMs - y.receiverCpuMs);
    return all[Math.floor(all.length / 2)]!;
  } finally {
    await stopSource(source);
  }
}

/** One fresh peer catching up from `source`. */
async function shoalFreshPeer(n: number, source: Source): Promise<Measured> {
  const { createPeer } = await import('../../engine/index.js');
  const { sqliteStorage } = await import('../../engine/storage/sqlite/index.js');
  const { libp2pTransport } = await import('../../transports/libp2p/index.js');
  const transport = libp2pTransport({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [source.ready.address],
    websockets: false,
  });
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-'));
  const senderCpu = await sourceCpuMs(source);
  const receiverCpu = cpuMs();
  const started = performance.now();
  // Durable means on disk: the fresh peer stores into SQLite (fsync on every group commit).
  const peer = (
    await createPeer({ storage: sqliteStorage(join(dir, 'fresh.db')), transports: [transport] })
  )._unsafeUnwrap();
  const space = (await peer.space(SPACE))._unsafeUnwrap();
  await waitUntil(() => (space.status().vector[source.ready.id] ?? 0) >= n, 'the Shoal catch-up', source);
  const ms = performance.now() - started;
  const receiverCpuMs = cpuMs() - receiverCpu;
  const senderCpuMs = (await sourceCpuMs(source)) - senderCpu;
  const status = space.status();
  const stats = transport.stats();
  if (space.stateHash() !== source.ready.check) throw new Error('shoal: the fresh peer does not hold the same state');
  if (status.faults.length > 0 || status.vector[source.ready.id] !== n)
    throw new Error(`shoal: ${status.faults.length} faults, ${status.vector[source.ready.id]} facts`);
  await peer.close();
  await rm(dir, { recursive: true, force: true });
  return {
    ms,
    bytes: stats.bytesReceived,
    receiverCpuMs,
    senderCpuMs,
    note:
      `from the dial to all ${n.toLocaleString('en-US')} facts verified (hash, chain, signature) and stored, ` +
      `state hash checked; ${stats.framesReceived} frames; SQLite on both sides; ` +
      `source in its own process`,
  };
}

async function automergeRepoSync(n: number, ctx: BenchContext): Promise<Measured> {
  const { Repo } = await import('@automerge/automerge-repo');
  const { WebSocketClientAdapter } = await import('@automerge/automerge-repo-network-websocket');
  ctx.log(`automerge-repo: building a document with ${n.toLocaleString('en-US')} map sets…`);
  const source = await startSource('automerge-repo', n);
  try {
    ctx.log(`automerge-repo: source built in ${(source.ready.buildMs / 1000).toFixed(1)} s; a fresh repo syncs…`);
    let bytes = 0;
    const senderCpu = await sourceCpuMs(source);
    const receiverCpu = cpuMs();
    /** The client adapter, counting what it receives. */
    class CountingClient extends WebSocketClientAdapter {
      override receiveMessage(messageBytes: Uint8Array): void {
        bytes += messageBytes.byteLength;
        super.receiveMessage(messageBytes);
      }
    }
    const started = performance.now();
    const client = new CountingClient(source.ready.address);
    const repo = new Repo({ network: [client], sharePolicy: () => Promise.resolve(true) });
    // `repo.shutdown()` leaves the client adapter's reconnect interval running once the source has
    // gone (every 5 s, forever): the suite's process then never exited and the runner waited on it.
    const closeClient = (): void => {
      try {
        client.disconnect();
      } catch {
        // never connected: nothing to stop
      }
    };
    const url = source.ready.id as Parameters<typeof repo.find>[0];
    let handle;
    try {
      handle = await settled(
        repo.find<{ items: Record<string, string> }>(url),
        'automerge-repo find()',
        source,
        FIND_TIMEOUT_MS,
      );
      const found = handle;
      await waitUntil(() => JSON.stringify(found.heads()) === source.ready.check, 'the automerge-repo sync', source);
    } catch (e) {
      void repo
        .shutdown()
        .catch(() => undefined)
        .finally(closeClient);
      throw e;
    }
    const ms = performance.now() - started;
    const receiverCpuMs = cpuMs() - receiverCpu;
    const senderCpuMs = (await sourceCpuMs(source)) - senderCpu;
    const keys = Object.keys(handle.doc().items).length;
    if (keys !== n) throw new Error(`automerge-repo: ${keys} keys, expected ${n}`);
    await repo.shutdown();
    closeClient();
    return {
      ms,
      bytes,
      receiverCpuMs,
      senderCpuMs,
      note: `from find() to equal heads, ${n.toLocaleString('en-US')} keys checked; document built outside the clock; source in its own process`,
    };
  } finally {
    await stopSource(source);
  }
}

async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const n = Math.max(1000, Math.round(FULL_SIZE * ctx.scale));
  const workload = `Catch-up of a fresh peer over loopback, ${n.toLocaleString('en-US')} facts / map sets`;
  const rows: BenchRow[] = await catchUpInProcess(ctx);
  const measured: Array<[SystemName, Measured]> = [['shoal', await shoalCatchUp(n, ctx)]];
  try {
    measured.push(['automerge-repo', await automergeRepoSync(n, ctx)]);
  } catch (e) {
    // A baseline that fails does not fail the suite: Shoal's rows stand, and say why the other's
    // are missing (a row's value must be a number, and NaN does not survive the runner's IPC).
    const why = e instanceof Error ? e.message : String(e);
    ctx.log(`automerge-repo: FAILED: ${why}`);
    const shoal = measured[0]![1];
    measured[0] = ['shoal', { ...shoal, note: `${shoal.note}; automerge-repo FAILED (no rows): ${why}` }];
  }
  for (const [system, m] of measured) {
    const via = system === 'shoal' ? 'libp2p TCP + noise + yamux' : 'WebSocket adapters';
    rows.push(
      {
        workload,
        system,
        metric: 'throughput',
        value: Math.round(n / (m.ms / 1000)),
        unit: 'facts/s',
        better: 'higher',
        ...(system === 'shoal' ? { goal: GOAL_FACTS_PER_S } : {}),
        note: `${via}; ${m.note}`,
      },
      { workload, system, metric: 'time', value: m.ms / 1000, unit: 's', better: 'lower' },
      { workload, system, metric: 'CPU time, receiver', value: m.receiverCpuMs / 1000, unit: 's', better: 'lower' },
      { workload, system, metric: 'CPU time, sender', value: m.senderCpuMs / 1000, unit: 's', better: 'lower' },
      { workload, system, metric: 'bytes received per fact', value: m.bytes / n, unit: 'B/fact', better: 'lower' },
    );
  }
  return rows;
}

const role = process.env[ROLE_ENV];
if (role !== undefined) {
  const [system, size] = role.split(':');
  serveAsSource(system as SystemName, Number(size)).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}

export default { name: 'network', run } satisfies BenchSuite;
