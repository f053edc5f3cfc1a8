/**
 * The pending overlay (Figma's rule): our own facts that fewer than `ackQuorum` peers have
 * acknowledged. While a field has a pending local write, reads show our newest pending value even
 * if a remote fact with a greater stamp has arrived: our unacknowledged change is our best
 * prediction of where the field will settle. Once acknowledged, reads show the LWW winner.
 *
 * The overlay never enters `stateHash()`.
 */
import type { Fact } from '../facts/types.js';

export class PendingOverlay {
  /** collection → item → pending facts in counter order. */
  readonly #byItem = new Map<string, Map<string, Fact[]>>();
  /** All pending facts in counter order. */
  #queue: Fact[] = [];
  #head = 0;

  /** Number of pending facts. */
  get count(): number {
    return this.#queue.length - this.#head;
  }

  /** Add a local fact (counters must increase). */
  add(fact: Fact): void {
    this.#queue.push(fact);
    let items = this.#byItem.get(fact.collection);
    if (items === undefined) {
      items = new Map();
      this.#byItem.set(fact.collection, items);
    }
    const list = items.get(fact.item);
    if (list === undefined) items.set(fact.item, [fact]);
    else list.push(fact);
  }

  /** Pending facts on one item, oldest first. */
  pending(collection: string, item: string): readonly Fact[] | undefined {
    return this.#byItem.get(collection)?.get(item);
  }

  /** Items of `collection` with pending facts. */
  items(collection: string): IterableIterator<string> {
    return (this.#byItem.get(collection) ?? new Map<string, Fact[]>()).keys();
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
    const list = items?.get(fact.item);
    if (items === undefined || list === undefined) return;
    const index = list.indexOf(fact);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) {
      items.delete(fact.item);
      if (items.size === 0) this.#byItem.delete(fact.collection);
    }
  }
}
