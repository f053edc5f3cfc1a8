/**
 * The shopping-list CLI driven as a person would: two processes on this machine, commands typed on
 * their stdin, what they print read from their stdout.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One running `npm run shop` (without npm: node + tsx, same entry). */
class Cli {
  readonly out: string[] = [];
  readonly err: string[] = [];
  readonly #child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.#child = spawn(process.execPath, ['--import', 'tsx', 'examples/shopping-list/index.ts', ...args], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    const collect = (into: string[]) => {
      let partial = '';
      return (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        into.push(...lines);
      };
    };
    this.#child.stdout.on('data', collect(this.out));
    this.#child.stderr.on('data', collect(this.err));
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
  }

  type(line: string): void {
    this.#child.stdin.write(`${line}\n`);
  }

  /** The first output line (from `from` on) matching `pattern`, waiting up to `timeoutMs`. */
  async waitFor(pattern: RegExp, { from = 0, stream = 'out', timeoutMs = 45_000 } = {}): Promise<string> {
    const lines = stream === 'out' ? this.out : this.err;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines.slice(from).find((l) => pattern.test(l));
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) {
        throw new Error(
          `no line matching ${String(pattern)}; stdout:\n${this.out.join('\n')}\nstderr:\n${this.err.join('\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Type `ls` until the list shows every title (or fail). */
  async waitForItems(titles: string[], timeoutMs = 45_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const from = this.out.length;
      this.type('ls');
      try {
        for (const title of titles) {
          await this.waitFor(new RegExp(`^\\s*\\d+\\. \\[[ x]\\] ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`), {
            from,
            timeoutMs: 2000,
          });
        }
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
    }
  }

  async quit(): Promise<number | null> {
    this.type('quit');
    return this.exited;
  }

  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}

const running: Cli[] = [];
// Each test's databases live in a fresh directory: lists must not carry over between tests or runs.
let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-shop-'));
});
afterEach(async () => {
  const clis = running.splice(0);
  for (const cli of clis) cli.kill();
  await Promise.all(clis.map((cli) => cli.exited));
  rmSync(dir, { recursive: true, force: true });
});

function start(name: string, extra: string[] = []): Cli {
  const db = join(dir, `${name}.db`);
  const cli = new Cli(['--name', name, '--db', db, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', ...extra]);
  running.push(cli);
  return cli;
}

async function addressOf(cli: Cli): Promise<string> {
  const line = await cli.waitFor(/--peer \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//);
  return line.slice(line.indexOf('--peer ') + '--peer '.length).trim();
}

describe('shopping-list CLI, two processes', () => {
  it('items added on one appear on the other, and edits flow back', async () => {
    const alice = start('alice');
    const address = await addressOf(alice);
    const bob = start('bob', ['--peer', address]);
    // The link may come up before the other's name has synced: then the line names its peer id and
    // "<name> is on this list" follows once the name arrives. Either way, each must learn the other.
    for (const [cli, other] of [
      [alice, 'bob'],
      [bob, 'alice'],
    ] as const) {
      await cli.waitFor(/^~ connected to /);
      await cli.waitFor(new RegExp(`^~ (connected to ${other} |${other} is on this list$)`));
    }

    alice.type('add milk');
    alice.type('add sourdough bread');
    await bob.waitForItems(['milk', 'sourdough bread']);
    // Bob sees them arrive as they happen, too.
    await bob.waitFor(/^\+ milk$/);

    const from = alice.out.length;
    bob.type('check milk');
    await bob.waitFor(/^checked "milk"$/);
    await alice.waitFor(/✓ milk checked/, { from });
    await alice.waitForItems(['milk', 'sourdough bread']);
    expect(alice.out.some((l) => /\[x\] milk$/.test(l))).toBe(true);

    const peersFrom = alice.out.length;
    alice.type('peers');
    expect(await alice.waitFor(/^bob\s/, { from: peersFrom })).toMatch(/syncing|connected/);

    const statusFrom = bob.out.length;
    bob.type('status');
    expect(await bob.waitFor(/^pending /, { from: statusFrom })).toMatch(/^pending\s+0 /);

    expect(await bob.quit()).toBe(0);
    await alice.waitFor(/~ bob went away/);
    expect(await alice.quit()).toBe(0);
  }, 120_000);

  it('a long catch-up shows its progress', async () => {
    const alice = start('alice');
    const address = await addressOf(alice);
    const count = 2500;
    for (let i = 0; i < count; i++) alice.type(`add item ${i}`);
    await alice.waitFor(new RegExp(`^added "item ${count - 1}"$`), { timeoutMs: 60_000 });
    const bob = start('bob', ['--peer', address]);
    // Not a terminal, so the bar is two lines on stderr.
    await bob.waitFor(/^catching up on [\d,]+ facts/, { stream: 'err', timeoutMs: 30_000 });
    await bob.waitFor(/^caught up: [\d,]+ facts in/, { stream: 'err', timeoutMs: 60_000 });
    await bob.waitForItems(['item 0', `item ${count - 1}`]);
    // A catch-up is summarised, not printed change by change.
    expect(bob.out.filter((l) => l.startsWith('+ item')).length).toBeLessThan(50);
    expect(await bob.quit()).toBe(0);
    expect(await alice.quit()).toBe(0);
  }, 180_000);
});
