/**
 * The acknowledgement quorum of one space: our own fact N stops being pending once `ackQuorum` other
 * peers hold it durably (as their hellos, acks and gossip say). The acknowledged counter is
 * persisted, with where the first unacknowledged own fact sits in the log, so a restart finds the
 * pending set without scanning the log.
 */
import { err, ok, type Result, type ResultAsync } from 'neverthrow';
import type { TimerScope } from '../env.js';
import { corrupt, type CorruptError, type StorageError } from '../errors.js';
import { RETRANSMIT_AFTER_MS } from '../limits.js';
import type { SequenceId } from '../log/event-log.js';
import type { Storage } from '../storage/storage.js';
import type { ChangeFeed } from '../space/changes.js';
import type { Replica } from '../space/replica.js';
import type { PeerDirectory } from './peer-directory.js';

/** What is persisted: our own facts acknowledged (counter), and where the first unacknowledged one sits. */
export interface AckedMeta {
  readonly counter: number;
  readonly from: SequenceId;
}

const ackedKey = (space: string): string => `space/${space}/acked`;

/** Read the persisted acknowledgement state of `spaceId` (none yet: counter 0). */
export function loadAcked(storage: Storage, spaceId: string): ResultAsync<AckedMeta, StorageError | CorruptError> {
  return storage.getMeta(ackedKey(spaceId)).andThen(decodeAcked);
}

export function encodeAcked(counter: number, from: SequenceId): Uint8Array {
  return new TextEncoder().encode(`${counter}:${from}`);
}

export function decodeAcked(bytes: Uint8Array | undefined): Result<AckedMeta, CorruptError> {
  if (bytes === undefined) return ok({ counter: 0, from: 0 });
  const parts = new TextDecoder().decode(bytes).split(':');
  const [counter, from] = parts.map(Number);
  const valid = (n: number | undefined): n is number => n !== undefined && Number.isSafeInteger(n) && n >= 0;
  if (parts.length !== 2 || !valid(counter) || !valid(from)) {
    return err(corrupt('the stored acknowledgement state is unreadable'));
  }
  return ok({ counter, from });
}

export interface AckDeps {
  readonly replica: Replica;
  readonly peers: PeerDirectory;
  readonly changes: ChangeFeed;
  readonly storage: Storage;
  readonly timers: TimerScope;
  readonly quorum: number;
  /** Pending facts were released (acknowledged durably): pruning may follow. */
  readonly released: () => void;
  readonly closed: () => boolean;
}

export class AckQuorum {
  readonly #deps: AckDeps;
  /** Acknowledged by the quorum, as far as we know (may not be persisted yet). */
  #target: number;
  /** Persisted, and released from the pending overlay: what readers see as acknowledged. */
  #acked: number;
  #ackedFrom: SequenceId;
  #persisting = false;

  constructor(deps: AckDeps, meta: AckedMeta) {
    this.#deps = deps;
    this.#target = meta.counter;
    this.#acked = meta.counter;
    this.#ackedFrom = meta.from;
  }

  /** Our own facts up to this counter are acknowledged by the quorum, durably so, and released. */
  get acked(): number {
    return this.#acked;
  }

  /** Every acknowledgement counted so far is persisted and released (nothing is on its way out of pending). */
  get settled(): boolean {
    return this.#target === this.#acked;
  }

  /** Where in the log the first own fact not known to be acknowledged may sit (for opening). */
  get pendingFrom(): SequenceId {
    return this.#ackedFrom;
  }

  /** What peers hold changed: count acknowledgements again. */
  update(): void {
    const { replica, peers, quorum } = this.#deps;
    const own = replica.origin;
    const counts = peers.countersOf(own).sort((a, b) => b - a);
    // A remote cannot acknowledge more than we have made durable.
    const acked = Math.min(counts[quorum - 1] ?? 0, replica.counter(own));
    if (acked <= this.#target) return;
    this.#target = acked;
    void this.flush();
  }

  /**
   * Persist the acknowledged counter, then release what it covers from the pending overlay. In that
   * order: a crash in between must not bring back as pending a write readers already saw replaced
   * by the winner. One write at a time; a failing disk is retried later, not in a loop (the facts
   * stay pending meanwhile, which is the truth as far as a restart would know).
   */
  async flush(): Promise<void> {
    if (this.#persisting || this.#target === this.#acked) return;
    const { replica, storage, timers } = this.#deps;
    this.#persisting = true;
    const value = this.#target;
    // Where the first unacknowledged own fact sits, so a restart finds the pending set quickly.
    const from = replica.index.seqOf(replica.origin, value + 1) ?? replica.head;
    const written = await storage.setMeta(ackedKey(replica.spaceId), encodeAcked(value, from));
    this.#persisting = false;
    if (this.#deps.closed()) return;
    if (written.isErr()) {
      timers.after(RETRANSMIT_AFTER_MS, () => void this.flush());
      return;
    }
    this.#ackedFrom = from;
    this.#release(value);
    if (this.#target !== this.#acked) void this.flush();
  }

  #release(counter: number): void {
    if (counter <= this.#acked) return;
    this.#acked = counter;
    const released = this.#deps.replica.overlay.acknowledge(counter);
    if (released.length > 0) {
      this.#deps.changes.emit(
        'ack',
        released.map((f) => [f.collection, f.item]),
      );
    }
    this.#deps.released();
  }
}
