/**
 * `npm run sim` — Shoal's deterministic simulator from the command line.
 *
 *   npm run sim -- --peers 200 --writes 20 --drop 0.1 --seed 7
 *       A random mesh of 200 virtual peers, 20 writes each, 10 % of messages lost. Shows a progress
 *       bar, prints a summary and writes a chart of converged peers over virtual time (SVG).
 *
 *   npm run sim -- --seeds 10000 [--from 1] [--jobs 2]
 *       The fault campaign (20 peers × 200 writes, drops, duplicates, reordering, partitions,
 *       crashes) over many seeds. Every failure prints its seed.
 *
 *   npm run sim -- --seed 1234
 *       Replay one campaign seed exactly, with details.
 */
import { cpus } from 'node:os';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SingleBar, Presets } from 'cli-progress';
import { runCampaign, type CampaignResult } from '../../testing/campaign.js';
import { convergenceChart } from './chart.js';
import { runMesh } from './mesh.js';

/** Peer options of the pruning campaign (test/sim/pruning-campaign.test.ts). */
const PRUNING = { snapshotEvery: 300, pruneWindow: 3_000 };

const USAGE = `usage:
  npm run sim -- --peers N --writes N [--drop P] [--degree N] [--seed N] [--out file.svg]
  npm run sim -- --seeds N [--from N] [--jobs N]
  npm run sim -- --seed N [--prune]`;

const CHILD_FLAG = '--campaign-child';
if (process.argv.includes(CHILD_FLAG)) await campaignChild();
else await main();

async function main(): Promise<void> {
  const { values } = parseArgs({
    allowPositionals: false,
    options: {
      peers: { type: 'string' },
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
  });
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  const num = (name: string, value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) {
      console.error(`--${name} must be a non-negative number\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  if (values.seeds !== undefined) {
    await campaigns(
      num('from', values.from, 1),
      num('seeds', values.seeds, 100),
      num('jobs', values.jobs, cpus().length),
    );
  } else if (values.seed !== undefined && values.peers === undefined && values.writes === undefined) {
    await replay(num('seed', values.seed, 1), values.prune === true);
  } else {
    await mesh({
      seed: num('seed', values.seed, 1),
      peers: num('peers', values.peers, 50),
      writes: num('writes', values.writes, 10),
      degree: num('degree', values.degree, 4),
      drop: num('drop', values.drop, 0.05),
      out: values.out,
    });
  }
}

async function mesh(o: {
  seed: number;
  peers: number;
  writes: number;
  degree: number;
  drop: number;
  out: string | undefined;
}): Promise<void> {
  console.log(
    `mesh: ${o.peers} peers × ${o.writes} writes, degree ${o.degree}, drop ${o.drop * 100} %, seed ${o.seed}`,
  );
  const bar = new SingleBar(
    { format: ' {bar} {value}/{total} peers converged | virtual {virtual} s | wall {wall} s' },
    Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(o.peers, 0, { virtual: '0.0', wall: '0.0' });
  const result = await runMesh({
    ...o,
    onProgress: (converged, _total, elapsed) =>
      bar.update(converged, {
        virtual: (elapsed / 1000).toFixed(1),
        wall: ((performance.now() - started) / 1000).toFixed(1),
      }),
  });
  bar.stop();
  const wall = (performance.now() - started) / 1000;
  const out = o.out ?? `sim-${o.seed}.svg`;
  writeFileSync(
    out,
    convergenceChart(result.curve, {
      peers: o.peers,
      title: `${o.peers} peers × ${o.writes} writes, drop ${o.drop * 100} %, seed ${o.seed}`,
    }),
  );
  console.log(
    [
      `converged:        ${result.converged ? 'yes' : 'NO'} (every peer holds all ${result.facts} facts, one state hash ${result.stateHash.slice(0, 16)}…)`,
      `virtual time:     ${(result.convergeMs / 1000).toFixed(2)} s to converge`,
      `wall time:        ${wall.toFixed(1)} s`,
      `messages:         ${result.stats.sent} sent, ${result.stats.dropped} lost, ${(result.stats.sent / result.facts).toFixed(1)} per fact`,
      `bytes:            ${(result.stats.bytesSent / 1e6).toFixed(1)} MB, ${(result.stats.bytesSent / result.facts).toFixed(0)} B per fact (${(result.stats.bytesSent / result.facts / o.peers).toFixed(1)} B per fact per peer)`,
      `chart:            ${out}`,
      `seed:             ${o.seed} (same seed, same run: trace ${result.stats.trace.slice(0, 16)}…)`,
    ].join('\n'),
  );
  if (!result.converged) process.exitCode = 1;
}

async function replay(seed: number, prune: boolean): Promise<void> {
  console.log(
    `campaign seed ${seed}: 20 peers × 200 writes, drop/duplicate/reorder 10 %, partitions, crashes${prune ? ', snapshots and pruning' : ''}`,
  );
  const result = await runCampaign({ seed, ...(prune ? { peer: PRUNING } : {}) });
  report(result, true);
  if (result.failures.length > 0) process.exitCode = 1;
}

function report(r: CampaignResult, details: boolean): void {
  if (r.failures.length > 0) {
    console.log(`seed ${r.seed} FAILED:\n  ${r.failures.join('\n  ')}\n  replay: npm run sim -- --seed ${r.seed}`);
  } else if (details) {
    console.log(`seed ${r.seed} ok`);
  }
  if (details) {
    console.log(
      [
        `acknowledged writes: ${r.acknowledgedWrites} (all present on every peer)`,
        `faults:              ${r.crashes} crashes, ${r.partitions} partitions`,
        `messages:            ${r.stats.sent} sent, ${r.stats.dropped} lost, ${r.stats.duplicated} duplicated`,
        `converged:           ${(r.convergeMs / 1000).toFixed(1)} virtual s after the last heal`,
        `state hash:          ${r.stateHash}`,
        `trace:               ${r.stats.trace}`,
      ].join('\n'),
    );
  }
}

async function campaigns(from: number, count: number, jobs: number): Promise<void> {
  // Seeds run in child processes: one crash (or leak) cannot take the others down.
  console.log(`fault campaign: seeds ${from}..${from + count - 1}, ${jobs} jobs`);
  const bar = new SingleBar({ format: ' {bar} {value}/{total} seeds | {failed} failed' }, Presets.shades_classic);
  bar.start(count, 0, { failed: 0 });
  let next = from;
  let done = 0;
  const failed: CampaignResult[] = [];
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(jobs, count)) }, async () => {
      while (next < from + count) {
        const seed = next++;
        const result = await inWorker(seed);
        done++;
        if (result.failures.length > 0) failed.push(result);
        bar.update(done, { failed: failed.length });
      }
    }),
  );
  bar.stop();
  for (const r of failed.sort((a, b) => a.seed - b.seed)) report(r, false);
  console.log(`${count - failed.length} seeds passed, ${failed.length} failed`);
  if (failed.length > 0) process.exitCode = 1;
}

/** Run one seed in a child process (same loader flags as this one), so jobs use every core. */
function inWorker(seed: number): Promise<CampaignResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, String(seed)], { execArgv: process.execArgv });
    child.once('message', (result) => resolve(result as CampaignResult));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`seed ${seed}: child exited with ${code}`));
    });
  });
}

async function campaignChild(): Promise<void> {
  const seed = Number(process.argv[process.argv.indexOf(CHILD_FLAG) + 1]);
  const result = await runCampaign({ seed });
  process.send!(result, () => process.exit(0));
}
