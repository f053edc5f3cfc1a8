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
 * One item's pending facts and their fold (undefined after a removal until next asked for). The
 * facts are `facts[start..]`: acknowledged facts leave from the front by moving `start` (a splice
 * per acknowledged fact made releasing n pending writes on one item O(n²)).
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

  /** Number of pending facts. */
  get count(): number {
    return this.#queue.length - this.#head;
  }

  /** Add a local fact (counters must increase). */
  add(fact: Fact): void {
    this.#queue.push(fact);
    const last = this.#last;
    const entry =
      last !== undefined && last.item === fact.item && last.collection === fact.collection
        ? last
        : this.#byItem.get(fact.collection)?.get(fact.item);
    if (entry === undefined) {
      let items = this.#byItem.get(fact.collection);
      if (items === undefined) {
        items = new Map();
        this.#byItem.set(fact.collection, items);
      }
      const added: ItemPending = {
        collection: fact.collection,
        item: fact.item,
        facts: [fact],
        start: 0,
        fold: foldInto({ exists: undefined, reset: undefined, fields: new Map() }, fact),
      };
      items.set(fact.item, added);
      this.#last = added;
    } else {
      entry.facts.push(fact);
      if (entry.fold !== undefined) entry.fold = foldInto(entry.fold, fact);
      this.#last = entry;
    }
  }

  /** What the pending facts on one item do to its view; undefined when none is pending. */
  pending(collection: string, item: string): Readonly<PendingFold> | undefined {
    const entry = this.#byItem.get(collection)?.get(item);
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
  items(collection: string): IterableIterator<string> {
    return (this.#byItem.get(collection) ?? new Map<string, ItemPending>()).keys();
  }

  /** The oldest pending fact, if any. */
  oldest(): Fact | undefined {
    return this.#queue[this.#head];
  }

  /** Every pending fact, oldest first. */
  all(): readonly Fact[] {
    return this.#queue.slice(this.#head);
  }

  /** Drop facts with counter ≤ `counter` (acknowledged). Returns the facts dropped. */
  acknowledge(counter: number): Fact[] {
    const dropped: Fact[] = [];
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.counter <= counter) {
      const fact = this.#queue[this.#head++]!;
      dropped.push(fact);
      this.#removeFromItem(fact);
    }
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

  #removeFromItem(fact: Fact): void {
    const items = this.#byItem.get(fact.collection);
    const entry = items?.get(fact.item);
    if (items === undefined || entry === undefined) return;
    const list = entry.facts;
    // Acknowledged facts leave from the front, rolled-back ones from the back.
    if (list[entry.start] === fact) {
      entry.start++;
      if (entry.start > 64 && entry.start * 2 > list.length) {
        entry.facts = list.slice(entry.start);
        entry.start = 0;
      }
    } else {
      const index = list.lastIndexOf(fact);
      if (index < entry.start) return;
      list.splice(index, 1);
    }
    entry.fold = undefined;
    if (entry.facts.length === entry.start) {
      if (this.#last === entry) this.#last = undefined;
      items.delete(fact.item);
      if (items.size === 0) this.#byItem.delete(fact.collection);
    }
  }
}
