/**
 * What readers see, cached: one frozen view per item and one sorted list per collection, built on
 * first read from the registers and the pending overlay, dropped when the item changes.
 */
import type { LwwState } from './lww.js';
import type { PendingOverlay } from './overlay.js';
import { isVisible, viewOf, type ItemView } from './view.js';

export class ViewCache {
  readonly #state: LwwState;
  readonly #overlay: PendingOverlay;
  readonly #views = new Map<string, Map<string, ItemView | undefined>>();
  readonly #all = new Map<string, ItemView[]>();

  constructor(state: LwwState, overlay: PendingOverlay) {
    this.#state = state;
    this.#overlay = overlay;
  }

  /** The view of one item, or undefined when it is not visible. */
  view(collection: string, item: string): ItemView | undefined {
    let views = this.#views.get(collection);
    if (views === undefined) {
      views = new Map();
      this.#views.set(collection, views);
    }
    if (views.has(item)) return views.get(item);
    const view = viewOf(item, this.#state.record(collection, item), this.#overlay.pending(collection, item));
    views.set(item, view);
    return view;
  }

  /** Every visible item of a collection, sorted by id. */
  all(collection: string): ItemView[] {
    const cached = this.#all.get(collection);
    if (cached !== undefined) return cached;
    const ids = new Set<string>();
    for (const [id] of this.#state.items(collection)) ids.add(id);
    for (const id of this.#overlay.items(collection)) ids.add(id);
    const out: ItemView[] = [];
    for (const id of [...ids].sort()) {
      const view = this.view(collection, id);
      if (view !== undefined) out.push(view);
    }
    this.#all.set(collection, out);
    return out;
  }

  /** Whether an item is visible (from the cache when it has the view). */
  isVisible(collection: string, item: string): boolean {
    const cached = this.#views.get(collection);
    return cached?.has(item) === true
      ? cached.get(item) !== undefined
      : isVisible(this.#state.record(collection, item), this.#overlay.pending(collection, item));
  }

  /** The item changed: its view (and its collection's list) must be built again. */
  invalidate(collection: string, item: string): void {
    this.#views.get(collection)?.delete(item);
    this.#all.delete(collection);
  }
}
