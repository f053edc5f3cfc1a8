/**
 * `npm run sim` driven as a person would: the real process, its exit status, what it prints, and
 * where the chart lands. Each run works in a fresh directory, so the default chart location is
 * checked without touching the repository.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = join(ROOT, 'examples/simulation/index.ts');
/** tsx's loader by path: the runs happen in a temp directory, where `--import tsx` would not resolve. */
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-sim-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/** `npm run sim -- ...args` in the test's directory, to its exit. */
function sim(args: readonly string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', TSX, ENTRY, ...args], { cwd: dir, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}

/** No stack trace anywhere in what a run printed. */
function expectNoStack(run: Run): void {
  expect(`${run.out}\n${run.err}`).not.toMatch(/^\s+at \S+|node:internal|TypeError|RangeError/m);
}

describe('npm run sim: arguments', () => {
  it('every bad argument gets a one-line reason, the usage and exit status 2, never a stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [['--peers', '0'], /^--peers must be a whole number from 1 to 100000 \(got "0"\)$/m],
      [['--peers', '1.5'], /^--peers must be a whole number/m],
      [['--writes', 'ten'], /^--writes must be a whole number/m],
      [['--degree', '1'], /^--degree must be a whole number from 2/m],
      [['--seed', '-1'], /^Option '--seed' argument is ambiguous/m],
      [['--seed', '99999999999'], /^--seed must be a whole number from 0 to 4294967295/m],
      [['--drop', '2'], /^--drop must be a probability from 0 to 1 \(got "2"\)$/m],
      [['--drop=-0.5'], /^--drop must be a probability from 0 to 1/m],
      [['--drop', 'lots'], /^--drop must be a probability/m],
      [['--bogus'], /^Unknown option '--bogus'$/m],
      [['stray'], /^Unexpected argument 'stray'/m],
      [['--out'], /^Option '--out <value>' argument missing/m],
      [['--seeds', '5'], /^--seeds is for the fault campaign: add --campaign$/m],
      [['--prune', '--seed', '3'], /^--prune is for the fault campaign: add --campaign$/m],
      [['--campaign', '--drop', '0.1'], /^--drop is for the mesh, not the campaign/m],
      [['--campaign'], /^--campaign needs --seed N \(replay one seed\) or --seeds N \(run many\)$/m],
      [['--campaign', '--seed', '1', '--seeds', '2'], /give one of them/m],
      [['--campaign', '--seeds', '0'], /^--seeds must be a whole number from 1/m],
      [['--campaign', '--seeds', '2', '--jobs', '0'], /^--jobs must be a whole number from 1 to 64/m],
      [['--peers', '3', '--sizes', '4,5'], /^--peers runs one size, --sizes several: give one of them$/m],
      [['--sizes', '4,,5'], /^--sizes must be a whole number from 1 to 100000 \(got ""\)$/m],
      [['--sizes', '1,2,3,4,5,6,7,8,9,10,11'], /^--sizes takes at most 10 sizes \(got 11\)$/m],
      [['--campaign', '--seeds', '2', '--sizes', '4'], /^--sizes is for the mesh, not the campaign/m],
    ];
    // Two at a time: the machine is shared.
    for (let i = 0; i < cases.length; i += 2) {
      const batch = cases.slice(i, i + 2);
      const runs = await Promise.all(batch.map(([args]) => sim(args)));
      runs.forEach((run, j) => {
        const [args, message] = batch[j]!;
        const context = `npm run sim -- ${args.join(' ')}\n${run.err}`;
        expect(run.code, context).toBe(2);
        expect(run.err, context).toMatch(message);
        expect(run.err, context).toContain('Usage:');
        expect(run.out, context).toBe('');
        expectNoStack(run);
      });
    }
  }, 240_000);

  it('--help explains both modes, every option and the exit statuses', async () => {
    const run = await sim(['--help']);
    expect(run.code).toBe(0);
    for (const text of [
      'npm run sim -- --campaign --seed N',
      'npm run sim -- --campaign --seeds N',
      '--out FILE',
      'default .tmp/sim-<seed>.svg',
      '--drop P',
      'Exit status: 0',
    ])
      expect(run.out).toContain(text);
  }, 60_000);
});

describe('npm run sim: runs', () => {
  it('--seed N runs the mesh of that seed, and the chart goes under .tmp/ (or --out), never the current directory', async () => {
    const run = await sim(['--seed', '7', '--peers', '4', '--writes', '3']);
    expect(run.code).toBe(0);
    expect(run.out.split('\n')[0]).toBe('mesh: 4 peers × 3 writes, degree 4, drop 5 %, seed 7');
    expect(run.out).toMatch(/^converged: +yes: every peer holds all 12 facts, one state hash [0-9a-f]{16}…$/m);
    const chart = join(dir, '.tmp', 'sim-7.svg');
    expect(run.out).toContain(`chart:            ${chart}`);
    expect(readFileSync(chart, 'utf8')).toMatch(/^<\?xml/);
    expect(existsSync(join(dir, 'sim-7.svg'))).toBe(false);

    // --seed alone: still the mesh (the default sizes), not a campaign replay.
    const alone = await sim(['--seed', '7', '--out', 'charts/seven.svg']);
    expect(alone.code).toBe(0);
    expect(alone.out.split('\n')[0]).toBe('mesh: 50 peers × 10 writes, degree 4, drop 5 %, seed 7');
    expect(alone.out).not.toContain('campaign');
    expect(readFileSync(join(dir, 'charts', 'seven.svg'), 'utf8')).toMatch(/^<\?xml/);
    expectNoStack(alone);
  }, 120_000);

  it('--sizes runs the mesh at each size: a summary each, a table of them all and one chart', async () => {
    const run = await sim(['--sizes', '3,5', '--writes', '2', '--out', 'sizes.svg']);
    expect(run.code, run.err).toBe(0);
    const lines = run.out.split('\n');
    expect(lines.filter((line) => line.startsWith('mesh: '))).toEqual([
      'mesh: 3 peers × 2 writes, degree 4, drop 5 %, seed 1',
      'mesh: 5 peers × 2 writes, degree 4, drop 5 %, seed 1',
    ]);
    expect(run.out).toMatch(/^heap: +\d+ MB at most \(sampled\), and \d+ MB of typed arrays outside it$/m);
    // Wall time is until convergence; the whole run (quiet network, state-hash check) is its own line.
    expect(run.out).toMatch(
      /^wall time: +[\d.]+ s \(CPU [\d.]+ s\) until every peer held every fact, creating the peers included$/m,
    );
    expect(run.out).toMatch(
      /^whole run: +[\d.]+ s \(CPU [\d.]+ s\), the network going quiet and the state-hash check/m,
    );
    expect(run.out).toMatch(
      /^peers +converged +wall s +CPU s +all wall s +all CPU s +virtual s +heap MB +arrays MB +msgs\/fact +B\/fact +B\/fact\/peer$/m,
    );
    expect(run.out).toMatch(/^ +3 +yes( +[\d.]+){10}$/m);
    expect(run.out).toMatch(/^ +5 +yes( +[\d.]+){10}$/m);
    expect(run.out).toMatch(/^wall s, CPU s: until every peer held every fact/m);
    expect(run.out).toMatch(/^all wall s, all CPU s: the whole run/m);
    const chart = readFileSync(join(dir, 'sizes.svg'), 'utf8');
    expect(chart.match(/<polyline/g)).toHaveLength(2);
    expect(chart).toContain('>5 peers</text>');
    expectNoStack(run);
  }, 120_000);

  it('--drop 1 cannot converge: it says NO, with an explanation that matches, exit status 1, no throw', async () => {
    const run = await sim(['--drop', '1', '--peers', '3', '--writes', '2']);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(
      /^converged: +NO: after [\d.]+ virtual s, 0 of 3 peers hold all 6 facts \(3 different state hashes\)$/m,
    );
    expect(run.out).not.toMatch(/every peer holds all/);
    expect(run.out).toMatch(/^virtual time: +gave up after /m);
    expect(readFileSync(join(dir, '.tmp', 'sim-1.svg'), 'utf8')).toMatch(/^<\?xml/);
    expectNoStack(run);
  }, 120_000);

  it('--campaign --seed N replays that campaign seed', async () => {
    const run = await sim(['--campaign', '--seed', '3']);
    expect(run.code).toBe(0);
    expect(run.out.split('\n')[0]).toMatch(/^campaign seed 3: 20 peers × 200 writes/);
    expect(run.out).toMatch(/^seed 3 ok$/m);
    expect(run.out).toMatch(/^state hash: +[0-9a-f]{64}$/m);
    expectNoStack(run);
  }, 120_000);
});
