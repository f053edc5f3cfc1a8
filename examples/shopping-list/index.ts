/**
 * `npm run shop -- --name alice --db ./alice.db [--peer <multiaddr>] [--psk <file>]`: a shared
 * shopping list in the terminal. Peers on one LAN find each other with mDNS; anywhere else, start
 * one peer and give its address (printed at start, and by `whoami`) to the others with `--peer`.
 * Peers it has linked with are remembered in its database and dialled again on the next start.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createPeer, type ItemView, type SpaceEvent } from '../../engine/index.js';
import { sqliteStorage } from '../../engine/storage/sqlite/index.js';
import { generateSwarmKey, libp2pTransport, type DialFailure } from '../../transports/libp2p/index.js';
import { parseCli, USAGE, type CliOptions } from './args.js';
import { AnnouncedVectors, showCatchUp } from './catch-up.js';
import { reasonText, Shell } from './commands.js';
import { KnownPeers } from './known-peers.js';
import { shortId, type ShoppingItem } from './list.js';
import { shellQuote } from './words.js';

/** Remote changes per `CHANGE_BATCH_MS` beyond which the CLI prints a count instead of each one. */
const MAX_CHANGES_SHOWN = 5; // changes

/** Remote changes are gathered this long before they are printed, in milliseconds. */
const CHANGE_BATCH_MS = 100; // ms

/** How often the CLI checks who is connected, to say so, in milliseconds. */
const PEER_WATCH_MS = 500; // ms

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCli(argv);
  switch (parsed.kind) {
    case 'help':
      console.log(USAGE);
      return 0;
    case 'error':
      console.error(`${parsed.message}\n\n${USAGE}`);
      return 2;
    case 'gen-psk':
      return genPsk(parsed.file, parsed.force);
    case 'run':
      return run(parsed.options);
  }
}

/** Write a new swarm key to `file`; an existing file is only replaced with `--force`. */
async function genPsk(file: string, force: boolean): Promise<number> {
  try {
    // 'wx' fails if the file exists, atomically: no window in which another key could be lost.
    await writeFile(file, generateSwarmKey(), { mode: 0o600, flag: force ? 'w' : 'wx' });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'EEXIST') {
      console.error(
        `${file} already exists: not overwriting it (peers using that key would be shut out). ` +
          'Pass --force to replace it, or choose another file.',
      );
    } else {
      console.error(`cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return 1;
  }
  console.log(`wrote a new swarm key to ${file}: give it (privately) to everyone who may join`);
  return 0;
}

async function run(options: CliOptions): Promise<number> {
  let psk: Uint8Array | undefined;
  if (options.psk !== undefined) {
    try {
      psk = new Uint8Array(await readFile(options.psk));
    } catch (e) {
      console.error(`cannot read --psk ${options.psk}: ${e instanceof Error ? e.message : String(e)}`);
      return 2;
    }
  }
  // The list, the identity and everything pending live in this file: run again with the same --db
  // and you are the same peer, with nothing lost.
  const storage = sqliteStorage(options.db);
  // Peers linked before are dialled again, next to the --peer addresses.
  const known = new KnownPeers(storage);
  const remembered = (await known.load(Date.now())).filter((p) => !options.peers.includes(p.address));

  const announced = new AnnouncedVectors(options.list);
  const transport = libp2pTransport({
    listen: options.listen,
    bootstrap: [...options.peers, ...remembered.map((p) => p.address)],
    mdns: options.mdns,
    ...(psk === undefined ? {} : { psk }),
  });
  // Failures are printed with the peer watch (after the output of the command that caused them),
  // once per address and reason: a peer that stays down is not announced at every retry.
  const failures: DialFailure[] = [];
  transport.onDialFailure((f) => failures.push(f));
  const opened = await createPeer({ storage, transports: [announced.wrap(transport)] });
  if (opened.isErr()) {
    console.error(`could not start: ${opened.error.type}: ${opened.error.message}`);
    return 1;
  }
  const peer = opened.value;
  const space = await peer.space(options.list);
  if (space.isErr()) {
    console.error(`could not open the list: ${space.error.type}: ${space.error.message}`);
    await peer.close();
    return 1;
  }
  const shell = new Shell({ name: options.name, peer, space: space.value, transport, storage, mdns: options.mdns });
  const introduced = await shell.introduce();

  const interactive = process.stdin.isTTY;
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
  rl.setPrompt(`${options.name}> `);
  /** Print lines without mangling a half-typed command. */
  const print = (lines: readonly string[]): void => {
    if (lines.length === 0) return;
    if (interactive) process.stdout.write('\r\x1b[K');
    for (const line of lines) process.stdout.write(`${line}\n`);
    if (interactive) rl.prompt(true);
  };

  const join = `npm run shop -- --name <name>${options.psk === undefined ? '' : ` --psk ${shellQuote(options.psk)}`}`;
  print([
    `Shoal shopping list "${options.list}" · ${options.name} · ${peer.id}`,
    `storage: ${storage.name}`,
    ...(introduced === undefined ? [] : [`note: ${introduced}`]),
    'others can join with:',
    ...peer.addresses().map((a) => `  ${join} --peer ${a}`),
    ...(psk === undefined ? [] : [`  (they need a copy of ${options.psk}: it is the key to this private network)`]),
    ...options.peers.map((a) => `dialling ${a}…`),
    ...remembered.map((p) => `dialling ${shell.nameOf(p.peer)} again (linked before) at ${p.address}…`),
    options.mdns ? 'looking for peers on the LAN (mDNS)…' : 'mDNS off: peers must dial in or be given with --peer',
    psk === undefined ? 'network: open (anyone who can reach you)' : 'network: private (swarm key)',
    'type "help" for commands',
  ]);

  // Say what others changed, in a person's words, when what this person sees changed.
  const titles = new Map<string, ShoppingItem>();
  for (const item of space.value.collection<ShoppingItem>('items').all()) titles.set(item.id, item);
  // Gathered for CHANGE_BATCH_MS, so a catch-up of thousands of facts is one line, not thousands.
  let batch: string[] = [];
  const changeFlush = setInterval(() => {
    if (batch.length > MAX_CHANGES_SHOWN) print([`~ ${batch.length} changes from peers`]);
    else print(batch);
    batch = [];
  }, CHANGE_BATCH_MS);
  const unsubscribe = space.value.subscribe((event: SpaceEvent) => {
    const lines = batch;
    for (const change of event.changes) {
      if (change.collection === 'members') {
        const name = change.value?.name;
        if (event.source === 'remote' && typeof name === 'string') lines.push(`~ ${name} is on this list`);
        continue;
      }
      if (change.collection !== 'items') continue;
      const before = titles.get(change.id);
      const after = change.value as ItemView<ShoppingItem> | undefined;
      if (after === undefined) titles.delete(change.id);
      else titles.set(change.id, after);
      // Our own edits were answered by the command; a remote edit hidden by one of ours still
      // pending changes nothing on screen; an acknowledgement can (a later remote edit wins then).
      if (event.source !== 'local') lines.push(...describeChange(before, after, event.source));
    }
  });

  let connected = new Set<string>();
  /** Per address, the last failure reason printed. */
  const announcedFailures = new Map<string, string>();
  const peerWatch = setInterval(() => {
    const now = new Set<string>(transport.linkedPeers());
    const lines: string[] = [];
    for (const f of failures.splice(0)) {
      if (announcedFailures.get(f.address) === f.reason) continue;
      announcedFailures.set(f.address, f.reason);
      lines.push(`! cannot connect to ${f.address}: ${reasonText(f)}`);
    }
    for (const id of now) if (!connected.has(id)) lines.push(`~ connected to ${shell.nameOf(id)} (${shortId(id)})`);
    for (const id of connected) if (!now.has(id)) lines.push(`~ ${shell.nameOf(id)} went away`);
    connected = now;
    const targets = transport.dialTargets();
    for (const target of targets) if (target.state === 'linked') announcedFailures.delete(target.address);
    void known.note(targets, Date.now());
    print(lines);
  }, PEER_WATCH_MS);
  const stopCatchUp = showCatchUp(space.value, announced, process.stderr);

  // Commands run one at a time, in the order typed (a scripted stdin may deliver many at once).
  let queue = Promise.resolve();
  let quitting = false;
  const finished = new Promise<void>((resolve) => {
    rl.on('line', (line) => {
      queue = queue.then(async () => {
        if (quitting) return;
        const command = line.trim().toLowerCase();
        if (command === 'quit' || command === 'exit') {
          quitting = true;
          rl.close();
          return;
        }
        print(await shell.run(line));
      });
    });
    rl.on('close', () => {
      quitting = true;
      void queue.then(resolve);
    });
    process.once('SIGINT', () => rl.close());
  });
  if (interactive) rl.prompt();
  await finished;

  clearInterval(peerWatch);
  clearInterval(changeFlush);
  stopCatchUp();
  unsubscribe();
  await known.note(transport.dialTargets(), Date.now());
  const pending = space.value.status().pending;
  if (pending > 0) {
    const fate = storage.name === 'memory' ? 'memory storage: they are lost' : 'they are sent next time';
    console.log(`leaving with ${pending} edit(s) not yet acknowledged by another peer (${fate})`);
  }
  await peer.close();
  return 0;
}

/**
 * Lines for a change to one item, or none when nothing a person sees (existence, title, ticked)
 * changed: a remote edit shadowed by our own pending one, say.
 */
function describeChange(
  before: ShoppingItem | undefined,
  after: ShoppingItem | undefined,
  source: SpaceEvent['source'],
): string[] {
  const why =
    source === 'ack'
      ? ' (your edit reached a peer; a later edit from another peer wins)'
      : source === 'rollback'
        ? ' (your edit could not be saved)'
        : '';
  if (before === undefined && after === undefined) return [];
  if (after === undefined) return [`- ${before!.title} was removed${why}`];
  if (before === undefined) return [`+ ${after.title}${why}`];
  const lines: string[] = [];
  if (before.title !== after.title) lines.push(`~ "${before.title}" is now "${after.title}"${why}`);
  if (before.done !== after.done)
    lines.push(`${after.done ? '✓' : '☐'} ${after.title} ${after.done ? 'checked' : 'unchecked'}${why}`);
  return lines;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
