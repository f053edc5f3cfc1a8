/**
 * The local write path: validate → stamp (HLC) → hash (LocalFactSealer) → pending overlay (readers
 * see it at once) → group commit to the log. Own facts are signed when a batch is sealed for the log
 * (at the end of each batch, and every MAX_SEGMENT_BYTES in a big one), not per write: a local write
 * costs a hash, not a signature.
 *
 * A write allocates no promise of its own: the writes of one batch return the same `ResultAsync`,
 * built on the batch's one promise (engine/log/appender.ts). `transact` makes a burst of writes one
 * batch that becomes durable as a whole, or is not made at all.
 */
import { err, errAsync, ok, ResultAsync, type Result } from 'neverthrow';
import type { Env } from '../env.js';
import { closedError, exists, invalidInput, notFound, type TransactionError, type WriteError } from '../errors.js';
import { base64url } from '../facts/bytes.js';
import { checkId, LocalFactSealer } from '../facts/codec.js';
import type { Signer } from '../facts/sign.js';
import type { ChainTip } from '../facts/run.js';
import type { Fact, FactType, JsonObject, JsonValue } from '../facts/types.js';
import { ITEM_ID_BYTES, MAX_SEGMENT_BYTES, MAX_TRANSACTION_WRITES } from '../limits.js';
import type { AppendResult } from '../log/appender.js';
import type { FactEntry } from '../log/fact-entry.js';
import type { ViewCache } from '../state/view-cache.js';
import type { ChangeFeed, ItemKey } from './changes.js';
import type { Replica } from './replica.js';

export interface WriterDeps {
  readonly replica: Replica;
  readonly views: ViewCache;
  readonly changes: ChangeFeed;
  readonly signer: Signer;
  readonly env: Env;
  readonly closed: () => boolean;
}

/** Where the own chain and the segment sizing stood when a transaction began: what a rollback restores. */
interface Mark {
  readonly tip: ChainTip | undefined;
  readonly segmentBytes: number;
}

/** An open transaction: its facts so far, and the one result all of its writes share. */
interface Transaction {
  readonly facts: Fact[];
  readonly start: Mark;
  readonly result: ResultAsync<void, WriteError>;
  readonly settle: (outcome: Result<void, WriteError> | Promise<AppendResult>) => void;
  /** Set once the transaction is lost: nothing more is written, and everything is rolled back. */
  failure: TransactionError | undefined;
}

export class LocalWriter {
  readonly #deps: WriterDeps;
  readonly #sealer: LocalFactSealer;
  /** Canonical bytes of own facts since the last forced signature. */
  #segmentBytes = 0;
  /** Counters of queued own facts that must be signed: a stretch of MAX_SEGMENT_BYTES ends there. */
  readonly #signAt = new Set<number>();
  /** The batch promise the last write joined, and the result every write of that batch returns. */
  #batch: Promise<AppendResult> | undefined;
  #batchResult: ResultAsync<void, WriteError> | undefined;
  #transaction: Transaction | undefined;
  /**
   * The collection and item of the last write whose names passed `checkId`: a burst of writes to one
   * item checks its names once. A check depends on the strings alone, and only strings that passed
   * are kept, so a name that differs (or is not a string) is checked as before.
   */
  #checked: { readonly collection: string; readonly item: string } | undefined;

  constructor(deps: WriterDeps) {
    this.#deps = deps;
    this.#sealer = new LocalFactSealer(deps.replica.spaceId, deps.replica.origin);
  }

  /** A fresh client-generated item id. */
  newItemId(): string {
    return base64url(this.#deps.env.randomBytes(ITEM_ID_BYTES));
  }

  write(type: FactType, collection: string, item: string, data?: JsonObject): ResultAsync<void, WriteError> {
    return this.#write(type, collection, item, data, undefined, undefined);
  }

  /** `write('update', collection, item, { [field]: value })` without that object. */
  writeField(collection: string, item: string, field: string, value: JsonValue): ResultAsync<void, WriteError> {
    return this.#write('update', collection, item, undefined, field, value);
  }

  /** A write: of `data`, or of `field` set to `value` when `field` is given (an update). */
  #write(
    type: FactType,
    collection: string,
    item: string,
    data: JsonObject | undefined,
    field: string | undefined,
    value: JsonValue | undefined,
  ): ResultAsync<void, WriteError> {
    const { replica, views, changes } = this.#deps;
    if (this.#deps.closed()) return errAsync(closedError('the space is closed'));
    const transaction = this.#transaction;
    if (transaction?.failure !== undefined) return transaction.result;
    const checked = this.#checked;
    if (checked === undefined || checked.collection !== collection || checked.item !== item) {
      const badName = checkId(collection, 'collection name') ?? checkId(item, 'item id');
      if (badName !== undefined) return errAsync(invalidInput(badName.message));
      this.#checked = { collection, item };
    }
    const visible = views.isVisible(collection, item);
    if (type === 'create' && visible) return errAsync(exists(`${collection}/${item} already exists`));
    if (type !== 'create' && !visible) return errAsync(notFound(`${collection}/${item} does not exist`));
    if (transaction !== undefined && transaction.facts.length >= MAX_TRANSACTION_WRITES) {
      transaction.failure = {
        type: 'too-many-writes',
        message: `a transaction makes at most ${MAX_TRANSACTION_WRITES} writes`,
        limit: MAX_TRANSACTION_WRITES,
      };
      return transaction.result;
    }

    const origin = replica.origin;
    const tip = replica.tip(origin);
    const counter = (tip?.counter ?? 0) + 1;
    const hlc = replica.clock.tick();
    const prev = tip?.hash ?? null;
    const sealed =
      field === undefined
        ? this.#sealer.seal({ type, collection, item, data }, counter, hlc, prev)
        : this.#sealer.sealField(collection, item, field, value!, counter, hlc, prev);
    if (sealed.isErr()) return errAsync(sealed.error);
    const fact = sealed.value;

    replica.queued(origin, fact);
    this.#segmentBytes += this.#sealer.size;
    if (this.#segmentBytes >= MAX_SEGMENT_BYTES) {
      this.#signAt.add(counter);
      this.#segmentBytes = 0;
    }
    replica.overlay.add(fact);
    // An update changes no item's visibility: the views may keep knowing this one is visible.
    changes.emitItem('local', collection, item, type === 'update');
    if (transaction !== undefined) {
      transaction.facts.push(fact);
      return transaction.result;
    }
    return this.#resultOf(replica.appender.append(fact));
  }

  /**
   * Run `fn`, making every write it makes one batch: durable together, or — when `fn` throws,
   * returns a promise or makes too many writes — not made at all (rolled back from the overlay,
   * with a `rollback` change event). Inside an open transaction, `fn` joins it.
   */
  transact(fn: () => unknown): ResultAsync<void, WriteError> {
    if (this.#deps.closed()) return errAsync(closedError('the space is closed'));
    const outer = this.#transaction;
    const transaction = outer ?? this.#begin();
    let returned: unknown;
    try {
      returned = fn();
    } catch (cause) {
      // The app's function is the edge here: what it throws becomes the transaction's error.
      transaction.failure ??= { type: 'threw', message: `the transaction threw: ${String(cause)}`, cause };
    }
    // An async function returns a native Promise. A write's ResultAsync (`() => items.update(…)`)
    // is a thenable too, but it is fine to return.
    if (returned instanceof Promise) {
      transaction.failure ??= {
        type: 'async',
        message: 'a transaction is synchronous: its function returned a promise (writes after an await are not in it)',
      };
    }
    if (outer === undefined) this.#commit(transaction);
    return transaction.result;
  }

  /**
   * Sign own facts at the end of the batch, and where a stretch reached MAX_SEGMENT_BYTES, so any
   * stretch between two signatures fits in one frame.
   */
  async seal(entries: FactEntry[]): Promise<FactEntry[]> {
    const own = this.#deps.replica.origin;
    const signer = this.#deps.signer;
    const out = entries.slice();
    // Forced signatures first (only when a stretch reached MAX_SEGMENT_BYTES: rare); then the last
    // own unsigned fact after the last of them is signed, so the batch ends on a signature.
    let end = 0;
    if (this.#signAt.size > 0) {
      for (let i = 0; i < out.length; i++) {
        const entry = out[i]!;
        if (entry.origin !== own || entry.sig !== undefined || !this.#signAt.delete(entry.counter)) continue;
        out[i] = { ...entry, sig: await signer.sign(entry.hash) };
        end = i + 1;
      }
    }
    for (let i = out.length - 1; i >= end; i--) {
      const entry = out[i]!;
      if (entry.origin !== own || entry.sig !== undefined) continue;
      out[i] = { ...entry, sig: await signer.sign(entry.hash) };
      break;
    }
    return out;
  }

  /** Queued writes were dropped (a failed append): the chain ends on a signed, durable fact again. */
  dropped(): void {
    this.#segmentBytes = 0;
    this.#signAt.clear();
  }

  /** The result of every write of the batch `done` belongs to (one object per batch, not per write). */
  #resultOf(done: Promise<AppendResult>): ResultAsync<void, WriteError> {
    if (done !== this.#batch || this.#batchResult === undefined) {
      this.#batch = done;
      this.#batchResult = new ResultAsync(done);
    }
    return this.#batchResult;
  }

  #begin(): Transaction {
    const { replica } = this.#deps;
    let settle!: Transaction['settle'];
    const done = new Promise<Result<void, WriteError>>((resolve) => (settle = resolve));
    const transaction: Transaction = {
      facts: [],
      start: { tip: replica.tip(replica.origin), segmentBytes: this.#segmentBytes },
      result: new ResultAsync(done),
      settle,
      failure: undefined,
    };
    this.#transaction = transaction;
    return transaction;
  }

  /** The outermost transaction ended: queue its facts as one batch, or roll them all back. */
  #commit(transaction: Transaction): void {
    this.#transaction = undefined;
    const { facts, failure } = transaction;
    if (failure === undefined) {
      transaction.settle(facts.length === 0 ? ok(undefined) : this.#deps.replica.appender.appendAll(facts));
      return;
    }
    if (facts.length > 0) this.#rollback(transaction.start);
    transaction.settle(err(failure));
  }

  /** Forget own facts written since `start` (none of them reached the log). */
  #rollback(start: Mark): void {
    const { replica, changes } = this.#deps;
    const counter = start.tip?.counter ?? 0;
    replica.rewind(replica.origin, start.tip);
    this.#segmentBytes = start.segmentBytes;
    for (const at of this.#signAt) if (at > counter) this.#signAt.delete(at);
    const undone = replica.overlay.rollback(counter);
    changes.emit(
      'rollback',
      undone.map((f): ItemKey => [f.collection, f.item]),
    );
  }
}
