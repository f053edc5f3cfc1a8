/**
 * Errors are values: every fallible call returns a neverthrow `Result`/`ResultAsync` whose error is
 * one of these tagged objects. Switch on `type`; `message` is for humans.
 */

/**
 * Why a storage backend failed, for code that reacts (ask the user to free space, retry later,
 * restore a backup); `message` says the same for humans.
 * - `disk-full`: no space left (SQLITE_FULL, ENOSPC/EDQUOT);
 * - `quota-exceeded`: the browser's storage quota (IndexedDB QuotaExceededError);
 * - `locked`: another connection or process holds the database (SQLITE_BUSY/LOCKED);
 * - `corrupt`: the stored bytes are damaged or not Shoal's (SQLITE_CORRUPT/NOTADB, a broken log);
 * - `permission`: read-only or not permitted (SQLITE_READONLY/PERM, EACCES/EPERM/EROFS);
 * - `io`: an I/O error (SQLITE_IOERR, EIO, IndexedDB UnknownError);
 * - `other`: anything else (bad arguments to a backend, an injected fault, a missing driver).
 */
export type StorageFailure = 'disk-full' | 'quota-exceeded' | 'locked' | 'corrupt' | 'permission' | 'io' | 'other';

/** A storage backend failed (disk full, locked database, quota exceeded, corrupt file…). */
export interface StorageError {
  readonly type: 'storage';
  readonly reason: StorageFailure;
  readonly message: string;
  readonly cause?: unknown;
}

/** The caller passed something Shoal cannot accept (bad id, non-JSON value, reserved field…). */
export interface InvalidInputError {
  readonly type: 'invalid-input';
  readonly message: string;
}

/** The peer or space was closed (or its simulated process crashed). */
export interface ClosedError {
  readonly type: 'closed';
  readonly message: string;
}

/** A wait with a time limit (`space.whenSynced({ timeout })`) ran out of time. */
export interface TimeoutError {
  readonly type: 'timeout';
  readonly message: string;
}

/** An update or delete named an item that is not visible. */
export interface NotFoundError {
  readonly type: 'not-found';
  readonly message: string;
}

/** A create named an item that is already visible. */
export interface ExistsError {
  readonly type: 'exists';
  readonly message: string;
}

/** Stored data could not be read back (a bug or a damaged file): the peer refuses to guess. */
export interface CorruptError {
  readonly type: 'corrupt';
  readonly message: string;
}

/** `EventLog.addEntry` was given a sequence id that is not the head of the log. */
export interface ConflictError {
  readonly type: 'conflict';
  readonly message: string;
  /** The next free sequence id. */
  readonly nextSequenceId: number;
}

/** A sequence id outside the log. */
export interface OutOfRangeError {
  readonly type: 'out-of-range';
  readonly message: string;
}

/** A transport could not start, send or stop. */
export interface TransportError {
  readonly type: 'transport';
  readonly message: string;
  readonly cause?: unknown;
}

/**
 * Why an incoming fact (or run of facts) was refused. A refused fact never touches state, log or
 * `stateHash()`.
 *
 * - `malformed`: does not decode, or breaks the model (an update with ≠ 1 field, a non-JSON value,
 *   a bad id).
 * - `too-large`: a value, id or count over the limits of `limits.ts`.
 * - `bad-hash`: the hash does not recompute from the fields.
 * - `bad-signature`: the run's signature does not verify against its origin.
 * - `broken-chain`: `prev` does not link to the origin's previous fact.
 * - `out-of-order`: the counter is not the origin's next (a gap waits and is offered again).
 * - `clock-drift`: the wall clock is more than `maxDrift` ahead of ours (offered again later).
 * - `equivocation`: a second, different signed fact for an (origin, counter) we already hold.
 */
export interface FactError {
  readonly type:
    | 'malformed'
    | 'too-large'
    | 'bad-hash'
    | 'bad-signature'
    | 'broken-chain'
    | 'out-of-order'
    | 'clock-drift'
    | 'equivocation';
  readonly message: string;
  readonly origin?: string;
  readonly counter?: number;
}

export type FactErrorType = FactError['type'];

/** The function given to `space.transact` threw: none of its writes was made. */
export interface TransactionThrewError {
  readonly type: 'threw';
  readonly message: string;
  /** What the function threw. */
  readonly cause: unknown;
}

/**
 * The function given to `space.transact` returned a promise: refused, and none of the writes it made
 * before its first `await` was kept. A transaction is one synchronous burst; writes after an `await`
 * are ordinary writes, outside it.
 */
export interface TransactionAsyncError {
  readonly type: 'async';
  readonly message: string;
}

/** A transaction tried more than MAX_TRANSACTION_WRITES writes: none of its writes was made. */
export interface TooManyWritesError {
  readonly type: 'too-many-writes';
  readonly message: string;
  /** The limit (MAX_TRANSACTION_WRITES). */
  readonly limit: number;
}

/** Why `space.transact` made none of its writes (besides the errors of any write). */
export type TransactionError = TransactionThrewError | TransactionAsyncError | TooManyWritesError;

/**
 * Errors of `Collection.create/update/delete`. A write made inside `space.transact` shares the
 * transaction's fate, so it can also fail with a {@link TransactionError}.
 */
export type WriteError =
  InvalidInputError | NotFoundError | ExistsError | StorageError | ClosedError | TransactionError;

/** Errors of `createPeer` and `peer.space`. */
export type OpenError = StorageError | InvalidInputError | ClosedError | CorruptError | TransportError;

/** Errors of `space.whenSynced()`. */
export type SyncWaitError = TimeoutError | ClosedError | InvalidInputError;

/** Errors of `space.snapshot()`. */
export type SnapshotError = StorageError | ClosedError | CorruptError | InvalidInputError;

export const storageError = (message: string, cause?: unknown, reason: StorageFailure = 'other'): StorageError =>
  cause === undefined ? { type: 'storage', reason, message } : { type: 'storage', reason, message, cause };

/**
 * `e` itself when it is a storage error, else a storage error carrying its message: for callers
 * that report any failure of a storage call (a conflict, an out-of-range id…) as a storage error.
 *
 * @example
 * ```ts
 * log.truncate(start).mapErr(asStorageError); // ResultAsync<void, StorageError>
 * ```
 */
export const asStorageError = (e: { readonly type: string; readonly message: string }): StorageError =>
  e.type === 'storage' ? (e as StorageError) : storageError(e.message);

export const invalidInput = (message: string): InvalidInputError => ({ type: 'invalid-input', message });

export const closedError = (message = 'closed'): ClosedError => ({ type: 'closed', message });

export const timeoutError = (message: string): TimeoutError => ({ type: 'timeout', message });

export const notFound = (message: string): NotFoundError => ({ type: 'not-found', message });

export const exists = (message: string): ExistsError => ({ type: 'exists', message });

export const corrupt = (message: string): CorruptError => ({ type: 'corrupt', message });

export const conflictError = (message: string, nextSequenceId: number): ConflictError => ({
  type: 'conflict',
  message,
  nextSequenceId,
});

export const outOfRange = (message: string): OutOfRangeError => ({ type: 'out-of-range', message });

export const transportError = (message: string, cause?: unknown): TransportError =>
  cause === undefined ? { type: 'transport', message } : { type: 'transport', message, cause };

export const factError = (type: FactErrorType, message: string, at?: { origin: string; counter: number }): FactError =>
  at === undefined ? { type, message } : { type, message, origin: at.origin, counter: at.counter };

/** A readable message from anything a library threw. */
export const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));
