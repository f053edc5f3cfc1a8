/**
 * `npm start`: three Shoal peers on this machine share a shopping list over real libp2p
 * connections (TCP on 127.0.0.1, noise encryption, yamux), and play a short story:
 *
 * 1. Alice, Bob and Carol start and link up (a write is pending until both others hold it).
 * 2. Everyone adds items at the same time; everyone ends with every item.
 * 3. Concurrent edits: different fields of one item both survive; the same field → the later write.
 * 4. Carol goes offline and keeps editing; her edits wait as "pending". Bob edits the same item,
 *    his edit reaches Alice, and Bob goes offline for a while.
 * 5. Carol comes back and reaches Alice: Bob's newer value arrives while her own edit is still
 *    pending (Bob, offline, cannot hold it yet), and her screen keeps showing her edit (pending local
 *    changes shadow incoming ones). Once Bob is back, her edits are acknowledged and everyone shows
 *    the same list, with the same state hash.
 *
 * Exits 0 when the three peers converged, 1 otherwise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPeer, type Peer, type Space, type SpaceEvent, type Storage } from '../../engine/index.js';
import { sqliteStorage } from '../../engine/storage/sqlite/index.js';
import type { Result } from 'neverthrow';
import { libp2pTransport, type Libp2pTransport } from '../../transports/libp2p/index.js';
import { formatItems, itemsOf, LIST_SPACE, shortId, type ShoppingItem } from '../shopping-list/list.js';

/**
 * A write stays pending until both other peers hold it (the default is one). That is what lets the
 * story show, step by step, Carol's pending edit shadowing Bob's newer one: when she comes back she
 * reaches Alice (who confirms, 1 of 2, and hands her Bob's edit) while Bob is offline, and Bob later.
 */
const ACK_QUORUM = 2;

/** Longest wait for any one step, in ms (the whole demo takes a few seconds). */
const STEP_TIMEOUT_MS = 10_000;

const tty = process.stdout.isTTY;
const bold = (s: string): string => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string): string => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const green = (s: string): string => (tty ? `\x1b[32m${s}\x1b[0m` : s);
const say = (line = ''): void => console.log(line);
const step = (title: string): void => say(`\n${bold(title)}`);
const ok = (line: string): void => say(`   ${green('✓')} ${line}`);

interface Person {
  readonly name: string;
  readonly storage: Storage;
  readonly peer: Peer;
  readonly space: Space;
  /** Its network, when online. */
  readonly transport: Libp2pTransport | undefined;
}

class DemoFailure extends Error {}

/** Unwrap a Shoal result, or stop the demo with its error. */
function must<T>(result: Result<T, { type: string; message: string }>, doing: string): T {
  if (result.isErr()) throw new DemoFailure(`${doing} failed: ${result.error.type}: ${result.error.message}`);
  return result.value;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new DemoFailure(`gave up waiting for ${what}`);
    await sleep(10);
  }
}

/** Start (or restart) a person's peer on their storage; `online` gives it a libp2p transport. */
async function open(name: string, storage: Storage, online: { bootstrap: string[] } | undefined): Promise<Person> {
  const transport =
    online === undefined
      ? undefined
      : libp2pTransport({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: online.bootstrap });
  const transports = transport === undefined ? [] : [transport];
  const peer = must(await createPeer({ storage, transports, ackQuorum: ACK_QUORUM }), `starting ${name}`);
  const space = must(await peer.space(LIST_SPACE), `opening ${name}'s list`);
  return { name, storage, peer, space, transport };
}

const titles = (p: Person): string[] =>
  itemsOf(p.space)
    .all()
    .map((i) => i.title)
    .sort();

/** Everyone holds the same facts (same state hash), nothing is pending, and each shows `count` items. */
function converged(people: readonly Person[], count: number): boolean {
  const hash = people[0]!.space.stateHash();
  return people.every(
    (p) => p.space.stateHash() === hash && p.space.status().pending === 0 && itemsOf(p.space).all().length === count,
  );
}

async function add(p: Person, title: string): Promise<string> {
  return must(await itemsOf(p.space).create({ title, done: false, addedAt: Date.now() }), `${p.name} adding ${title}`);
}

async function set<K extends keyof ShoppingItem>(
  p: Person,
  id: string,
  field: K,
  value: ShoppingItem[K],
): Promise<void> {
  must(await itemsOf(p.space).update(id, field, value), `${p.name} setting ${field}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'shoal-demo-'));
  say(bold('Shoal demo: three peers, one shopping list, real networking on this machine'));
  say(dim("libp2p over TCP on 127.0.0.1 · noise encryption with each peer's own key · yamux"));
  // Each person's peer keeps everything (identity, log, snapshots) in one SQLite file; a restart
  // opens the same file again.
  const storageFor = (name: string): Storage => sqliteStorage(join(dir, `${name}.db`));

  // ① ------------------------------------------------------------------------------------------
  step('① Alice, Bob and Carol start. Bob dials Alice; Carol dials both.');
  const alice = await open('alice', storageFor('alice'), { bootstrap: [] });
  const aliceAddress = alice.peer.addresses();
  let bob = await open('bob', storageFor('bob'), { bootstrap: aliceAddress });
  const bobAddress = bob.peer.addresses();
  let carol = await open('carol', storageFor('carol'), { bootstrap: [...aliceAddress, ...bobAddress] });
  const people = (): Person[] => [alice, bob, carol];
  for (const p of people()) {
    const address = (p.peer.addresses()[0] ?? '').replace(/\/p2p\/.*$/, '');
    say(`   ${p.name.padEnd(6)} ${shortId(p.peer.id)}  ${dim(`listening on ${address}, storage: ${p.storage.name}`)}`);
  }
  await until(() => people().every((p) => p.space.status().peers.length === 2), 'everyone to see everyone');
  ok('everyone is syncing with everyone');
  say(dim(`   a write stays "pending" until both others hold it (ackQuorum ${ACK_QUORUM})`));

  // ② ------------------------------------------------------------------------------------------
  step('② Everyone adds items at the same time (no one waits for anyone).');
  const [milk, bread, , coffee] = await Promise.all([
    add(alice, 'milk'),
    add(alice, 'bread'),
    add(bob, 'eggs'),
    add(carol, 'coffee'),
  ]);
  say('   alice + milk, bread    bob + eggs    carol + coffee');
  await until(() => converged(people(), 4), 'the first four items everywhere');
  ok(`every peer has all 4 items: ${titles(alice).join(', ')}`);

  // ③ ------------------------------------------------------------------------------------------
  step('③ Concurrent edits.');
  say('   alice renames "milk" to "oat milk" while bob ticks "milk" off (different fields)');
  say('   alice renames "bread" to "sourdough", bob renames it to "rye bread" a moment later (same field)');
  await Promise.all([
    set(alice, milk, 'title', 'oat milk'),
    set(bob, milk, 'done', true),
    set(alice, bread, 'title', 'sourdough'),
  ]);
  await sleep(5); // "a moment later": bob's clock reads later, so his write is the last writer
  await set(bob, bread, 'title', 'rye bread');
  await until(() => converged(people(), 4), 'the edits to settle');
  const milkNow = itemsOf(carol.space).get(milk);
  ok(
    `both edits of milk kept: "${milkNow?.title}", ${milkNow?.done === true ? 'ticked' : 'not ticked'} (on every peer)`,
  );
  ok(`bread is "${itemsOf(carol.space).get(bread)?.title}" on every peer: the later write wins`);

  // ④ ------------------------------------------------------------------------------------------
  step('④ Carol goes offline and keeps shopping.');
  await carol.peer.close();
  carol = await open('carol', storageFor('carol'), undefined); // same file, no network
  await until(() => alice.space.status().peers.length === 1, 'Alice to notice Carol left');
  ok('alice and bob see carol leave');
  await set(carol, coffee, 'title', 'decaf');
  await add(carol, 'tea');
  say(`   carol, offline: "coffee" → "decaf", + tea          carol's pending edits: ${carol.space.status().pending}`);
  await sleep(5);
  await set(bob, coffee, 'title', 'espresso');
  say('   bob, a moment later: "coffee" → "espresso"');
  await until(() => itemsOf(alice.space).get(coffee)?.title === 'espresso', "Bob's edit to reach Alice");
  say(`   carol sees: ${titles(carol).join(', ')}   alice sees: ${titles(alice).join(', ')}`);
  await bob.peer.close();
  bob = await open('bob', storageFor('bob'), undefined); // same file, no network
  await until(() => alice.space.status().peers.length === 0, 'Alice to notice Bob left');
  ok('bob goes offline too (his edit is already with alice)');

  // ⑤ ------------------------------------------------------------------------------------------
  step('⑤ Carol comes back online (same storage, same identity). She reaches Alice; Bob is still away.');
  await carol.peer.close();
  // Watch Carol's list from the moment she is back: what she shows when Bob's edit arrives.
  let arrived: string | undefined;
  let released: string | undefined;
  carol = await open('carol', storageFor('carol'), { bootstrap: aliceAddress });
  const unsubscribe = carol.space.subscribe((event: SpaceEvent) => {
    const change = event.changes.find((c) => c.id === coffee);
    const shows = (change?.value as ShoppingItem | undefined)?.title;
    if (change === undefined || shows === undefined) return;
    if (event.source === 'remote' && arrived === undefined) arrived = shows;
    if (event.source === 'ack' && released === undefined) released = shows;
  });
  await until(() => arrived !== undefined, "Bob's edit to reach Carol through Alice");
  say(`   bob's "espresso" (the newer write) arrives through alice, but carol shows "${arrived}":`);
  say(
    `   her own edits are still pending (${carol.space.status().pending} pending: bob does not have them yet), and pending edits shadow incoming ones`,
  );
  await bob.peer.close();
  bob = await open('bob', storageFor('bob'), { bootstrap: [...aliceAddress, ...carol.peer.addresses()] });
  say('   bob comes back online…');
  await until(() => converged(people(), 5), 'Carol to catch up and be caught up with');
  unsubscribe();
  ok(
    `both hold her edits now: nothing pending, and "coffee" shows the last write everyone agrees on: "${released ?? itemsOf(carol.space).get(coffee)?.title}"`,
  );
  ok('everyone converged');

  // The end ------------------------------------------------------------------------------------
  step('Every peer now:');
  for (const p of people()) {
    const status = p.space.status();
    say(`   ${bold(p.name)}  pending ${status.pending}  stateHash ${p.space.stateHash().slice(0, 16)}…`);
    for (const line of formatItems(itemsOf(p.space).all(), '      ')) say(line);
  }
  const hashes = new Set(people().map((p) => p.space.stateHash()));
  await Promise.all(people().map((p) => p.peer.close()));
  await rm(dir, { recursive: true, force: true });
  if (hashes.size !== 1) throw new DemoFailure('the peers did not converge');
  say(
    `\n${green('Same list, same state hash on all three peers.')} ${dim(`(${((Date.now() - started) / 1000).toFixed(1)} s)`)}`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
