/**
 * Entry of a suite's child process: `child.ts <suite file> <scale>`. Imports the suite, runs it and
 * sends its rows to the runner. Progress goes to stderr; any error ends the process non-zero, which
 * the runner reports as a failed suite.
 */
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchSuite } from '../harness.js';
import type { RowsMessage } from './protocol.js';
import { isBenchRow } from './protocol.js';

function isBenchSuite(value: unknown): value is BenchSuite {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  return typeof s.name === 'string' && typeof s.run === 'function';
}

const [file, scaleArg] = process.argv.slice(2);
const send = process.send?.bind(process);
if (file === undefined || scaleArg === undefined || !send) {
  throw new Error('bench/runner/child.ts is started by bench/index.ts, not by hand');
}
const name = basename(file, '.ts');
const imported = (await import(pathToFileURL(file).href)) as { default?: unknown };
const suite = imported.default;
if (!isBenchSuite(suite)) throw new Error(`${file}: the default export is not a BenchSuite`);
if (suite.name !== name) throw new Error(`${file}: suite name "${suite.name}" must equal the file name "${name}"`);

const rows = await suite.run({
  scale: Number(scaleArg),
  log: (message) => process.stderr.write(`  [${name}] ${message}\n`),
});
const bad = rows.find((row) => !isBenchRow(row));
if (bad !== undefined) throw new Error(`${file}: malformed row ${JSON.stringify(bad)}`);

const message: RowsMessage = { type: 'rows', rows };
await new Promise<void>((resolve, reject) => send(message, undefined, {}, (e) => (e ? reject(e) : resolve())));
process.disconnect();
// A library that leaves a timer running (automerge-repo's WebSocket client reconnecting to a source
// that is gone) would keep this process alive, and the runner waiting for it, forever.
setTimeout(() => process.exit(0), 10_000).unref();
