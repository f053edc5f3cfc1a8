/**
 * The public API of a peer (DESIGN §7): what examples, tests and apps build on.
 */
import type { PrivateKey } from '@libp2p/interface';
import type { IdentityKey } from '../facts/types.js';
import type { ResultAsync } from 'neverthrow';
import type { Env } from '../env.js';
import type { OpenError, SnapshotError, StorageError, SyncWaitError, WriteError } from '../errors.js';
import type { Fact, JsonValue } from '../facts/types.js';
import type { Storage } from '../storage/storage.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Transport } from '../transport.js';
import type { Workers } from '../snapshot/workers.js';
import type { ItemView } from '../state/view.js';
import type { PeerCache } from './cache.js';

export type { ItemView } from '../state/view.js';

export interface PeerInit {
  /** Where the peer keeps everything: `memoryStorage()`, `sqliteStorage(path)`, `idbStorage(name)`… */
  storage: Storage;
  /** Networks to sync over. @default [] (offline) */
  transports?: Transport[];
  /**
   * Identity key: an Ed25519 `PrivateKey` from `@libp2p/crypto` (or any key of that shape, such as
   * one the engine made). Other key types are refused with an `invalid-input` error.
   * @default the key in `storage`, or a new one stored there
   */
  identity?: PrivateKey | IdentityKey;
  /** Clock, timers, randomness. @default realEnv() */
  env?: Env;
  /** Other peers that must acknowledge a local fact before it stops being pending. @default 1 */
  ackQuorum?: number;
  /**
   * Distinct peers (this one included) that must attest a snapshot — each by building the same root
   * from its own facts — before anyone adopts it or prunes behind it. 1: a peer's own word is enough
   * (a member with a valid key could then hand a catching-up peer registers its facts do not give).
   * @default 2
   */
  snapshotQuorum?: number;
  /** Furthest a remote fact's clock may be ahead of ours, in ms. @default 60_000 */
  maxDrift?: number;
  /** Log entries between automatic snapshots. @default 10_000 */
  snapshotEvery?: number;
  /** A peer silent for longer than this (ms) no longer holds back pruning. @default 7 days */
  pruneWindow?: number;
  /**
   * Where history blobs (the audit trail of pruned facts) go: for instance an `fsBlobStore` on cheap
   * storage, so the database holds only live state and the recent tail. @default storage.blobs
   */
  archive?: BlobStore;
  /**
   * Abort to stop the peer at once, as if its process died: nothing more is written (writes not yet
   * durable are lost), every timer is cancelled, links go silent and the Peer turns inert (its calls
   * return a `closed` error). Restart with `createPeer` on the same storage. The simulator crashes
   * peers this way (`SimNetwork.crash`). For an orderly stop, use `peer.close()`.
   */
  signal?: AbortSignal;
  /**
   * Memo tables for signature checks, hash chains and run encodings. @default a new one for this peer.
   * Many replicas in one process (a simulation) may share one on purpose: see `PeerCache`.
   */
  cache?: PeerCache;
  /** Where snapshot jobs run. @default inProcessWorkers(env); in Node, `threadWorkers()` moves them off the event loop */
  workers?: Workers;
}

export interface Peer {
  /** This peer's PeerId: the origin of every fact it writes. */
  readonly id: string;
  /** Where other peers can dial this one (multiaddrs with `/p2p/<id>`). */
  addresses(): string[];
  /** Open (or return the already open) space `id`. */
  space(id: string): ResultAsync<Space, OpenError>;
  /** Flush what is durable, stop the transports, close the storage. */
  close(): Promise<void>;
}

/** A change to one item, as seen by readers (pending overlay included). */
export interface ItemChange {
  readonly collection: string;
  readonly id: string;
  /** The item now, or undefined when it is not visible (deleted or never created). */
  readonly value: ItemView | undefined;
}

/** Why a batch of changes happened. */
export type ChangeSource = 'local' | 'remote' | 'ack' | 'rollback';

export interface SpaceEvent {
  readonly source: ChangeSource;
  readonly changes: readonly ItemChange[];
}

export type SpaceListener = (event: SpaceEvent) => void;

/**
 * Something that went wrong, kept so the app can see it:
 * - `equivocation`: an origin signed two different facts for one counter (`origin`, `counter`);
 * - `invalid-input`: a remote (`peer`) sent something the protocol refuses;
 * - `storage`: this peer's storage failed a write (`peer` is this peer);
 * - `snapshot`: this peer's snapshot workflow failed (`peer` is this peer);
 * - `bad-snapshot`: `peer` attested (or served) a snapshot root the facts of its cut do not give;
 *   `proof` holds the signed attestations (theirs, and ours of the root we built, when we could).
 */
export interface Fault {
  readonly type: 'equivocation' | 'invalid-input' | 'storage' | 'snapshot' | 'bad-snapshot';
  /** The peer that sent it (for `storage` and `snapshot`: this peer). */
  readonly peer: string;
  /** The origin at fault (for equivocation: the origin that signed two facts). */
  readonly origin?: string;
  readonly counter?: number;
  readonly message: string;
  /** When it was noticed (ms, on this peer's clock). */
  readonly at: number;
  /** For `bad-snapshot`: the root at fault and the signed attestations that prove it. */
  readonly proof?: {
    readonly root: string;
    readonly attestations: readonly { readonly attester: string; readonly sig: Uint8Array }[];
  };
}

export interface SpaceStatus {
  /** Local facts not yet acknowledged by `ackQuorum` peers. */
  readonly pending: number;
  /** Peers currently syncing this space with us. */
  readonly peers: string[];
  /** Highest contiguous counter held per origin. */
  readonly vector: Record<string, number>;
  /** Sequence id of the first entry still in the log. */
  readonly logStart: number;
  /** Entries in the log (head − start). */
  readonly logLength: number;
  readonly snapshot?: { readonly blobId: string; readonly sequenceId: number };
  readonly faults: readonly Fault[];
}

export interface Collection<T extends object = Record<string, JsonValue>> {
  readonly name: string;
  /** Create an item (the whole object). Resolves with its id once durable locally. */
  create(data: T, id?: string): ResultAsync<string, WriteError>;
  /** Set one field of a visible item. Resolves once durable locally. */
  update<K extends keyof T & string>(id: string, field: K, value: T[K]): ResultAsync<void, WriteError>;
  /** Delete (tombstone) a visible item. Resolves once durable locally. */
  delete(id: string): ResultAsync<void, WriteError>;
  /** The item as readers see it (pending local writes included), or undefined. */
  get(id: string): ItemView<T> | undefined;
  /** Every visible item, sorted by id. */
  all(): ItemView<T>[];
}

export interface Space {
  readonly id: string;
  collection<T extends object = Record<string, JsonValue>>(name: string): Collection<T>;
  /** Listen to changes; returns the unsubscribe function. */
  subscribe(listener: SpaceListener): () => void;
  /**
   * Make every write `fn` makes (on any collection of this space) one batch: they are visible at
   * once, as always, and become durable together — or none is made. Each write inside returns the
   * transaction's result, and so does `transact`: it resolves once the whole batch is durable.
   * Cheaper than the same writes one by one, which already share a batch when made in one tick.
   *
   * `fn` must be synchronous. None of its writes is made (they are rolled back from what readers
   * see, with a `rollback` change event) when it throws (`threw`, carrying what it threw), returns a
   * promise (`async`: writes after an `await` would fall outside the transaction) or makes more than
   * MAX_TRANSACTION_WRITES writes (`too-many-writes`). A write refused on its own (`not-found`,
   * `invalid-input`, …) fails alone, as outside a transaction; throw to give up the rest. A
   * `transact` inside `fn` joins the outer transaction: one batch, one fate.
   *
   * @example
   * ```ts
   * const done = await space.transact(() => {
   *   for (const id of selected) items.update(id, 'done', true);
   * });
   * if (done.isErr()) console.warn(`nothing was marked done: ${done.error.message}`);
   * ```
   */
  transact(fn: () => void): ResultAsync<void, WriteError>;
  status(): SpaceStatus;
  /** SHA-256 of the LWW registers (no pending overlay): same facts ⇒ same hash. */
  stateHash(): string;
  /** Write a snapshot now. */
  snapshot(): ResultAsync<{ blobId: string }, SnapshotError>;
  /** Every fact about one item, oldest first (log and history blobs). */
  history(collection: string, item: string): ResultAsync<Fact[], StorageError>;
  /**
   * Resolves once this space is in sync with `options.peers` (default: every peer linked to this
   * one when called, less those that tell us they do not have this space open). In sync with a peer
   * means, at one moment, all of:
   *
   * 1. the peer has this space open and answered our hello: it is in `status().peers`;
   * 2. **it holds everything we hold**: for every origin, what it told us it stores durably (its
   *    hello, its acknowledgements, the facts it sent us) reaches our counter — our own writes
   *    included as soon as `create`/`update`/`delete` was called, even before they are durable
   *    here. So every write made before the call is on the peer's disk ("my write is on the other
   *    side");
   * 3. **we hold everything it told us it holds**, durably, origins we never heard of included
   *    ("I have what they have", as of the peer's last word: a write it makes afterwards is a new
   *    change, which the next call waits for);
   * 4. our acknowledgement bookkeeping caught up: the writes these acknowledgements complete an
   *    `ackQuorum` for are no longer pending, and the `'ack'` change events for them went out.
   *    `status().pending` may still count writes that wait for acknowledgements from other peers
   *    (an `ackQuorum` larger than the peers in sync).
   *
   * With no peer linked and none named it resolves at once (in sync with nobody); name the peers to
   * wait for ones not linked yet. A named peer that is not linked, or goes away, is waited for until
   * it comes back. Everything is checked again whenever a message is handled, facts become durable
   * or pending writes are released — no polling. Facts the space refuses (a clock more than
   * `maxDrift` ahead, a broken chain) keep it out of sync until they are sorted out; use `timeout`.
   *
   * Errors: `timeout` (naming the peers not in sync), `closed` (the space or peer closed, or the
   * process crashed, while waiting), `invalid-input` (bad options). On a `SimNetwork`, virtual
   * time only runs while the network does: `await net.until(space.whenSynced())`.
   *
   * @example
   * ```ts
   * await items.create({ title: 'milk', done: false });
   * const synced = await space.whenSynced({ peers: [bobId], timeout: 10_000 });
   * if (synced.isErr()) console.warn(`not synced: ${synced.error.message}`);
   * else console.log('milk is on the disk of bob, and we hold everything bob told us of');
   * ```
   */
  whenSynced(options?: WhenSyncedOptions): ResultAsync<void, SyncWaitError>;
}

/** Options of `space.whenSynced`. */
export interface WhenSyncedOptions {
  /**
   * PeerIds to be in sync with, waited for even while they do not have the space open (our own id
   * counts as in sync). @default every peer linked now that has (or may have) this space open
   */
  readonly peers?: readonly string[];
  /** Give up after this many ms (on the peer's `Env` clock) with a `timeout` error. @default no limit */
  readonly timeout?: number;
}
