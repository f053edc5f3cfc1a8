/**
 * The shopping-list shell: one typed line in, lines of text out. No terminal or network code here,
 * so it reads (and could be tested) on its own.
 */
import type { Fact, ItemView, Peer, Space, Storage, WriteError } from '../../engine/index.js';
import type { DialFailure, DialTarget, Libp2pTransport } from '../../transports/libp2p/index.js';
import { formatItems, itemsOf, ordered, shortId, type ShoppingItem } from './list.js';
import { splitWords } from './words.js';

export const HELP = `Commands:
  add <title>               add an item
  check <item>              tick it off        uncheck <item>   untick it
  rename <item> <new title> change its title   rm <item>        remove it
  ls                        the list, numbered
  peers                     who you are syncing with, and how dialling the others goes
  connect <multiaddr>       dial a peer (keeps re-dialling it if the link drops)
  status                    pending edits, what you hold (vector), snapshot, network, failed dials
  history <item>            every change ever made to an item (removed ones too), oldest first
  whoami                    your id and the addresses others can dial
  help                      this text          quit             leave
<item> is a number from the last "ls", a title (or its start), or an item id.
Quotes group words and are removed: add "oat milk" · rename "oat milk" soy milk`;

/** Recent dial failures `status` lists. */
const STATUS_FAILURES_SHOWN = 3; // failures

/** Members collection: each peer writes its display name under its own PeerId. */
interface Member {
  name: string;
}

export interface ShellContext {
  readonly name: string;
  readonly peer: Peer;
  readonly space: Space;
  readonly transport: Libp2pTransport;
  /** The peer's storage: `history` looks through the list's log for removed items. */
  readonly storage: Storage;
  /** Whether the transport looks for peers on the LAN. */
  readonly mdns: boolean;
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
    const split = splitWords(line);
    if ('error' in split) return [split.error];
    const [first, ...args] = split.words;
    if (first === undefined) return [];
    const command = first.toLowerCase();
    const rest = args.join(' ');
    switch (command) {
      case 'add':
        return this.#add(rest);
      case 'check':
      case 'uncheck':
        return this.#check(rest, command === 'check');
      case 'rename':
        return this.#rename(args);
      case 'rm':
        return this.#remove(rest);
      case 'ls':
        return this.#list();
      case 'peers':
        return this.#peers();
      case 'connect': {
        if (args.length !== 1) return ['usage: connect <multiaddr>'];
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

  async #rename(args: readonly string[]): Promise<string[]> {
    const [ref, ...words] = args;
    const title = words.join(' ');
    if (ref === undefined || title === '') return ['usage: rename <item> <new title>'];
    const item = this.#find(ref);
    if (typeof item === 'string') return [item];
    const written = await itemsOf(this.#ctx.space).update(item.id, 'title', title);
    return written.isErr() ? [failure(written.error)] : [`renamed "${item.title}" to "${title}"`];
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
    const lines = linked.map(
      (id) => `${this.nameOf(id).padEnd(16)} ${shortId(id)}  ${syncing.includes(id) ? 'syncing' : 'connected'}`,
    );
    // Then every address being dialled that has no link (yet): what is happening to it.
    for (const target of this.#ctx.transport.dialTargets()) {
      if (target.state === 'linked' || (target.peer !== undefined && linked.includes(target.peer))) continue;
      lines.push(this.#describeTarget(target));
    }
    if (this.#ctx.mdns)
      lines.push(linked.length === 0 ? 'looking for peers on the LAN (mDNS)…' : 'also looking on the LAN (mDNS)');
    if (lines.length === 0) return ['no peers: mDNS is off; "connect <address>", or start with --peer <address>'];
    return lines;
  }

  /** One line saying what is happening to a target that has no link. */
  #describeTarget(target: DialTarget): string {
    const who = target.peer === undefined ? target.address : `${this.nameOf(target.peer)} at ${target.address}`;
    const last = target.lastFailure;
    if (target.state === 'given-up')
      return `not dialling ${who}: ${last === undefined ? 'given up' : reasonText(last)}`;
    if (last === undefined) return `dialling ${who}…`;
    const times = target.failures === 1 ? 'once' : `${target.failures} times`;
    const now = target.state === 'connecting' ? 'dialling again' : 'will retry';
    return `dialling ${who}: failed ${times}, last: ${reasonText(last)} (${now})`;
  }

  #status(): string[] {
    const status = this.#ctx.space.status();
    const stats = this.#ctx.transport.stats();
    const byReason = Object.entries(stats.dialFailuresByReason)
      .filter(([, count]) => count > 0)
      .map(([reason, count]) => `${reason} ${count}`)
      .join(', ');
    const vector = Object.entries(status.vector).map(([origin, counter]) => `${this.nameOf(origin)}: ${counter}`);
    return [
      `pending    ${status.pending} of your edits not yet acknowledged by another peer`,
      `vector     ${vector.length === 0 ? '(nothing yet)' : vector.join(', ')}`,
      `log        ${status.logLength} facts (from sequence ${status.logStart})`,
      `snapshot   ${status.snapshot === undefined ? 'none yet' : `${status.snapshot.blobId.slice(0, 16)}… at entry ${status.snapshot.sequenceId}`}`,
      `faults     ${status.faults.length}`,
      `network    ${stats.linksUp - stats.linksDown} link(s) · sent ${stats.framesSent} frames / ${kib(stats.bytesSent)} · received ${stats.framesReceived} frames / ${kib(stats.bytesReceived)}`,
      `dials      ${stats.dials} started, ${stats.dialFailures} failed${byReason === '' ? '' : ` (${byReason})`}`,
      ...this.#ctx.transport
        .dialFailures()
        .slice(-STATUS_FAILURES_SHOWN)
        .map((f) => `  ${clock(f.at)}  ${f.address}  ${reasonText(f)}`),
    ];
  }

  async #history(ref: string): Promise<string[]> {
    const found = this.#find(ref, true);
    let items: { id: string; title: string; removed: boolean }[];
    if (typeof found !== 'string') {
      items = [{ ...found, removed: itemsOf(this.#ctx.space).get(found.id) === undefined }];
    } else {
      // Not on the list: perhaps it was, and was removed.
      const removed = await this.#removedItems(ref);
      if (typeof removed === 'string') return [removed];
      if (removed.length === 0) return [found.startsWith('no item') ? `no item called "${ref}"` : found];
      items = removed.map((r) => ({ ...r, removed: true }));
    }
    const lines: string[] = [];
    for (const item of items) {
      const facts = await this.#ctx.space.history('items', item.id);
      if (facts.isErr()) return [failure(facts.error)];
      if (facts.value.length === 0) {
        lines.push(`no item called "${ref}"`);
        continue;
      }
      if (item.removed) lines.push(`"${lastTitle(facts.value) ?? item.title}" was removed; its history:`);
      for (const fact of facts.value)
        lines.push(`${stamp(fact.hlc.wall)}  ${this.nameOf(fact.origin).padEnd(16)} ${describeFact(fact)}`);
    }
    return lines;
  }

  /**
   * Removed items that ever had `ref` as their title (exactly, else as its start), or whose id is
   * `ref`, found in the list's log. A string is the error.
   */
  async #removedItems(ref: string): Promise<{ id: string; title: string }[] | string> {
    const wanted = ref.trim().toLowerCase();
    const log = await this.#ctx.storage.openLog(this.#ctx.space.id);
    if (log.isErr()) return failure(log.error);
    /** Per item: every title it had, the last one last. */
    const titles = new Map<string, string[]>();
    let from: number | 'start' = 'start';
    for (;;) {
      const page = await log.value.query(from, 'end');
      if (page.isErr()) return failure(page.error);
      for (const entry of page.value.entries) {
        if (entry.collection !== 'items' || entry.type === 'delete') continue;
        const title = entry.data['title'];
        if (typeof title !== 'string') continue;
        const list = titles.get(entry.item) ?? [];
        list.push(title);
        titles.set(entry.item, list);
      }
      if (page.value.isComplete) break;
      from = page.value.endSequenceId;
    }
    const items = itemsOf(this.#ctx.space);
    const removed = [...titles].filter(([id]) => items.get(id) === undefined);
    const pick = (match: (title: string) => boolean) =>
      removed.filter(([id, list]) => id.toLowerCase() === wanted || list.some((t) => match(t.toLowerCase())));
    const exact = pick((t) => t === wanted);
    const found = exact.length > 0 ? exact : pick((t) => t.startsWith(wanted));
    return found.map(([id, list]) => ({ id, title: list.at(-1)! }));
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
   * id. `deleted` also accepts a number whose item was removed since that `ls` (for `history`). A
   * string is the error.
   */
  #find(ref: string, deleted = false): { id: string; title: string } | string {
    const wanted = ref.trim();
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
    return `no item "${wanted}"`;
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

/** The last title an item's facts gave it. */
function lastTitle(facts: readonly Fact[]): string | undefined {
  const titles = facts.flatMap((f) =>
    f.type !== 'delete' && typeof f.data['title'] === 'string' ? [f.data['title']] : [],
  );
  return titles.at(-1);
}

/** `refused: connection refused: nothing listens at …` */
export function reasonText(failure: DialFailure): string {
  return `${failure.reason}: ${failure.message}`;
}

/** `2026-11-25 14:03:12` (UTC), for history lines. */
const stamp = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

/** `14:03:12` (UTC), for recent events. */
const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

const kib = (bytes: number): string => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);
