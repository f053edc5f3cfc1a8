/**
 * `space.whenSynced`: callers waiting until the space is in sync with a set of peers. What "in sync"
 * means is the space's business (see `Space.whenSynced`); this keeps the waiters, checks them again
 * when the space says something they depend on moved (a message handled, facts durable, pending
 * writes released), and ends them on time-out or close. No polling: every check follows an event.
 */
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from 'neverthrow';
import type { Timer, TimerScope } from '../env.js';
import { closedError, invalidInput, timeoutError, type SyncWaitError } from '../errors.js';
import type { PeerId } from '../facts/types.js';
import type { WhenSyncedOptions } from '../peer/types.js';

/** What the waiters ask the space. */
export interface SyncProbe {
  /** Peers linked to this one now (with a session for this space, answered or not). */
  linked(): PeerId[];
  /** Whether `peer` told us it does not have this space open. */
  notOpen(peer: PeerId): boolean;
  /** Whether the space is in sync with every one of `peers` now. */
  inSync(peers: readonly PeerId[]): boolean;
}

interface Waiter {
  readonly peers: readonly PeerId[];
  /** Peers named by the caller are waited for whatever they say; the default set drops those without the space. */
  readonly named: boolean;
  readonly done: (result: Result<void, SyncWaitError>) => void;
  timer: Timer | undefined;
}

export class SyncWaiters {
  readonly #probe: SyncProbe;
  readonly #timers: TimerScope;
  readonly #self: PeerId;
  readonly #waiters = new Set<Waiter>();
  #closed = false;

  constructor(probe: SyncProbe, timers: TimerScope, self: PeerId) {
    this.#probe = probe;
    this.#timers = timers;
    this.#self = self;
  }

  wait(options: WhenSyncedOptions = {}): ResultAsync<void, SyncWaitError> {
    if (this.#closed) return errAsync(closedError('the space is closed'));
    const { peers, timeout } = options;
    if (peers !== undefined && (!Array.isArray(peers) || peers.some((p) => typeof p !== 'string'))) {
      return errAsync(invalidInput('whenSynced: peers must be an array of PeerId strings'));
    }
    if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0 && timeout <= Number.MAX_SAFE_INTEGER)) {
      return errAsync(invalidInput(`whenSynced: timeout must be a number of ms ≥ 0 (got ${String(timeout)})`));
    }
    // Ourselves: always in sync.
    const wanted = [...new Set(peers ?? this.#probe.linked())].filter((p) => p !== this.#self) as PeerId[];
    const named = peers !== undefined;
    if (this.#probe.inSync(this.#current(wanted, named))) return okAsync(undefined);
    const promise = new Promise<Result<void, SyncWaitError>>((resolve) => {
      const waiter: Waiter = {
        peers: wanted,
        named,
        done: (result) => {
          waiter.timer?.cancel();
          this.#waiters.delete(waiter);
          resolve(result);
        },
        timer: undefined,
      };
      if (timeout !== undefined) {
        waiter.timer = this.#timers.after(timeout, () => {
          const which = this.#current(wanted, named).filter((p) => !this.#probe.inSync([p]));
          waiter.done(err(timeoutError(`not in sync after ${timeout} ms with ${which.join(', ')}`)));
        });
      }
      this.#waiters.add(waiter);
    });
    return new ResultAsync(promise);
  }

  /** Something a waiter depends on moved: resolve those now in sync. */
  check(): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) {
      if (this.#probe.inSync(this.#current(waiter.peers, waiter.named))) waiter.done(ok(undefined));
    }
  }

  /** The peers a waiter waits for now: all it named, or of the default set those with the space open. */
  #current(peers: readonly PeerId[], named: boolean): readonly PeerId[] {
    return named ? peers : peers.filter((p) => !this.#probe.notOpen(p));
  }

  /** The space closed (or its process died): every waiter ends with `closed`. */
  close(): void {
    this.#closed = true;
    for (const waiter of [...this.#waiters]) waiter.done(err(closedError('the space closed while waiting to sync')));
  }
}
