/**
 * `npm start` (the demo) runs to the end, converges and exits 0.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm start', () => {
  it('plays the story to the end: three peers, same list, same state hash, exit 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo/index.ts'], { cwd: ROOT, stdio: 'pipe' });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('bob\'s "espresso" (the newer write) arrives through alice, but carol shows "decaf"');
    expect(out).toContain('"coffee" shows the last write everyone agrees on: "espresso"');
    const hashes = [...out.matchAll(/pending 0 {2}stateHash ([0-9a-f]{16})…/g)].map((m) => m[1]);
    expect(hashes).toHaveLength(3);
    expect(new Set(hashes).size).toBe(1);
    expect(out).toContain('Same list, same state hash on all three peers.');
  });
});
