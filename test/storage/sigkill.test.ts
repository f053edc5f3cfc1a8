/**
 * A real kill: a child process appends to SQLite through a peer and prints each id when its write
 * resolves; the test SIGKILLs it mid-stream, reopens the file, and finds every printed id.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { createPeer } from '../../engine/index.js';
import { sqliteStorage } from '../../engine/storage/sqlite/index.js';
import { tempDirs } from '../support/temp-dir.js';
import { verifiedLog } from './crash-workload.js';

const tempDir = tempDirs('shoal-kill-');
const WRITER = fileURLToPath(new URL('./fixtures/kill-writer.ts', import.meta.url));
/** Kill once this many writes were acknowledged. */
const KILL_AFTER = 600; // writes
/** Give up on the child after this long (it normally gets there in a second or two). */
const CHILD_TIMEOUT_MS = 45_000;

it('finds every write a SIGKILLed writer acknowledged', async () => {
  const file = join(tempDir(), 'killed.db');
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked: string[] = [];
  let peerId: string | undefined;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`writer too slow: ${acked.length} acks; stderr: ${stderr}`)),
      CHILD_TIMEOUT_MS,
    );
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('peer ')) peerId = line.slice(5);
        else if (line.startsWith('ok ')) acked.push(line.slice(3));
        else reject(new Error(`writer said: ${line}`));
      }
      if (acked.length >= KILL_AFTER) {
        // Mid-stream: the child has more writes in flight right now.
        child.kill('SIGKILL');
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`writer exited early: ${stderr}`)));
  });
  expect(await exited).toBe('SIGKILL');

  const storage = sqliteStorage(file);
  const peer = (await createPeer({ storage }))._unsafeUnwrap();
  expect(peer.id).toBe(peerId);
  const items = (await peer.space('kill'))._unsafeUnwrap().collection<{ n: number }>('items');
  const missing = acked.filter((id) => items.get(id) === undefined);
  expect(missing).toEqual([]);
  // The log is intact: every hash recomputes, the chain links, nothing twice.
  const { entries } = await verifiedLog(storage, 'kill');
  expect(entries.length).toBeGreaterThanOrEqual(acked.length);
  expect(entries.map((e) => e.counter)).toEqual(entries.map((_, i) => i + 1));
  await peer.close();
});
