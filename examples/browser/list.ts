/**
 * The browser demo's shopping list: what the page, the relay and the tests agree on. No Shoal
 * imports, so the page (which reaches Shoal through the package's `exports`) and the relay (on the
 * sources) can both use it.
 */
import type { Result } from 'neverthrow';

/** The space every page and the relay open. */
export const LIST_SPACE = 'browser-shopping-list';

/** The collection of items in it. */
export const ITEMS = 'items';

/** One line of the list. */
export interface ShoppingItem {
  title: string;
  done: boolean;
  /** When it was added (ms since the epoch, the adder's clock): the list is shown in this order. */
  addedAt: number;
}

/** Unwrap a Shoal result, or throw its error with what was being done. */
export function must<T>(result: Result<T, { type: string; message: string }>, doing: string): T {
  if (result.isErr()) throw new Error(`${doing} failed: ${result.error.type}: ${result.error.message}`);
  return result.value;
}
