/**
 * The shopping list both the demo (`npm start`) and the CLI (`npm run shop`) work on: one space per
 * list, one collection of items.
 */
import type { Collection, ItemView, Space } from '../../engine/index.js';

/** The space every shopping-list peer opens unless told otherwise. */
export const LIST_SPACE = 'shopping-list';

/** One line of the list. */
export interface ShoppingItem {
  title: string;
  done: boolean;
  /** When it was added (ms since the epoch, the adder's clock): the list is shown in this order. */
  addedAt: number;
}

/** The items collection of a list space. */
export const itemsOf = (space: Space): Collection<ShoppingItem> => space.collection<ShoppingItem>('items');

/** Items in the order they were added (ties by id, so every peer prints the same order). */
export function ordered(items: readonly ItemView<ShoppingItem>[]): ItemView<ShoppingItem>[] {
  return [...items].sort((x, y) => x.addedAt - y.addedAt || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/** `[x] oat milk` lines, in list order. */
export function formatItems(items: readonly ItemView<ShoppingItem>[], indent = '    '): string[] {
  if (items.length === 0) return [`${indent}(empty)`];
  return ordered(items).map((item) => `${indent}[${item.done ? 'x' : ' '}] ${item.title}`);
}

/** First and last characters of a PeerId: enough to tell peers apart on screen. */
export const shortId = (id: string): string => (id.length <= 16 ? id : `${id.slice(0, 8)}…${id.slice(-6)}`);
