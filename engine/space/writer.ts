/**
 * The local write path: validate → stamp (HLC) → hash (sealFact) → pending overlay (readers see it
 * at once) → group commit to the log. Own facts are signed when a batch is sealed for the log (at
 * the end of each batch, and every MAX_SEGMENT_BYTES in a big one), not per write: a local write
 * costs a hash, not a signature.
 */
import { errAsync, ResultAsync } from 'neverthrow';
import type { Env } from '../env.js';
import { closedError, exists, invalidInput, notFound, type WriteError } from '../errors.js';
import { base64url } from '../facts/bytes.js';
import { checkId, sealFactSized } from '../facts/codec.js';
import type { Signer } from '../facts/sign.js';
import type { FactType, JsonObject, UnhashedFact } from '../facts/types.js';
import { ITEM_ID_BYTES, MAX_SEGMENT_BYTES } from '../limits.js';
import type { FactEntry } from '../log/fact-entry.js';
import type { ViewCache } from '../state/view-cache.js';
import type { ChangeFeed } from './changes.js';
import type { Replica } from './replica.js';

export interface WriterDeps {
  readonly replica: Replica;
  readonly views: ViewCache;
  readonly changes: ChangeFeed;
  readonly signer: Signer;
  readonly env: Env;
  readonly closed: () => boolean;
}

export class LocalWriter {
  readonly #deps: WriterDeps;
  /** Canonical size of own facts queued but not yet sealed, by counter (to size signed segments). */
  readonly #sizes = new Map<number, number>();

  constructor(deps: WriterDeps) {
    this.#deps = deps;
  }

  /** A fresh client-generated item id. */
  newItemId(): string {
    return base64url(this.#deps.env.randomBytes(ITEM_ID_BYTES));
  }

  write(type: FactType, collection: string, item: string, data?: JsonObject): ResultAsync<void, WriteError> {
    const { replica, views, changes } = this.#deps;
    if (this.#deps.closed()) return errAsync(closedError('the space is closed'));
    const badName = checkId(collection, 'collection name') ?? checkId(item, 'item id');
    if (badName !== undefined) return errAsync(invalidInput(badName.message));
    const visible = views.isVisible(collection, item);
    if (type === 'create' && visible) return errAsync(exists(`${collection}/${item} already exists`));
    if (type !== 'create' && !visible) return errAsync(notFound(`${collection}/${item} does not exist`));

    const origin = replica.origin;
    const tip = replica.tip(origin);
    const counter = (tip?.counter ?? 0) + 1;
    const draft = { origin, counter, hlc: replica.clock.tick(), type, collection, item, prev: tip?.hash ?? null };
    const sealed = sealFactSized(replica.spaceId, (type === 'delete' ? draft : { ...draft, data }) as UnhashedFact);
    if (sealed.isErr()) return errAsync(sealed.error);
    const { fact, size } = sealed.value;

    replica.queued(origin, { counter, hash: fact.hash });
    this.#sizes.set(counter, size);
    replica.overlay.add(fact);
    changes.emit('local', [[collection, item]]);
    return new ResultAsync(replica.appender.append(fact)).map(() => undefined);
  }

  /**
   * Sign own facts at the end of the batch, and more often in a big batch, so any stretch between
   * two signatures fits in one frame.
   */
  async seal(entries: FactEntry[]): Promise<FactEntry[]> {
    const own = this.#deps.replica.origin;
    const signer = this.#deps.signer;
    const out = entries.slice();
    let bytes = 0;
    let lastOwn = -1;
    for (let i = 0; i < out.length; i++) {
      const entry = out[i]!;
      if (entry.origin !== own || entry.sig !== undefined) continue;
      bytes += this.#sizes.get(entry.counter) ?? 0;
      this.#sizes.delete(entry.counter);
      lastOwn = i;
      if (bytes >= MAX_SEGMENT_BYTES) {
        out[i] = { ...entry, sig: await signer.sign(entry.hash) };
        bytes = 0;
        lastOwn = -1;
      }
    }
    if (lastOwn >= 0) out[lastOwn] = { ...out[lastOwn]!, sig: await signer.sign(out[lastOwn]!.hash) };
    return out;
  }

  /** Queued writes were dropped (a failed append). */
  dropped(): void {
    this.#sizes.clear();
  }
}
