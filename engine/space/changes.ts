/**
 * Change events of one space: every change to what readers see goes through `emit`, which drops the
 * changed items' cached views first and then tells the listeners, once per item per batch.
 */
import type { ViewCache } from '../state/view-cache.js';
import type { ChangeSource, ItemChange, SpaceEvent, SpaceListener } from '../peer/types.js';

/** An item, as (collection, item id). */
export type ItemKey = readonly [string, string];

export class ChangeFeed {
  readonly #views: ViewCache;
  readonly #listeners = new Set<SpaceListener>();

  constructor(views: ViewCache) {
    this.#views = views;
  }

  subscribe(listener: SpaceListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Items changed without anyone needing to hear of it (their views must still be rebuilt). */
  invalidate(collection: string, item: string): void {
    this.#views.invalidate(collection, item);
  }

  /**
   * `emit` for one item, without building a list when nobody listens (every local write).
   * `stillVisible`: an update of ours on an item the views said was visible (see ViewCache.invalidate).
   */
  emitItem(source: ChangeSource, collection: string, item: string, stillVisible = false): void {
    if (this.#listeners.size === 0) this.#views.invalidate(collection, item, stillVisible);
    else this.emit(source, [[collection, item]]);
  }

  emit(source: ChangeSource, items: readonly ItemKey[]): void {
    for (const [collection, item] of items) this.#views.invalidate(collection, item);
    if (this.#listeners.size === 0 || items.length === 0) return;
    const seen = new Set<string>();
    const changes: ItemChange[] = [];
    for (const [collection, item] of items) {
      const key = `${collection}\u0000${item}`;
      if (seen.has(key)) continue;
      seen.add(key);
      changes.push({ collection, id: item, value: this.#views.view(collection, item) });
    }
    const event: SpaceEvent = { source, changes };
    for (const listener of this.#listeners) {
      // A listener's bug must not leave the space half-updated: report it, asynchronously.
      try {
        listener(event);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}
