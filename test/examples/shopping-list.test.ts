/**
 * The shopping-list CLI driven as a person would: two processes on this machine, commands typed on
 * their stdin, what they print read from their stdout.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
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

  /** Type `line` and wait for the first line of its answer matching `pattern`. */
  async ask(line: string, pattern: RegExp, timeoutMs = 45_000): Promise<string> {
    const from = this.out.length;
    this.type(line);
    return this.waitFor(pattern, { from, timeoutMs });
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

/** The CLI run once with `args` (no list: --help, --gen-psk…), to its exit. */
async function once(args: string[]): Promise<{ code: number | null; out: string[]; err: string[] }> {
  const cli = new Cli(args);
  running.push(cli);
  const code = await cli.exited;
  return { code, out: cli.out, err: cli.err };
}

/**
 * Asks `status` until it says pending 0, or for 30 s (generous: CI runs many test files at once):
 * acknowledgements are coalesced with the receiver's announcements, so the one for a write the other
 * side already shows may still be on its way. The last status line.
 */
async function pendingSettles(cli: Cli): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const line = await cli.ask('status', /^pending /);
    if (/^pending\s+0 /.test(line) || Date.now() > deadline) return line;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function addressOf(cli: Cli, from = 0): Promise<string> {
  const line = await cli.waitFor(/--peer \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//, { from });
  return line.slice(line.indexOf('--peer ') + '--peer '.length).trim();
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Both ends of a link said so (the name may follow the link: either order is fine). */
async function linked(x: Cli, xName: string, y: Cli, yName: string, from: [number, number] = [0, 0]): Promise<void> {
  for (const [cli, other, start] of [
    [x, yName, from[0]],
    [y, xName, from[1]],
  ] as const) {
    await cli.waitFor(/^~ connected to /, { from: start });
    await cli.waitFor(new RegExp(`^~ (connected to ${other} |${other} is on this list$)`), { from: start });
  }
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

    expect(await pendingSettles(bob)).toMatch(/^pending\s+0 /);

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

describe('shopping-list CLI, one person', () => {
  it('parses commands like a shell: quotes group words and are removed; removed and unknown items have a history answer', async () => {
    const alice = start('alice');
    await alice.waitFor(/^type "help" for commands$/);
    expect(await alice.ask('add "oat milk"', /^added /)).toBe('added "oat milk"');
    expect(await alice.ask("add Mike's beer", /^added /)).toBe(`added "Mike's beer"`);
    expect(await alice.ask(`add 'a  b'`, /^added /)).toBe('added "a  b"');
    expect(await alice.ask('add "unfinished', /quote/)).toMatch(/^unterminated " quote/);
    await alice.waitForItems(['oat milk', "Mike's beer", 'a  b']);
    expect(alice.out.some((l) => l.includes('"oat milk"') && /\[ \]/.test(l))).toBe(false);
    expect(await alice.ask(`rename "oat milk" 'soy milk'`, /^renamed /)).toBe('renamed "oat milk" to "soy milk"');
    expect(await alice.ask('check "soy milk"', /^checked /)).toBe('checked "soy milk"');
    expect(await alice.ask('rm soy milk', /^removed /)).toBe('removed "soy milk"');

    // A removed item: found by any title it had, its history printed, and said to be removed.
    const from = alice.out.length;
    expect(await alice.ask('history oat milk', /was removed/)).toBe('"soy milk" was removed; its history:');
    await alice.waitFor(/alice \(you\)\s+created \{.*"title":"oat milk"/, { from });
    await alice.waitFor(/alice \(you\)\s+set title = "soy milk"$/, { from });
    await alice.waitFor(/alice \(you\)\s+set done = true$/, { from });
    await alice.waitFor(/alice \(you\)\s+removed$/, { from });
    // An item that never was.
    expect(await alice.ask('history "no such thing"', /^no item/)).toBe('no item called "no such thing"');
    expect(await alice.quit()).toBe(0);
  }, 90_000);

  it('--gen-psk keeps an existing key unless --force; a private list shows the --psk others need', async () => {
    const key = join(dir, 'swarm.key');
    const first = await once(['--gen-psk', key]);
    expect(first.code).toBe(0);
    const original = readFileSync(key);
    expect(original.toString('utf8')).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/);

    const again = await once(['--gen-psk', key]);
    expect(again.code).toBe(1);
    expect(again.err.join('\n')).toMatch(/already exists: not overwriting it.*--force/);
    expect(readFileSync(key)).toEqual(original);

    const forced = await once(['--gen-psk', key, '--force']);
    expect(forced.code).toBe(0);
    expect(readFileSync(key)).not.toEqual(original);

    const alice = start('alice', ['--psk', key]);
    const hint = await alice.waitFor(/--peer \/ip4\//);
    expect(hint).toContain(`--psk ${key} --peer /ip4/127.0.0.1/tcp/`);
    expect(await alice.quit()).toBe(0);
  }, 90_000);
});

describe('shopping-list CLI, dialling', () => {
  it('says why a dial fails (closed port, another swarm key, own address) in live lines, peers and status', async () => {
    const keyA = join(dir, 'a.key');
    const keyB = join(dir, 'b.key');
    expect((await once(['--gen-psk', keyA])).code).toBe(0);
    expect((await once(['--gen-psk', keyB])).code).toBe(0);
    const alice = start('alice', ['--psk', keyA]);
    const aliceAddress = await addressOf(alice);
    const closed = `/ip4/127.0.0.1/tcp/${await closedPort()}`;
    const bob = start('bob', ['--psk', keyB, '--peer', closed, '--peer', aliceAddress]);
    await bob.waitFor(new RegExp(`^! cannot connect to ${closed}: refused: connection refused`));
    await bob.waitFor(/^! cannot connect to \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+: psk-mismatch: .*swarm key/);

    // `peers` says what is going on with each address, not "wait a moment".
    const from = bob.out.length;
    bob.type('peers');
    await bob.waitFor(new RegExp(`^dialling ${closed}: failed (once|\\d+ times), last: refused: `), { from });
    await bob.waitFor(/^dialling \S+ at \/ip4\/.*: failed (once|\d+ times), last: psk-mismatch: /, { from });
    expect(bob.out.slice(from).some((l) => /same LAN|wait a moment/.test(l))).toBe(false);

    // `status` counts them by reason and lists the latest.
    const dials = await bob.ask('status', /^dials /);
    expect(dials).toMatch(/^dials\s+\d+ started, \d+ failed \(.*psk-mismatch \d+.*\)/);
    expect(dials).toMatch(/refused \d+/);

    // Dialling oneself is refused at once, with its reason.
    const own = await addressOf(bob);
    expect(await bob.ask(`connect ${own}`, /^dialling /)).toBe(`dialling ${own}…`);
    await bob.waitFor(new RegExp(`^! cannot connect to ${own.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: self: `));
    for (const line of [...alice.out, ...bob.out, ...bob.err]) expect(line).not.toMatch(/^\s+at \S+ \(/);
    expect(await bob.quit()).toBe(0);
    expect(await alice.quit()).toBe(0);
  }, 120_000);

  it('remembers the peers it linked with and dials them again on the next start, without --peer', async () => {
    const alice = start('alice');
    const address = await addressOf(alice);
    const bob = start('bob', ['--peer', address]);
    await linked(alice, 'alice', bob, 'bob');
    expect(await bob.quit()).toBe(0);
    await alice.waitFor(/^~ bob went away$/);

    const aliceFrom = alice.out.length;
    const again = start('bob');
    await again.waitFor(new RegExp(`^dialling alice again \\(linked before\\) at ${address}…$`));
    await linked(alice, 'alice', again, 'bob', [aliceFrom, 0]);
    expect(await again.quit()).toBe(0);
    expect(await alice.quit()).toBe(0);
  }, 150_000);

  it('prints a change only when what the person sees changes: not for a remote edit hidden by a pending one, but when the acknowledgement lets it through', async () => {
    const alice = start('alice');
    const bob = start('bob', ['--peer', await addressOf(alice)]);
    await linked(alice, 'alice', bob, 'bob');
    alice.type('add milk');
    await bob.waitForItems(['milk']);

    // Bob edits while alice is away: his edit stays pending, and survives his restart.
    expect(await alice.quit()).toBe(0);
    await bob.waitFor(/^~ alice went away$/);
    expect(await bob.ask('rename milk oat milk', /^renamed /)).toBe('renamed "milk" to "oat milk"');
    expect(await bob.ask('status', /^pending /)).toMatch(/^pending\s+1 /);
    expect(await bob.quit()).toBe(0);

    // Later, alice renames it too, then bob comes back: alice's newer title reaches bob while his
    // own edit is still pending (so his screen still shows his title), then her acknowledgement of
    // his edit lets the newer title through.
    const alice2 = start('alice');
    const address = await addressOf(alice2);
    expect(await alice2.ask('rename milk soy milk', /^renamed /)).toBe('renamed "milk" to "soy milk"');
    const bob2 = start('bob', ['--peer', address]);
    // Alice sends her facts as soon as bob's hello arrives and acknowledges his after storing them,
    // on one ordered stream: the flip comes with the acknowledgement. (Were the acknowledgement
    // ever first, the newer title would arrive as a plain remote change: the same line, no note.)
    await bob2.waitFor(
      /^~ "oat milk" is now "soy milk"( \(your edit reached a peer; a later edit from another peer wins\))?$/,
    );
    await bob2.waitForItems(['soy milk']);
    await alice2.waitForItems(['soy milk']);
    expect(await bob2.ask('status', /^pending /)).toMatch(/^pending\s+0 /);
    // Nothing visible changed at alice (bob's older title loses), and nothing but the flip at bob.
    for (const cli of [alice2, bob2]) expect(cli.out.filter((l) => /changed$/.test(l))).toEqual([]);
    expect(alice2.out.filter((l) => /is now/.test(l))).toEqual([]);
    expect(bob2.out.filter((l) => /is now/.test(l))).toHaveLength(1);
    expect(await bob2.quit()).toBe(0);
    expect(await alice2.quit()).toBe(0);
  }, 180_000);
});
