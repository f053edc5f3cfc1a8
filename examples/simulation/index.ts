/**
 * `npm run sim` — Shoal's deterministic simulator from the command line. Two modes:
 *
 *   npm run sim -- --peers 200 --writes 20 --drop 0.1 --seed 7
 *       Mesh (the default): a random mesh of 200 virtual peers, 20 writes each, 10 % of messages
 *       lost. Shows a progress bar, prints a summary and writes a chart of converged peers over
 *       virtual time (SVG, under .tmp/ unless --out says where).
 *
 *   npm run sim -- --sizes 100,1000,10000 --writes 1
 *       The same mesh at several sizes, one after another: a summary each, a table of them all
 *       (wall and CPU time until every peer holds every fact and for the whole run, virtual time,
 *       heap and typed arrays, messages and bytes per fact) and one chart.
 *
 *   npm run sim -- --campaign --seed 1234 [--prune]
 *   npm run sim -- --campaign --seeds 10000 [--from 1] [--jobs 2] [--prune]
 *       The fault campaign (20 peers × 200 writes, drops, duplicates, reordering, partitions,
 *       crashes): replay one seed exactly, with details, or run many. Every failure prints its seed.
 *
 * Every argument is checked first: a bad one prints what is wrong and the usage, and exits with 2.
 */
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SingleBar, Presets } from 'cli-progress';
import { describeMix, runCampaign, type CampaignResult } from '../../testing/campaign.js';
import { convergenceChart } from './chart.js';
import { MESH_MAX_VIRTUAL_MS, runMesh, type MeshResult } from './mesh.js';

/** Peer options of the pruning campaign (test/sim/pruning-campaign.test.ts). */
const PRUNING = { snapshotEvery: 300, pruneWindow: 3_000 };

/** How often a mesh run writes a progress line when its output is not a terminal (wall ms). */
const PROGRESS_LINE_MS = 30_000;

/** Largest seed: seeds are unsigned 32-bit integers. */
const MAX_SEED = 0xffff_ffff;

const USAGE = `Usage:
  npm run sim -- [--peers N | --sizes N,N,...] [--writes N] [--degree N] [--drop P] [--seed N] [--out FILE]
      a random mesh of virtual peers writing and converging (the default mode)
  npm run sim -- --campaign --seed N [--prune]
      replay one seed of the fault campaign exactly, with details
  npm run sim -- --campaign --seeds N [--from N] [--jobs N] [--prune]
      the fault campaign over N seeds (20 peers × 200 writes; each seed draws its own mix of
      drops, duplicates, reordering, partitions, crashes, clock skew, pruning), in parallel processes

Mesh options:
  --peers N     virtual peers, 1 to 100000 (default 50)
  --sizes LIST  run the mesh at each of these sizes (peers, comma-separated), a table and one chart
  --writes N    writes per peer, 1 to 100000 (default 10)
  --degree N    links per peer (a ring plus random chords), 2 to 1000 (default 4)
  --drop P      probability that a message is lost, 0 to 1 (default 0.05)
  --seed N      0 to ${MAX_SEED} (default 1): the same seed gives the same run
  --out FILE    where to write the SVG chart (default .tmp/sim-<seed>.svg)

Campaign options (after --campaign):
  --seed N      the seed to replay
  --seeds N     how many seeds to run, 1 to 1000000
  --from N      the first of them (default 1)
  --jobs N      processes at once, 1 to 64 (default: one per CPU core)
  --prune       force snapshots every 300 entries and log pruning on (else the seed decides)

  -h, --help    this text

Exit status: 0 converged (every seed passed), 1 not converged (a seed failed), 2 bad arguments.`;

/** What to run, once the arguments are checked. */
type Command =
  | { readonly kind: 'help' }
  | {
      readonly kind: 'mesh';
      readonly seed: number;
      /** Peers of each run, in order (one run for --peers). */
      readonly sizes: readonly number[];
      readonly writes: number;
      readonly degree: number;
      readonly drop: number;
      readonly out: string;
    }
  | { readonly kind: 'replay'; readonly seed: number; readonly prune: boolean }
  | {
      readonly kind: 'campaigns';
      readonly from: number;
      readonly count: number;
      readonly jobs: number;
      readonly prune: boolean;
    };

/** A bad command line: what is wrong, for a person. */
class UsageError extends Error {}

const MESH_FLAGS = ['peers', 'sizes', 'writes', 'degree', 'drop', 'out'] as const;
/** Most runs one --sizes may ask for. */
const MAX_SIZES = 10;
const CAMPAIGN_FLAGS = ['seeds', 'from', 'jobs', 'prune'] as const;

/** Check every argument; throws a {@link UsageError} for anything wrong. */
function parse(argv: readonly string[]): Command {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        campaign: { type: 'boolean' },
        peers: { type: 'string' },
        sizes: { type: 'string' },
        writes: { type: 'string' },
        drop: { type: 'string' },
        degree: { type: 'string' },
        seed: { type: 'string' },
        seeds: { type: 'string' },
        from: { type: 'string' },
        jobs: { type: 'string' },
        out: { type: 'string' },
        prune: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    // Node's own text, first sentence (it goes on about positionals, which this CLI has none of).
    const text = e instanceof Error ? e.message : String(e);
    throw new UsageError(text.split('\n')[0]!.split(/(?<=\.) /)[0]);
  }
  if (values.help === true) return { kind: 'help' };

  const integer = (name: string, text: string | undefined, fallback: number, min: number, max: number): number => {
    if (text === undefined) return fallback;
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${text}")`);
    }
    return n;
  };
  const probability = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const p = text.trim() === '' ? NaN : Number(text);
    if (!(p >= 0 && p <= 1)) throw new UsageError(`--${name} must be a probability from 0 to 1 (got "${text}")`);
    return p;
  };
  /** `--a is` / `--a, --b are`, for messages about the flags given. */
  const are = (flags: readonly string[]): string => `${flags.join(', ')} ${flags.length === 1 ? 'is' : 'are'}`;
  const given = (names: readonly string[]): string[] =>
    names.filter((name) => (values as Record<string, unknown>)[name] !== undefined).map((name) => `--${name}`);

  if (values.campaign === true) {
    const mesh = given(MESH_FLAGS);
    if (mesh.length > 0) throw new UsageError(`${are(mesh)} for the mesh, not the campaign (drop --campaign)`);
    const prune = values.prune === true;
    if (values.seed !== undefined && values.seeds !== undefined) {
      throw new UsageError('--seed replays one campaign seed, --seeds runs many: give one of them');
    }
    if (values.seed !== undefined) {
      const extra = given(['from', 'jobs']);
      if (extra.length > 0) throw new UsageError(`${are(extra)} for --seeds, not --seed`);
      return { kind: 'replay', seed: integer('seed', values.seed, 1, 0, MAX_SEED), prune };
    }
    if (values.seeds === undefined) {
      throw new UsageError('--campaign needs --seed N (replay one seed) or --seeds N (run many)');
    }
    return {
      kind: 'campaigns',
      count: integer('seeds', values.seeds, 100, 1, 1_000_000),
      from: integer('from', values.from, 1, 0, MAX_SEED),
      jobs: integer('jobs', values.jobs, cpus().length, 1, 64),
      prune,
    };
  }
  const campaign = given(CAMPAIGN_FLAGS);
  if (campaign.length > 0) {
    throw new UsageError(`${are(campaign)} for the fault campaign: add --campaign`);
  }
  const seed = integer('seed', values.seed, 1, 0, MAX_SEED);
  if (values.out !== undefined && values.out.trim() === '') throw new UsageError('--out needs a file name');
  if (values.peers !== undefined && values.sizes !== undefined) {
    throw new UsageError('--peers runs one size, --sizes several: give one of them');
  }
  const sizes =
    values.sizes === undefined
      ? [integer('peers', values.peers, 50, 1, 100_000)]
      : values.sizes.split(',').map((size) => integer('sizes', size.trim(), 0, 1, 100_000));
  if (sizes.length > MAX_SIZES) throw new UsageError(`--sizes takes at most ${MAX_SIZES} sizes (got ${sizes.length})`);
  return {
    kind: 'mesh',
    seed,
    sizes,
    writes: integer('writes', values.writes, 10, 1, 100_000),
    degree: integer('degree', values.degree, 4, 2, 1000),
    drop: probability('drop', values.drop, 0.05),
    out: values.out ?? `.tmp/sim-${seed}.svg`,
  };
}

const CHILD_FLAG = '--campaign-child';
if (process.argv[2] === CHILD_FLAG) await campaignChild();
else process.exitCode = await main(process.argv.slice(2));

async function main(argv: readonly string[]): Promise<number> {
  let command: Command;
  try {
    command = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\n\n${USAGE}`);
    return 2;
  }
  try {
    switch (command.kind) {
      case 'help':
        console.log(USAGE);
        return 0;
      case 'mesh':
        return await mesh(command);
      case 'replay':
        return await replay(command.seed, command.prune);
      case 'campaigns':
        return await campaigns(command.from, command.count, command.jobs, command.prune);
    }
  } catch (e) {
    // Not an argument problem: a failure of the run itself. Say what it was, briefly.
    console.error(`the simulation failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

async function mesh(o: Extract<Command, { kind: 'mesh' }>): Promise<number> {
  const out = resolve(o.out);
  try {
    // Before the run, not after it: a chart path that cannot work should not cost the run.
    mkdirSync(dirname(out), { recursive: true });
  } catch (e) {
    console.error(`cannot write the chart to ${out}: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  const runs: SizeRun[] = [];
  for (const peers of o.sizes) {
    if (runs.length > 0) console.log('');
    runs.push(await meshOfSize(o, peers));
  }
  const first = runs[0]!;
  const title =
    runs.length === 1
      ? `${first.peers} peers × ${o.writes} writes, drop ${o.drop * 100} %, seed ${o.seed}`
      : `${o.writes} writes per peer, drop ${o.drop * 100} %, seed ${o.seed}`;
  writeFileSync(
    out,
    convergenceChart(
      runs.map((r) => ({ label: `${r.peers.toLocaleString('en-US')} peers`, peers: r.peers, curve: r.result.curve })),
      { title },
    ),
  );
  if (runs.length > 1) console.log(`\n${sizesTable(runs)}`);
  console.log(`chart:            ${out}`);
  return runs.every((r) => r.result.converged) ? 0 : 1;
}

/** One size of a mesh run, with what it cost the process. */
interface SizeRun {
  readonly peers: number;
  readonly result: MeshResult;
  /** Seconds of the whole run, the network going quiet and the state-hash check included. */
  readonly allWall: number;
  /** Seconds of CPU (user + system) this process spent on the whole run. */
  readonly allCpu: number;
}

async function meshOfSize(o: Extract<Command, { kind: 'mesh' }>, peers: number): Promise<SizeRun> {
  console.log(`mesh: ${peers} peers × ${o.writes} writes, degree ${o.degree}, drop ${o.drop * 100} %, seed ${o.seed}`);
  if (o.drop === 1) console.log('note: --drop 1 loses every message, so nothing can converge');
  const bar = new SingleBar(
    { format: ' {bar} {value}/{total} peers converged | virtual {virtual} s | wall {wall} s' },
    Presets.shades_classic,
  );
  const started = performance.now();
  const cpu = process.cpuUsage();
  // On a terminal, a progress bar; in a log file (a long run left going), a line every half minute.
  const tty = process.stdout.isTTY === true;
  let lastLine = started;
  if (tty) bar.start(peers, 0, { virtual: '0.0', wall: '0.0' });
  const result = await runMesh({
    ...o,
    peers,
    onProgress: (converged, _total, elapsed) => {
      const wall = ((performance.now() - started) / 1000).toFixed(1);
      const virtual = (elapsed / 1000).toFixed(1);
      if (tty) bar.update(converged, { virtual, wall });
      else if (performance.now() - lastLine >= PROGRESS_LINE_MS) {
        lastLine = performance.now();
        const heap = (process.memoryUsage().heapUsed / 2 ** 20).toFixed(0);
        console.log(
          `  ${converged}/${peers} peers converged | virtual ${virtual} s | wall ${wall} s | heap ${heap} MB`,
        );
      }
    },
  });
  if (tty) bar.stop();
  const used = process.cpuUsage(cpu);
  const run: SizeRun = {
    peers,
    result,
    allWall: (performance.now() - started) / 1000,
    allCpu: (used.user + used.system) / 1e6,
  };
  const seconds = (ms: number): string => (ms / 1000).toFixed(2);
  const verdict = result.converged
    ? `yes: every peer holds all ${result.facts} facts, one state hash ${result.stateHash.slice(0, 16)}…`
    : result.convergedPeers < peers
      ? `NO: after ${seconds(result.convergeMs)} virtual s, ${result.convergedPeers} of ${peers} peers hold all ${result.facts} facts (${result.stateHashes} different state hashes)`
      : `NO: every peer holds all ${result.facts} facts, yet there are ${result.stateHashes} different state hashes (a bug: please report seed ${o.seed})`;
  console.log(
    [
      `converged:        ${verdict}`,
      result.converged
        ? `virtual time:     ${seconds(result.convergeMs)} s to converge`
        : `virtual time:     gave up after ${seconds(result.convergeMs)} s (the limit is ${MESH_MAX_VIRTUAL_MS / 1000} s)`,
      `wall time:        ${(result.wallMs / 1000).toFixed(1)} s (CPU ${(result.cpuMs / 1000).toFixed(1)} s) ${result.converged ? 'until every peer held every fact' : 'until it gave up'}, creating the peers included`,
      `whole run:        ${run.allWall.toFixed(1)} s (CPU ${run.allCpu.toFixed(1)} s), the network going quiet and the state-hash check included`,
      `heap:             ${mb(result.peakHeap)} MB at most (sampled), and ${mb(result.peakArrayBuffers)} MB of typed arrays outside it`,
      `messages:         ${result.stats.sent} sent, ${result.stats.dropped} lost, ${(result.stats.sent / result.facts).toFixed(1)} per fact`,
      `bytes:            ${(result.stats.bytesSent / 1e6).toFixed(1)} MB, ${(result.stats.bytesSent / result.facts).toFixed(0)} B per fact (${(result.stats.bytesSent / result.facts / peers).toFixed(1)} B per fact per peer)`,
      `seed:             ${o.seed} (same seed, same run: trace ${result.stats.trace.slice(0, 16)}…)`,
    ].join('\n'),
  );
  return run;
}

function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}

/** The runs of --sizes side by side. */
function sizesTable(runs: readonly SizeRun[]): string {
  const header = [
    'peers',
    'converged',
    'wall s',
    'CPU s',
    'all wall s',
    'all CPU s',
    'virtual s',
    'heap MB',
    'arrays MB',
    'msgs/fact',
    'B/fact',
    'B/fact/peer',
  ];
  const rows = runs.map((r) => [
    r.peers.toLocaleString('en-US'),
    r.result.converged ? 'yes' : 'NO',
    (r.result.wallMs / 1000).toFixed(1),
    (r.result.cpuMs / 1000).toFixed(1),
    r.allWall.toFixed(1),
    r.allCpu.toFixed(1),
    (r.result.convergeMs / 1000).toFixed(2),
    mb(r.result.peakHeap),
    mb(r.result.peakArrayBuffers),
    (r.result.stats.sent / r.result.facts).toFixed(1),
    (r.result.stats.bytesSent / r.result.facts).toFixed(0),
    (r.result.stats.bytesSent / r.result.facts / r.peers).toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [
    ...[header, ...rows].map((row) => row.map((cell, i) => cell.padStart(widths[i]!)).join('  ')),
    '',
    'wall s, CPU s: until every peer held every fact (or the run gave up), creating the peers included',
    'all wall s, all CPU s: the whole run, the network going quiet and the state-hash check included',
    'heap MB: JavaScript heap at most (sampled); arrays MB: typed arrays outside it, at most (sampled)',
  ].join('\n');
}

async function replay(seed: number, prune: boolean): Promise<number> {
  console.log(`campaign seed ${seed}: 20 peers × 200 writes, the fault mix drawn from the seed`);
  const result = await runCampaign({
    seed,
    ...(prune ? { peer: PRUNING } : {}),
    log: (line) => console.log(`  ${line}`),
  });
  console.log(`mix:                 ${describeMix(result.mix)}`);
  report(result, true, prune);
  return result.failures.length > 0 ? 1 : 0;
}

function report(r: CampaignResult, details: boolean, prune: boolean): void {
  if (r.failures.length > 0) {
    console.log(
      `seed ${r.seed} FAILED (${describeMix(r.mix)}):\n  ${r.failures.join('\n  ')}\n  replay: npm run sim -- --campaign --seed ${r.seed}${prune ? ' --prune' : ''}`,
    );
  } else if (details) {
    console.log(`seed ${r.seed} ok`);
  }
  if (details) {
    console.log(
      [
        `acknowledged writes: ${r.acknowledgedWrites}${r.failures.length === 0 ? ' (all present on every peer)' : ''}${r.lostWithDeparted > 0 ? `; ${r.lostWithDeparted} of departed peers left with every peer that held them` : ''}`,
        `faults:              ${r.crashes} crashes, ${r.partitions} partitions, ${r.departed} peers left for good, ${r.idleStretches} idle stretches`,
        `messages:            ${r.stats.sent} sent, ${r.stats.dropped} lost, ${r.stats.duplicated} duplicated`,
        `converged:           ${(r.convergeMs / 1000).toFixed(1)} virtual s after the last heal`,
        `state hash:          ${r.stateHash}`,
        `trace:               ${r.stats.trace}`,
      ].join('\n'),
    );
  }
}

async function campaigns(from: number, count: number, jobs: number, prune: boolean): Promise<number> {
  // Seeds run in child processes: one crash (or leak) cannot take the others down.
  console.log(
    `fault campaign: seeds ${from}..${from + count - 1}, ${jobs} jobs${prune ? ', snapshots and pruning' : ''}`,
  );
  // On a terminal, a progress bar; in a log file (a long run left going), a line per failure as it
  // happens and a progress line every 50 seeds, so a run cut short still says what it found.
  const tty = process.stdout.isTTY === true;
  const bar = new SingleBar({ format: ' {bar} {value}/{total} seeds | {failed} failed' }, Presets.shades_classic);
  if (tty) bar.start(count, 0, { failed: 0 });
  let next = from;
  let done = 0;
  const failed: CampaignResult[] = [];
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(jobs, count)) }, async () => {
      while (next < from + count) {
        const seed = next++;
        const result = await inWorker(seed, prune);
        done++;
        if (result.failures.length > 0) failed.push(result);
        if (tty) bar.update(done, { failed: failed.length });
        else {
          if (result.failures.length > 0) report(result, false, prune);
          if (done % 50 === 0) console.log(`${done}/${count} seeds, ${failed.length} failed`);
        }
      }
    }),
  );
  if (tty) bar.stop();
  for (const r of failed.sort((a, b) => a.seed - b.seed)) report(r, false, prune);
  console.log(`${count - failed.length} seeds passed, ${failed.length} failed`);
  return failed.length > 0 ? 1 : 0;
}

/** Run one seed in a child process (same loader flags as this one), so jobs use every core. */
function inWorker(seed: number, prune: boolean): Promise<CampaignResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, String(seed), prune ? 'prune' : ''], {
      execArgv: process.execArgv,
    });
    child.once('message', (result) => resolve(result as CampaignResult));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`seed ${seed}: its process exited with ${code}`));
    });
  });
}

async function campaignChild(): Promise<void> {
  const seed = Number(process.argv[3]);
  const prune = process.argv[4] === 'prune';
  const result = await runCampaign({ seed, ...(prune ? { peer: PRUNING } : {}) });
  process.send!(result, () => process.exit(0));
}
