/**
 * Group commit: entries queued in the same tick (and while a previous batch is being written) go to
 * the log in one atomic `addEntries` call, so a burst of writes costs one durable write, not one per
 * fact. Each enqueued entry learns its fate: its sequence id once durable, or the storage error.
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

interface Queued {
  entry: FactEntry;
  resolve: (result: Result<SequenceId, AppendError>) => void;
}

export interface AppenderHooks {
  /** Last chance to complete entries before they are written (the author signs its runs here). */
  seal(entries: FactEntry[]): Promise<FactEntry[]>;
  /** The batch starting at `first` is durable. Called before any waiter resolves. */
  durable(entries: readonly FactEntry[], first: SequenceId): void;
  /** A batch failed: it and everything queued behind it were dropped. */
  failed(dropped: readonly FactEntry[], error: StorageError): void;
}

export class Appender {
  readonly #log: EventLog<FactEntry>;
  readonly #hooks: AppenderHooks;
  #next: SequenceId;
  #queue: Queued[] = [];
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

  /** Entries queued and not yet durable. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queue an entry; resolves with its sequence id once durable. */
  append(entry: FactEntry): Promise<Result<SequenceId, AppendError>> {
    if (this.#halted) return Promise.resolve(errResult(closedError('the space is closed')));
    return new Promise((resolve) => {
      this.#queue.push({ entry, resolve });
      if (!this.#running) {
        this.#running = true;
        // Let the rest of this tick's writes join the batch.
        queueMicrotask(() => void this.#run());
      }
    });
  }

  /** Resolves when everything queued so far is durable (or failed). */
  drain(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stop at once: queued entries fail with `closed`; a batch being written is forgotten. */
  halt(): void {
    this.#halted = true;
    const dropped = this.#queue;
    this.#queue = [];
    for (const q of dropped) q.resolve(errResult(closedError('the space is closed')));
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0 && !this.#halted) {
      const batch = this.#queue.splice(0, MAX_APPEND_BATCH);
      const entries = await this.#hooks.seal(batch.map((q) => q.entry));
      if (this.#halted) {
        for (const q of batch) q.resolve(errResult(closedError('the space is closed')));
        break;
      }
      const first = this.#next;
      const written = await this.#log.addEntries(entries, first);
      if (this.#halted) {
        // The process "died" while the write was in flight: nobody learns the outcome.
        for (const q of batch) q.resolve(errResult(closedError('the space is closed')));
        break;
      }
      if (written.isOk()) {
        this.#next = first + entries.length;
        this.#hooks.durable(entries, first);
        batch.forEach((q, i) => q.resolve(okResult(first + i)));
        continue;
      }
      const error =
        written.error.type === 'storage'
          ? written.error
          : storageError(`the log was written by someone else: ${written.error.message}`);
      const dropped = [...batch, ...this.#queue];
      this.#queue = [];
      this.#hooks.failed(
        dropped.map((q) => q.entry),
        error,
      );
      for (const q of dropped) q.resolve(errResult(error));
    }
    this.#running = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}

const okResult = (seq: SequenceId): Result<SequenceId, AppendError> => ok(seq);
const errResult = (e: AppendError): Result<SequenceId, AppendError> => err(e);
