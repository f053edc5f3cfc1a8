/**
 * What readers see: the LWW registers with the pending overlay on top.
 */
import type { Fact, JsonValue } from '../facts/types.js';
import type { ItemRecord } from './lww.js';
import { compareStamps, stampOf } from './stamp.js';

/** An item as readers see it: its fields plus its `id`. Frozen. */
export type ItemView<T = Record<string, JsonValue>> = Readonly<T> & { readonly id: string };

/**
 * The visible object of one item, or undefined when it is not visible. Pending facts (oldest first)
 * are replayed over the registers, so our newest pending write on each field shows.
 */
export function viewOf(id: string, record: ItemRecord | undefined, pending: readonly Fact[] | undefined): ItemView | undefined {
  let exists = record?.exists?.value === true;
  const fields = new Map<string, JsonValue>();
  if (record !== undefined) for (const [field, reg] of record.fields) fields.set(field, reg.value);
  if (pending !== undefined) {
    for (const fact of pending) {
      switch (fact.type) {
        case 'create': {
          exists = true;
          // Our create replaces the object: registers older than it are hidden.
          const stamp = stampOf(fact);
          if (record !== undefined) {
            for (const [field, reg] of record.fields) if (compareStamps(reg.stamp, stamp) < 0) fields.delete(field);
          }
          for (const field of Object.keys(fact.data)) fields.set(field, fact.data[field]!);
          break;
        }
        case 'update': {
          const field = Object.keys(fact.data)[0]!;
          fields.set(field, fact.data[field]!);
          break;
        }
        case 'delete':
          exists = false;
          break;
      }
    }
  }
  if (!exists) return undefined;
  const out: Record<string, JsonValue> = {};
  for (const [field, value] of fields) out[field] = value;
  out.id = id;
  return Object.freeze(out) as ItemView;
}
