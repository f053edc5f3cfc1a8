/**
 * The pending overlay (Figma's rule): our own facts that fewer than `ackQuorum` peers have
 * acknowledged. While a field has a pending local write, reads show our newest pending value even
 * if a remote fact with a greater stamp has arrived: our unacknowledged change is our best
 * prediction of where the field will settle. Once acknowledged, reads show the LWW winner.
 *
 * The overlay never enters `stateHash()`.
 */
import { updatedField, type Fact, type JsonValue } from '../facts/types.js';
import { stampOf, type Stamp } from './stamp.js';

/**
 * An item's pending facts folded, oldest first, into what they do to a view: the fields they set,
 * whether they leave the item existing, and the newest create (which replaces the object: every
 * register older than it is hidden). Kept up to date per added fact in O(1), so a burst of local
 * writes on one item costs O(n), not O(n²); rebuilt from the list when facts leave it.
 */
export interface PendingFold {
  /** Set by the newest pending create or delete; undefined when neither is pending. */
  exists: boolean | undefined;
  /** Stamp of the newest pending create: registers older than it are hidden. */
  reset: Stamp | undefined;
  /** Fields set by pending facts since `reset` (all of them without one), first set first. */
  readonly fields: Map<string, JsonValue>;
}

function foldInto(fold: PendingFold, fact: Fact): PendingFold {
  switch (fact.type) {
    case 'create': {
      const fields = new Map<string, JsonValue>();
      for (const field of Object.keys(fact.data)) fields.set(field, fact.data[field]!);
      return { exists: true, reset: stampOf(fact), fields };
    }
    case 'update': {
      const field = updatedField(fact);
      fold.fields.set(field, fact.data[field]!);
      return fold;
    }
    case 'delete':
      fold.exists = false;
      return fold;
  }
}

/**
 * One item's pending facts and their fold (undefined until asked for, and after a removal). The
 * facts are `facts[start..]`: acknowledged facts leave from the front by moving `start` (a splice
 * per acknowledged fact made releasing n pending writes on one item O(n²)), and only when the item
 * is next touched (see `PendingOverlay.acknowledge`).
 */
interface ItemPending {
  readonly collection: string;
  readonly item: string;
  facts: Fact[];
  start: number;
  fold: PendingFold | undefined;
}

export class PendingOverlay {
  /** collection → item → pending facts in counter order. */
  readonly #byItem = new Map<string, Map<string, ItemPending>>();
  /** All pending facts in counter order. */
  #queue: Fact[] = [];
  #head = 0;
  /** The item `add` took last, while it has pending facts: a burst of writes on one item finds it at once. */
  #last: ItemPending | undefined;
  /** Our facts up to this counter are acknowledged: an item's entry may still list them until trimmed. */
  #acked = 0;
  /** Facts acknowledged since the entries were last swept (each may still sit in its item's entry). */
  #unswept = 0;
  /** Most facts pending at once since the entries were last swept. */
  #peak = 0;

  /** Number of pending facts. */
  get count(): number {
    return this.#queue.length - this.#head;
  }

  /** Add a local fact (counters must increase, past every acknowledged one). */
  add(fact: Fact): void {
    this.#queue.push(fact);
    if (this.#queue.length - this.#head > this.#peak) this.#peak = this.#queue.length - this.#head;
    const last = this.#last;
    const found =
      last !== undefined && last.item === fact.item && last.collection === fact.collection
        ? last
        : this.#byItem.get(fact.collection)?.get(fact.item);
    const entry = found === undefined ? undefined : this.#trim(found);
    if (entry === undefined) {
      let items = this.#byItem.get(fact.collection);
      if (items === undefined) {
        items = new Map();
        this.#byItem.set(fact.collection, items);
      }
      // The fold waits until a reader asks (most new items written in a burst are not read back
      // before they are acknowledged): then it is one fact's fold, and later adds keep it current.
      const added: ItemPending = {
        collection: fact.collection,
        item: fact.item,
        facts: [fact],
        start: 0,
        fold: undefined,
      };
      items.set(fact.item, added);
      this.#last = added;
    } else {
      entry.facts.push(fact);
      if (entry.fold !== undefined) entry.fold = foldInto(entry.fold, fact);
      this.#last = entry;
    }
  }

  /**
   * Item entries held: items with pending facts, and items whose facts were all acknowledged but not
   * yet trimmed (see `acknowledge`). For memory accounting and tests.
   */
  get entries(): number {
    let n = 0;
    for (const items of this.#byItem.values()) n += items.size;
    return n;
  }

  /** What the pending facts on one item do to its view; undefined when none is pending. */
  pending(collection: string, item: string): Readonly<PendingFold> | undefined {
    const found = this.#byItem.get(collection)?.get(item);
    const entry = found === undefined ? undefined : this.#trim(found);
    if (entry === undefined) return undefined;
    if (entry.fold === undefined) {
      let fold: PendingFold = { exists: undefined, reset: undefined, fields: new Map() };
      const facts = entry.facts;
      for (let i = entry.start; i < facts.length; i++) fold = foldInto(fold, facts[i]!);
      entry.fold = fold;
    }
    return entry.fold;
  }

  /** Items of `collection` with pending facts. */
  *items(collection: string): IterableIterator<string> {
    const items = this.#byItem.get(collection);
    if (items === undefined) return;
    for (const [item, entry] of items) if (entry.facts[entry.facts.length - 1]!.counter > this.#acked) yield item;
  }

  /** The oldest pending fact, if any. */
  oldest(): Fact | undefined {
    return this.#queue[this.#head];
  }

  /** Every pending fact, oldest first. */
  all(): readonly Fact[] {
    return this.#queue.slice(this.#head);
  }

  /**
   * Drop facts with counter ≤ `counter` (acknowledged). Returns the facts dropped.
   *
   * They leave the queue at once and their items' entries when next touched (`add`, `pending`, or a
   * sweep once they outnumber the facts still pending): removing each from its item here cost a peer
   * that had written a million new items ~1 µs a fact, a sixth of its CPU while it served them.
   */
  acknowledge(counter: number): Fact[] {
    const queue = this.#queue;
    const first = this.#head;
    let head = first;
    while (head < queue.length && queue[head]!.counter <= counter) head++;
    if (head === first) return [];
    const dropped = queue.slice(first, head);
    // The newest fact that left, not `counter`: a fact added later is pending whatever was claimed.
    this.#acked = dropped[dropped.length - 1]!.counter;
    if (head === queue.length) {
      // Everything pending is acknowledged (an ack usually covers the newest write).
      this.#queue = [];
      this.#head = 0;
      this.#byItem.clear();
      this.#last = undefined;
      this.#unswept = 0;
      this.#peak = 0;
      return dropped;
    }
    this.#head = head;
    this.#unswept += dropped.length;
    // Acknowledged facts still listed in entries never outnumber the most facts pending at once
    // since the last sweep (nor 1,024): memory stays within twice what was pending, and a sweep
    // costs no more than the acknowledgements since the last one. A newcomer acknowledging a
    // million writes frame by frame never triggers one: its last ack empties the overlay at once.
    if (this.#unswept > 1024 && this.#unswept > this.#peak) this.#sweep();
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return dropped;
  }

  /** Drop facts with counter > `counter` (they never became durable). Returns the facts dropped. */
  rollback(counter: number): Fact[] {
    const dropped: Fact[] = [];
    while (this.count > 0 && this.#queue[this.#queue.length - 1]!.counter > counter) {
      const fact = this.#queue.pop()!;
      dropped.push(fact);
      this.#removeFromItem(fact);
    }
    return dropped;
  }

  /**
   * `entry` without its acknowledged facts; undefined (and the entry gone) when none is left. The fold
   * is dropped when facts left (rebuilt from the rest when asked).
   */
  #trim(entry: ItemPending): ItemPending | undefined {
    const facts = entry.facts;
    if (facts[entry.start]!.counter > this.#acked) return entry;
    if (facts[facts.length - 1]!.counter <= this.#acked) {
      this.#forget(entry);
      return undefined;
    }
    let start = entry.start;
    while (facts[start]!.counter <= this.#acked) start++;
    entry.start = start;
    entry.fold = undefined;
    if (start > 64 && start * 2 > facts.length) {
      entry.facts = facts.slice(start);
      entry.start = 0;
    }
    return entry;
  }

  #forget(entry: ItemPending): void {
    if (this.#last === entry) this.#last = undefined;
    const items = this.#byItem.get(entry.collection);
    if (items?.get(entry.item) !== entry) return;
    items.delete(entry.item);
    if (items.size === 0) this.#byItem.delete(entry.collection);
  }

  /** Trim every entry (see `acknowledge`). */
  #sweep(): void {
    for (const items of [...this.#byItem.values()]) for (const entry of [...items.values()]) this.#trim(entry);
    this.#unswept = 0;
    this.#peak = this.count;
  }

  /** A rolled-back fact leaves its item (the newest there: rollbacks take facts newest first). */
  #removeFromItem(fact: Fact): void {
    const entry = this.#byItem.get(fact.collection)?.get(fact.item);
    if (entry === undefined) return;
    const index = entry.facts.lastIndexOf(fact);
    if (index < entry.start) return;
    entry.facts.splice(index, 1);
    entry.fold = undefined;
    if (entry.facts.length === entry.start) this.#forget(entry);
  }
}
