/**
 * The shopping-list shell: one typed line in, lines of text out. No terminal or network code here,
 * so it reads (and could be tested) on its own.
 */
import type { Fact, ItemView, Peer, Space, WriteError } from '../../engine/index.js';
import type { Libp2pTransport } from '../../transports/libp2p/index.js';
import { formatItems, itemsOf, ordered, shortId, type ShoppingItem } from './list.js';

export const HELP = `Commands:
  add <title>               add an item
  check <item>              tick it off        uncheck <item>   untick it
  rename <item> <new title> change its title   rm <item>        remove it
  ls                        the list, numbered
  peers                     who you are syncing with
  connect <multiaddr>       dial a peer (keeps re-dialling it if the link drops)
  status                    pending edits, what you hold (vector), snapshot, network counters
  history <item>            every change ever made to an item, oldest first
  whoami                    your id and the addresses others can dial
  help                      this text          quit             leave
<item> is a number from the last "ls", a title (or its start), or an item id.
Quote a title that has spaces when it comes first: rename "oat milk" soy milk`;

/** Members collection: each peer writes its display name under its own PeerId. */
interface Member {
  name: string;
}

export interface ShellContext {
  readonly name: string;
  readonly peer: Peer;
  readonly space: Space;
  readonly transport: Libp2pTransport;
}

export class Shell {
  readonly #ctx: ShellContext;
  /** Item ids in the order of the last `ls`, for numbered references. */
  #numbered: string[] = [];

  constructor(ctx: ShellContext) {
    this.#ctx = ctx;
  }

  /** Record (or update) our display name, so others' `peers` and `history` show it. */
  async introduce(): Promise<string | undefined> {
    const members = this.#ctx.space.collection<Member>('members');
    const me = this.#ctx.peer.id;
    const current = members.get(me);
    if (current?.name === this.#ctx.name) return undefined;
    const written =
      current === undefined
        ? await members.create({ name: this.#ctx.name }, me)
        : await members.update(me, 'name', this.#ctx.name);
    return written.isErr() ? failure(written.error) : undefined;
  }

  /** Run one command line; `quit` is the caller's to handle. */
  async run(line: string): Promise<string[]> {
    const trimmed = line.trim();
    if (trimmed === '') return [];
    const space = trimmed.indexOf(' ');
    const command = (space < 0 ? trimmed : trimmed.slice(0, space)).toLowerCase();
    const rest = space < 0 ? '' : trimmed.slice(space + 1).trim();
    switch (command) {
      case 'add':
        return this.#add(rest);
      case 'check':
      case 'uncheck':
        return this.#check(rest, command === 'check');
      case 'rename':
        return this.#rename(rest);
      case 'rm':
        return this.#remove(rest);
      case 'ls':
        return this.#list();
      case 'peers':
        return this.#peers();
      case 'connect': {
        if (rest === '') return ['usage: connect <multiaddr>'];
        const dialled = await this.#ctx.transport.dial(rest);
        return dialled.isErr() ? [failure(dialled.error)] : [`dialling ${rest}…`];
      }
      case 'status':
        return this.#status();
      case 'history':
        return this.#history(rest);
      case 'whoami':
        return this.#whoami();
      case 'help':
        return HELP.split('\n');
      default:
        return [`unknown command "${command}" (try "help")`];
    }
  }

  /** A name for a PeerId: its member name, "you", or a short id. */
  nameOf(id: string): string {
    if (id === this.#ctx.peer.id) return `${this.#ctx.name} (you)`;
    return this.#ctx.space.collection<Member>('members').get(id)?.name ?? shortId(id);
  }

  async #add(title: string): Promise<string[]> {
    if (title === '') return ['usage: add <title>'];
    const created = await itemsOf(this.#ctx.space).create({ title, done: false, addedAt: Date.now() });
    return created.isErr() ? [failure(created.error)] : [`added "${title}"`];
  }

  async #check(ref: string, done: boolean): Promise<string[]> {
    const item = this.#find(ref);
    if (typeof item === 'string') return [item];
    const written = await itemsOf(this.#ctx.space).update(item.id, 'done', done);
    return written.isErr() ? [failure(written.error)] : [`${done ? 'checked' : 'unchecked'} "${item.title}"`];
  }

  async #rename(args: string): Promise<string[]> {
    const split = splitFirst(args);
    if (split === undefined || split.rest === '') return ['usage: rename <item> <new title>'];
    const item = this.#find(split.first);
    if (typeof item === 'string') return [item];
    const written = await itemsOf(this.#ctx.space).update(item.id, 'title', split.rest);
    return written.isErr() ? [failure(written.error)] : [`renamed "${item.title}" to "${split.rest}"`];
  }

  async #remove(ref: string): Promise<string[]> {
    const item = this.#find(ref);
    if (typeof item === 'string') return [item];
    const removed = await itemsOf(this.#ctx.space).delete(item.id);
    return removed.isErr() ? [failure(removed.error)] : [`removed "${item.title}"`];
  }

  #list(): string[] {
    const items = ordered(itemsOf(this.#ctx.space).all());
    this.#numbered = items.map((i) => i.id);
    if (items.length === 0) return ['(the list is empty: "add milk")'];
    const lines = formatItems(items, '');
    return lines.map((line, i) => `${String(i + 1).padStart(3)}. ${line}`);
  }

  #peers(): string[] {
    const syncing = this.#ctx.space.status().peers;
    const linked = this.#ctx.transport.linkedPeers();
    if (linked.length === 0) return ['no peers yet (same LAN: wait a moment; elsewhere: --peer <address>)'];
    return linked.map(
      (id) => `${this.nameOf(id).padEnd(16)} ${shortId(id)}  ${syncing.includes(id) ? 'syncing' : 'connected'}`,
    );
  }

  #status(): string[] {
    const status = this.#ctx.space.status();
    const stats = this.#ctx.transport.stats();
    const vector = Object.entries(status.vector).map(([origin, counter]) => `${this.nameOf(origin)}: ${counter}`);
    return [
      `pending    ${status.pending} of your edits not yet acknowledged by another peer`,
      `vector     ${vector.length === 0 ? '(nothing yet)' : vector.join(', ')}`,
      `log        ${status.logLength} facts (from sequence ${status.logStart})`,
      `snapshot   ${status.snapshot === undefined ? 'none yet' : `${status.snapshot.blobId.slice(0, 16)}… at entry ${status.snapshot.sequenceId}`}`,
      `faults     ${status.faults.length}`,
      `network    ${stats.linksUp - stats.linksDown} link(s) · sent ${stats.framesSent} frames / ${kib(stats.bytesSent)} · received ${stats.framesReceived} frames / ${kib(stats.bytesReceived)}`,
    ];
  }

  async #history(ref: string): Promise<string[]> {
    const item = this.#find(ref, true);
    if (typeof item === 'string') return [item];
    const facts = await this.#ctx.space.history('items', item.id);
    if (facts.isErr()) return [failure(facts.error)];
    return facts.value.map(
      (fact) =>
        `${new Date(fact.hlc.wall).toISOString().replace('T', ' ').slice(0, 19)}  ${this.nameOf(fact.origin).padEnd(16)} ${describeFact(fact)}`,
    );
  }

  #whoami(): string[] {
    const addresses = this.#ctx.peer.addresses();
    return [
      `${this.#ctx.name}  ${this.#ctx.peer.id}`,
      ...(addresses.length === 0 ? ['(not listening)'] : addresses.map((a) => `  ${a}`)),
    ];
  }

  /**
   * The item `ref` names: a number from the last `ls`, an exact title, a unique title start, or an
   * id. `deleted` also finds removed items (by id or number), for `history`. A string is the error.
   */
  #find(ref: string, deleted = false): { id: string; title: string } | string {
    const wanted = unquote(ref.trim());
    if (wanted === '') return 'which item? (a number from "ls", or its title)';
    const items = itemsOf(this.#ctx.space).all();
    const byNumber = /^\d+$/.test(wanted) ? this.#numbered[Number(wanted) - 1] : undefined;
    if (byNumber !== undefined) {
      const item = items.find((i) => i.id === byNumber);
      if (item !== undefined) return item;
      if (deleted) return { id: byNumber, title: `#${wanted}` };
      return `item ${wanted} is gone (run "ls" again)`;
    }
    const lower = wanted.toLowerCase();
    const exact = items.filter((i) => i.title.toLowerCase() === lower);
    if (exact.length === 1) return exact[0]!;
    const starts = exact.length > 1 ? exact : items.filter((i) => i.title.toLowerCase().startsWith(lower));
    if (starts.length === 1) return starts[0]!;
    if (starts.length > 1)
      return `"${wanted}" could be ${starts.map((i) => `"${i.title}"`).join(' or ')}: use its number from "ls"`;
    const byId = items.find((i: ItemView<ShoppingItem>) => i.id === wanted);
    if (byId !== undefined) return byId;
    return deleted ? { id: wanted, title: wanted } : `no item "${wanted}"`;
  }
}

function describeFact(fact: Fact): string {
  switch (fact.type) {
    case 'create':
      return `created ${JSON.stringify(fact.data)}`;
    case 'update':
      return `set ${Object.entries(fact.data)
        .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
        .join(', ')}`;
    case 'delete':
      return 'removed';
  }
}

function failure(error: WriteError | { type: string; message: string }): string {
  return `failed (${error.type}): ${error.message}`;
}

/** `"oat milk" soy milk` → first `oat milk`, rest `soy milk`; unquoted: split at the first space. */
function splitFirst(args: string): { first: string; rest: string } | undefined {
  const text = args.trim();
  if (text === '') return undefined;
  const quote = text[0];
  if (quote === '"' || quote === "'") {
    const end = text.indexOf(quote, 1);
    if (end < 0) return undefined;
    return { first: text.slice(1, end), rest: text.slice(end + 1).trim() };
  }
  const space = text.indexOf(' ');
  return space < 0 ? { first: text, rest: '' } : { first: text.slice(0, space), rest: text.slice(space + 1).trim() };
}

function unquote(text: string): string {
  const quoted = text.length >= 2 && (text[0] === '"' || text[0] === "'") && text.endsWith(text[0]);
  return quoted ? text.slice(1, -1) : text;
}

const kib = (bytes: number): string => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);
