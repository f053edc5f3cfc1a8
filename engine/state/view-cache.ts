/**
 * What readers see, cached: one frozen view per item and one sorted list per collection, built on
 * first read from the registers and the pending overlay, dropped when the item changes.
 */
import type { LwwState } from './lww.js';
import type { PendingOverlay } from './overlay.js';
import { isVisible, viewOf, type ItemView } from './view.js';

/**
 * In place of a view: the item is visible, but its view must be built again. Left by an update of
 * ours on a visible item (an update sets a field, never `exists`), so a burst of writes on one item
 * checks its visibility once, not once per write.
 */
const STALE_VISIBLE = Symbol('stale-visible');

export class ViewCache {
  readonly #state: LwwState;
  readonly #overlay: PendingOverlay;
  /** collection → item → its view, undefined when it is not visible, or STALE_VISIBLE. */
  readonly #views = new Map<string, Map<string, ItemView | undefined | typeof STALE_VISIBLE>>();
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
    const cached = views.get(item);
    if (cached !== STALE_VISIBLE && (cached !== undefined || views.has(item))) return cached;
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
    const views = this.#views.get(collection);
    if (views !== undefined) {
      if (views.get(item) !== undefined) return true; // a view, or STALE_VISIBLE
      if (views.has(item)) return false;
    }
    return isVisible(this.#state.record(collection, item), this.#overlay.pending(collection, item));
  }

  /**
   * The item changed: its view (and its collection's list) must be built again. `stillVisible`:
   * the change was an update of ours on an item this cache said was visible (it still is).
   */
  invalidate(collection: string, item: string, stillVisible = false): void {
    this.#all.delete(collection);
    let views = this.#views.get(collection);
    if (!stillVisible) {
      views?.delete(item);
      return;
    }
    if (views === undefined) {
      views = new Map();
      this.#views.set(collection, views);
    }
    views.set(item, STALE_VISIBLE);
  }
}
