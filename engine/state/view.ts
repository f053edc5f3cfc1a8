/**
 * What readers see: the LWW registers with the pending overlay on top.
 */
import type { JsonValue } from '../facts/types.js';
import type { ItemRecord } from './lww.js';
import type { PendingFold } from './overlay.js';
import { compareStamps } from './stamp.js';

/** An item as readers see it: its fields plus its `id`. Frozen. */
export type ItemView<T = Record<string, JsonValue>> = Readonly<T> & { readonly id: string };

/**
 * The visible object of one item, or undefined when it is not visible: the registers with the
 * fold of our pending facts on top, so our newest pending write on each field shows. A pending
 * create replaces the object: registers older than it are hidden, as they will be once it is
 * acknowledged.
 */
export function viewOf(
  id: string,
  record: ItemRecord | undefined,
  pending: Readonly<PendingFold> | undefined,
): ItemView | undefined {
  if (!isVisible(record, pending)) return undefined;
  const out: Record<string, JsonValue> = {};
  const reset = pending?.reset;
  if (record !== undefined) {
    for (const [field, reg] of record.fields)
      if (reset === undefined || compareStamps(reg.stamp, reset) >= 0) out[field] = reg.value;
  }
  if (pending !== undefined) for (const [field, value] of pending.fields) out[field] = value;
  out.id = id;
  return Object.freeze(out) as ItemView;
}

/** Whether an item is visible: `viewOf(…) !== undefined` without building the view. */
export function isVisible(record: ItemRecord | undefined, pending: Readonly<PendingFold> | undefined): boolean {
  return pending?.exists ?? record?.exists?.value === true;
}
