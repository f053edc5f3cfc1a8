/**
 * `npm run bench`: runs every suite in `bench/suites/` (see `runner/suites.ts`), each in its own
 * child process, prints one table per workload with Shoal's ratio to Yjs and Automerge, and writes
 * all rows with the machine's description as JSON.
 *
 * Why a process per suite: a suite leaves behind a heap full of its garbage, optimised (and
 * deoptimised) code and a grown WASM memory; a fresh process gives the next suite a clean start,
 * and a suite that crashes or runs out of memory fails alone. The cost is one tsx start (~0.5 s).
 *
 * @example
 * npm run bench                          # everything, full size
 * npm run bench -- --quick --only merge  # one suite at a tenth of the size
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './harness.js';
import { parseBenchArgs, USAGE } from './runner/args.js';
import { describeMachine, machineInfo } from './runner/machine.js';
import { isRowsMessage } from './runner/protocol.js';
import { busyWarning, RATIO_LEGEND, renderReport } from './runner/report.js';
import { findSuites, selectSuites, type SuiteFile } from './runner/suites.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(benchDir, '..');
const childEntry = resolve(benchDir, 'runner', 'child.ts');

/** How one suite's process ended. */
interface SuiteOutcome {
  readonly name: string;
  readonly status: 'ok' | 'failed';
  readonly durationMs: number;
  readonly rows: BenchRow[];
  readonly error?: string;
  /** Highest 1-minute load average seen while it ran (sampled every few seconds). */
  readonly maxLoad: number;
}

/** Heap limit of each suite's process, in MiB (the machine has 24 GiB). */
const SUITE_HEAP_MIB = 16 * 1024;

/** How often the runner samples the load average while a suite runs, in ms. */
const LOAD_SAMPLE_MS = 5000;

/**
 * Runs one suite in a fresh node process with the same loader flags as this one (tsx), plus
 * `--expose-gc` so suites can collect garbage outside their timed regions.
 */
function runSuite(suite: SuiteFile, scale: number): Promise<SuiteOutcome> {
  const started = performance.now();
  let maxLoad = os.loadavg()[0] ?? 0;
  const loadTimer = setInterval(() => (maxLoad = Math.max(maxLoad, os.loadavg()[0] ?? 0)), LOAD_SAMPLE_MS);
  return new Promise((done) => {
    let rows: BenchRow[] | undefined;
    let protocolError: string | undefined;
    const child = fork(childEntry, [suite.path, String(scale)], {
      // A heap of 16 GiB: the 1,000-peer simulation holds every peer's log and state in one
      // process (about 4 GiB with the default limit was not enough).
      execArgv: [...process.execArgv, '--expose-gc', `--max-old-space-size=${SUITE_HEAP_MIB}`],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (message) => {
      if (isRowsMessage(message)) rows = message.rows;
      else protocolError = `unexpected message from the suite process: ${JSON.stringify(message)}`;
    });
    const finish = (error: string | undefined): void => {
      clearInterval(loadTimer);
      const durationMs = performance.now() - started;
      done(
        error === undefined && rows !== undefined
          ? { name: suite.name, status: 'ok', durationMs, rows, maxLoad }
          : {
              name: suite.name,
              status: 'failed',
              durationMs,
              rows: rows ?? [],
              error: error ?? 'the suite sent no rows',
              maxLoad,
            },
      );
    };
    child.on('error', (e) => finish(e.message));
    child.on('exit', (code, signal) => {
      if (signal !== null) finish(`killed by ${signal}`);
      else if (code !== 0) finish(`exited with code ${String(code)} (its error is above)`);
      else finish(protocolError);
    });
  });
}

async function main(): Promise<number> {
  const parsed = parseBenchArgs(process.argv.slice(2));
  if (parsed.isErr()) {
    console.error(`${parsed.error}\n${USAGE}`);
    return 2;
  }
  const options = parsed.value;
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const selected = selectSuites(findSuites(resolve(benchDir, 'suites')), options.only);
  if (selected.isErr()) {
    console.error(selected.error);
    return 2;
  }

  const machine = machineInfo(root);
  const startedAt = new Date().toISOString();
  console.log(describeMachine(machine));
  console.log(`scale ${options.scale}${options.scale === 1 ? '' : ' (--quick: sizes in the workload names)'}`);
  console.log(`${RATIO_LEGEND}\n`);

  const outcomes: SuiteOutcome[] = [];
  for (const suite of selected.value) {
    console.error(`suite ${suite.name}…`);
    const outcome = await runSuite(suite, options.scale);
    outcomes.push(outcome);
    console.log(
      `== suite ${outcome.name}: ${outcome.status} in ${(outcome.durationMs / 1000).toFixed(1)} s${outcome.error ? ` — ${outcome.error}` : ''}`,
    );
    const warning = busyWarning(outcome.maxLoad, machine.cores);
    console.log(warning === undefined ? '' : `${warning}\n`);
    if (outcome.rows.length > 0) console.log(`${renderReport(outcome.rows)}\n`);
  }

  const jsonPath = resolve(root, options.json);
  mkdirSync(dirname(jsonPath), { recursive: true });
  const result = {
    startedAt,
    finishedAt: new Date().toISOString(),
    scale: options.scale,
    machine,
    suites: outcomes.map(({ rows: _rows, ...outcome }) => outcome),
    rows: outcomes.flatMap((o) => o.rows.map((row) => ({ suite: o.name, ...row }))),
  };
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`rows written to ${jsonPath}`);
  return outcomes.every((o) => o.status === 'ok') ? 0 : 1;
}

process.exitCode = await main();
