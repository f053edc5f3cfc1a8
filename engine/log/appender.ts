/**
 * Group commit: entries queued in the same tick (and while a previous batch is being written) go to
 * the log in one atomic `addEntries` call, so a burst of writes costs one durable write, not one per
 * fact. Every entry of a batch shares the batch's fate, and so its promise: one promise per batch,
 * resolved once, not one per entry (at a hundred thousand writes a second, a promise per write is a
 * large part of the cost, most of it paid in garbage collection).
 *
 * The appender is the only writer of the log's head, so its expected sequence id is always right;
 * a `conflict` can only mean another process is writing the same log, and is reported as an error.
 */
import { err, ok, type Result } from 'neverthrow';
import { closedError, storageError, type ClosedError, type StorageError } from '../errors.js';
import { MAX_APPEND_BATCH } from '../limits.js';
import type { FactEntry } from '../log/fact-entry.js';
import type { EventLog, SequenceId } from './event-log.js';

export type AppendError = StorageError | ClosedError;

/** How a batch ended: durable, or the error that dropped it. Shared by every entry of the batch. */
export type AppendResult = Result<void, AppendError>;

/** Entries written in one `addEntries` call, and the one promise everyone who queued them waits on. */
interface Batch {
  readonly entries: FactEntry[];
  readonly done: Promise<AppendResult>;
  readonly settle: (result: AppendResult) => void;
}

export interface AppenderHooks {
  /** Last chance to complete entries before they are written (the author signs its runs here). */
  seal(entries: FactEntry[]): Promise<FactEntry[]>;
  /** The batch starting at `first` is durable. Called before any waiter resolves. */
  durable(entries: readonly FactEntry[], first: SequenceId): void;
  /** A batch failed: it and everything queued behind it were dropped. */
  failed(dropped: readonly FactEntry[], error: StorageError): void;
}

const DURABLE: AppendResult = ok(undefined);
const closed = (): AppendResult => err(closedError('the space is closed'));

export class Appender {
  readonly #log: EventLog<FactEntry>;
  readonly #hooks: AppenderHooks;
  #next: SequenceId;
  /** Batches waiting to be written, oldest first; the last one takes new entries while it has room. */
  #batches: Batch[] = [];
  #running = false;
  #halted = false;
  #idle: (() => void)[] = [];

  constructor(log: EventLog<FactEntry>, next: SequenceId, hooks: AppenderHooks) {
    this.#log = log;
    this.#next = next;
    this.#hooks = hooks;
  }

  /** The log's head was found (after a replay): appends go there. Only before the first append. */
  startAt(next: SequenceId): void {
    this.#next = next;
  }

  /** The next free sequence id (what the log's head will be once the queue is written). */
  get next(): SequenceId {
    return this.#next;
  }

  /** Entries queued and not yet being written. */
  get queued(): number {
    let n = 0;
    for (const batch of this.#batches) n += batch.entries.length;
    return n;
  }

  /**
   * Queue an entry. The promise is its batch's, shared with every entry queued with it: it
   * resolves once the whole batch is durable, or with the error that dropped it.
   */
  append(entry: FactEntry): Promise<AppendResult> {
    if (this.#halted) return Promise.resolve(closed());
    const batch = this.#open(1);
    batch.entries.push(entry);
    return batch.done;
  }

  /**
   * Queue `entries` (at most MAX_APPEND_BATCH) in one batch: they become durable together or not
   * at all.
   */
  appendAll(entries: readonly FactEntry[]): Promise<AppendResult> {
    if (this.#halted) return Promise.resolve(closed());
    if (entries.length > MAX_APPEND_BATCH) throw new RangeError(`more than ${MAX_APPEND_BATCH} entries in one batch`);
    const batch = this.#open(entries.length);
    for (const entry of entries) batch.entries.push(entry);
    return batch.done;
  }

  /** Resolves when everything queued so far is durable (or failed). */
  drain(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stop at once: queued entries fail with `closed`; a batch being written is forgotten. */
  halt(): void {
    this.#halted = true;
    const dropped = this.#batches;
    this.#batches = [];
    for (const batch of dropped) batch.settle(closed());
  }

  /** The batch that takes the next `room` entries: the newest one, or a new one when it is full. */
  #open(room: number): Batch {
    const last = this.#batches[this.#batches.length - 1];
    if (last !== undefined && last.entries.length + room <= MAX_APPEND_BATCH) return last;
    let settle!: (result: AppendResult) => void;
    const done = new Promise<AppendResult>((resolve) => (settle = resolve));
    const batch: Batch = { entries: [], done, settle };
    this.#batches.push(batch);
    if (!this.#running) {
      this.#running = true;
      // Let the rest of this tick's writes join the batch.
      queueMicrotask(() => void this.#run());
    }
    return batch;
  }

  async #run(): Promise<void> {
    while (this.#batches.length > 0 && !this.#halted) {
      // Out of the queue before the first await: later appends open a new batch.
      const batch = this.#batches.shift()!;
      const entries = await this.#hooks.seal(batch.entries);
      if (this.#halted) {
        batch.settle(closed());
        break;
      }
      const first = this.#next;
      const written = await this.#log.addEntries(entries, first);
      if (this.#halted) {
        // The process "died" while the write was in flight: nobody learns the outcome.
        batch.settle(closed());
        break;
      }
      if (written.isOk()) {
        this.#next = first + entries.length;
        this.#hooks.durable(entries, first);
        batch.settle(DURABLE);
        continue;
      }
      const error =
        written.error.type === 'storage'
          ? written.error
          : storageError(`the log was written by someone else: ${written.error.message}`);
      const dropped = [batch, ...this.#batches];
      this.#batches = [];
      this.#hooks.failed(
        dropped.flatMap((b) => b.entries),
        error,
      );
      const failed: AppendResult = err(error);
      for (const b of dropped) b.settle(failed);
    }
    this.#running = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
