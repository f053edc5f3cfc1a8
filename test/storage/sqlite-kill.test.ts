/**
 * Crash consistency of the SQLite log under a real kill: a child process appends batches, sets
 * metadata and truncates inside batch rows (./fixtures/truncate-writer.ts), printing each step the
 * moment it resolved; the test SIGKILLs it mid-stream and reopens the file. The log must be exactly
 * what the acknowledged steps made, or that plus the one step in flight: nothing acknowledged lost,
 * no half-done truncation or append.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { FactEntry } from '../../engine/log/fact-entry.js';
import { sqliteStorage } from '../../engine/storage/sqlite/index.js';
import { normalize } from '../../testing/facts.js';
import { readAll } from '../../testing/index.js';
import { tempDirs } from '../support/temp-dir.js';
import { SPACE, steps, type Step } from './fixtures/log-stream.js';

const tempDir = tempDirs('shoal-kill-cut-');
const WRITER = fileURLToPath(new URL('./fixtures/truncate-writer.ts', import.meta.url));
/** Kill once this many steps were acknowledged (about 100 batches, 30 truncations). */
const KILL_AFTER = 250; // steps
/** Give up on the child after this long (it normally gets there in a few seconds). */
const CHILD_TIMEOUT_MS = 45_000;

/** What the log holds after `steps`: its start and its entries with their metadata. */
function model(done: readonly Step[]): { start: number; entries: Record<string, unknown>[] } {
  const entries: FactEntry[] = [];
  let start = 0;
  for (const step of done) {
    if (step.kind === 'append') entries.push(...step.entries);
    else if (step.kind === 'meta') entries[step.at] = { ...entries[step.at]!, snapshot: step.snapshot };
    else start = step.at;
  }
  return { start, entries: entries.slice(start).map(normalize) };
}

it('a SIGKILLed writer leaves the log of its acknowledged steps (or one more), truncations inside rows included', async () => {
  const file = join(tempDir(), 'killed.db');
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let acked = -1;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`writer too slow: ${acked + 1} acks; stderr: ${stderr}`)),
      CHILD_TIMEOUT_MS,
    );
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line === `ok ${acked + 1}`) acked++;
        else reject(new Error(`writer said: ${line}`));
      }
      if (acked + 1 >= KILL_AFTER) {
        child.kill('SIGKILL');
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`writer exited early: ${stderr}`)));
  });
  expect(await exited).toBe('SIGKILL');

  const done: Step[] = [];
  for (const step of steps()) {
    done.push(step);
    if (done.length === acked + 2) break;
  }
  expect(done.filter((s) => s.kind === 'truncate').length).toBeGreaterThan(10);
  const storage = sqliteStorage(file);
  const log = (await storage.openLog(SPACE))._unsafeUnwrap();
  const found = await readAll(log);
  const got = { start: found.start, entries: found.entries.map(normalize) };
  const withoutInFlight = model(done.slice(0, acked + 1));
  const withInFlight = model(done);
  expect([withoutInFlight, withInFlight]).toContainEqual(got);
  (await storage.close())._unsafeUnwrap();
});
