/**
 * A space: one synced dataset with its own event log, materialized state and sync sessions.
 *
 * Write path: validate → stamp (HLC) → hash (sealFact) → pending overlay (readers see it at once)
 * → group commit to the log (signed at the end of each batch) → registers → pushed to peers.
 * Receive path: verify the run (engine/facts/run.ts) → group commit → registers → ack → forward.
 *
 * Invariants:
 * - the registers (and `stateHash()`) only ever hold durable facts;
 * - `#tips` is where each origin's chain ends including facts queued for the log, `#durable` where
 *   it ends on disk; a failed append resets `#tips` to `#durable` and rolls pending writes back;
 * - every change from one valid state to the next happens synchronously (no await in between).
 */
import { errAsync, okAsync, ResultAsync } from 'neverthrow';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Env, TimerScope } from '../env.js';
import {
  closedError,
  exists,
  invalidInput,
  notFound,
  storageError,
  type OpenError,
  type SnapshotError,
  type StorageError,
  type WriteError,
} from '../errors.js';
import { checkId, sealFactSized } from '../facts/codec.js';
import { HlcClock } from '../facts/hlc.js';
import { verifyRun, type ChainTip, type Run, type RunError } from '../facts/run.js';
import type { SignatureVerifier, Signer } from '../facts/sign.js';
import type { Fact, FactType, JsonObject, JsonValue, PeerId, UnhashedFact, Vector } from '../facts/types.js';
import {
  GOSSIP_INTERVAL_MS,
  MAX_FAULTS,
  MAX_SEGMENT_BYTES,
  MAX_STASHED_BYTES,
  RETRANSMIT_AFTER_MS,
} from '../limits.js';
import { Appender } from '../log/appender.js';
import type { EventLog, SequenceId } from '../log/event-log.js';
import { OriginIndex } from '../log/origin-index.js';
import { LwwState, type ItemRecord } from '../state/lww.js';
import { PendingOverlay } from '../state/overlay.js';
import { isVisible, viewOf, type ItemView } from '../state/view.js';
import { factOf, type FactEntry } from '../log/fact-entry.js';
import type { Storage } from '../storage/storage.js';
import { SnapshotManager, type HeldSnapshot } from '../snapshot/manager.js';
import type { Workers } from '../snapshot/workers.js';
import { encodeMessage } from '../sync/codec.js';
import { readFrame } from '../sync/frame-reader.js';
import type {
  BlobMessage,
  BlobRequest,
  ErrorMessage,
  Gossip,
  Message,
  SnapshotOffer,
  SnapshotRef,
} from '../sync/messages.js';
import { OriginDirectory, toWire, type WireVector } from '../sync/origin-key.js';
import { PeerDirectory } from '../sync/peer-directory.js';
import { Session, type IngestOutcome, type OutgoingFrame, type SyncHost } from '../sync/session.js';
import { CollectionImpl } from './collection.js';
import type {
  Collection,
  Fault,
  ItemChange,
  Space,
  SpaceEvent,
  SpaceListener,
  SpaceStatus,
  ChangeSource,
} from './types.js';

export interface SpaceOptions {
  readonly ackQuorum: number;
  readonly maxDrift: number;
  readonly snapshotEvery: number;
  readonly pruneWindow: number;
}

/** How a space reaches the network (provided by the peer). */
export interface SpaceLink {
  send(peer: PeerId, frame: Uint8Array): void;
  disconnect(peer: PeerId): void;
}

export interface SpaceContext {
  readonly id: string;
  readonly origin: PeerId;
  readonly signer: Signer;
  readonly verifier: SignatureVerifier;
  readonly env: Env;
  readonly timers: TimerScope;
  readonly storage: Storage;
  readonly options: SpaceOptions;
  readonly link: SpaceLink;
  readonly workers: Workers;
  /** Where history blobs go. */
  readonly archive: BlobStore;
}

const ackedKey = (space: string): string => `space/${space}/acked`;

/** Bytes of item-id randomness (96 bits). */
const ITEM_ID_BYTES = 12;

export class SpaceImpl implements Space, SyncHost {
  readonly id: string;
  readonly #ctx: SpaceContext;
  readonly #log: EventLog<FactEntry>;
  /** Set once the replay found the head of the log. */
  #appender!: Appender;
  readonly #state = new LwwState();
  readonly #overlay = new PendingOverlay();
  readonly #clock: HlcClock;
  readonly #durable = new Map<PeerId, ChainTip>();
  readonly #tips = new Map<PeerId, ChainTip>();
  readonly #index = new OriginIndex();
  #durableVersion = 0;
  /** Every origin this space knows, by wire key. */
  readonly #origins = new OriginDirectory();
  /** Canonical size of own facts queued but not yet sealed, by counter (to size signed segments). */
  readonly #ownSizes = new Map<number, number>();
  #logStart: SequenceId = 0;
  /** Our own facts acknowledged by the quorum (counter), and where the first unacknowledged one sits. */
  #acked: number;
  #ackedFrom: SequenceId;
  #ackedPersisted: number;
  #persistingAck = false;
  /** What we know of every peer of this space (acked vectors, snapshots, last seen). */
  readonly #peers: PeerDirectory;
  readonly #snapshots: SnapshotManager;
  /** A snapshot workflow is running (one at a time). */
  #workflowBusy = false;
  #gossipScheduled = false;
  /** We heard gossip: relay it even before we have snapshots of our own. */
  #gossipHeard = false;
  #pruning = false;
  /** Items changed by merging a snapshot, reported once the merge completes. */
  #merged: [string, string][] = [];
  readonly #sessions = new Map<PeerId, Session>();
  readonly #collections = new Map<string, CollectionImpl<object>>();
  readonly #listeners = new Set<SpaceListener>();
  readonly #views = new Map<string, Map<string, ItemView | undefined>>();
  readonly #allViews = new Map<string, ItemView[]>();
  readonly #faults: Fault[] = [];
  readonly #stash = new Map<PeerId, Run[]>();
  /** When facts of each (other) origin last arrived, to hold back forwarding briefly. */
  readonly #arrivals = new Map<PeerId, number>();
  #stashedFacts = 0;
  #ingestChain: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(
    ctx: SpaceContext,
    log: EventLog<FactEntry>,
    snapshots: (space: SpaceImpl) => SnapshotManager,
    acked: AckedMeta,
  ) {
    this.id = ctx.id;
    this.#ctx = ctx;
    this.#log = log;
    this.#acked = acked.counter;
    this.#ackedFrom = acked.from;
    this.#ackedPersisted = acked.counter;
    this.#clock = new HlcClock(ctx.env, ctx.options.maxDrift);
    this.#origins.add(ctx.origin);
    this.#peers = new PeerDirectory(ctx.origin);
    this.#snapshots = snapshots(this);
  }

  /**
   * Open a space: load the latest snapshot (and adopted ones), replay the log after it, restore the
   * pending set, and resume any snapshot workflow a crash interrupted.
   */
  static open(ctx: SpaceContext): ResultAsync<SpaceImpl, OpenError> {
    return ctx.storage.openLog(ctx.id).andThen((log) =>
      ctx.storage
        .getMeta(ackedKey(ctx.id))
        .map(decodeAcked)
        .andThen((acked) =>
          SnapshotManager.open({
            spaceId: ctx.id,
            origin: ctx.origin,
            signer: ctx.signer,
            verifier: ctx.verifier,
            env: ctx.env,
            timers: ctx.timers,
            storage: ctx.storage,
            archive: ctx.archive,
            log,
            workers: ctx.workers,
          }).map((manager) => ({ manager, acked })),
        )
        .andThen(({ manager, acked }) => {
          const space = new SpaceImpl(ctx, log, (self) => manager.attach(self.#snapshotHost()), acked);
          return space.#load().map(() => space);
        }),
    );
  }

  // ------------------------------------------------------------------------------------------
  // Public API

  get env(): Env {
    return this.#ctx.env;
  }

  get spaceId(): string {
    return this.id;
  }

  collection<T extends object = Record<string, JsonValue>>(name: string): Collection<T> {
    let collection = this.#collections.get(name);
    if (collection === undefined) {
      collection = new CollectionImpl<object>(this, name);
      this.#collections.set(name, collection);
    }
    return collection as unknown as Collection<T>;
  }

  subscribe(listener: SpaceListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): SpaceStatus {
    const vector: Record<string, number> = {};
    for (const [origin, tip] of this.#durable) vector[origin] = tip.counter;
    const peers = [...this.#sessions.values()].filter((s) => s.syncing).map((s) => s.peer as string);
    const own = this.#snapshots.own;
    return {
      pending: this.#overlay.count,
      peers: peers.sort(),
      vector,
      logStart: this.#logStart,
      logLength: this.#appender.next - this.#logStart,
      ...(own?.seq === undefined ? {} : { snapshot: { blobId: own.blobId, sequenceId: own.seq } }),
      faults: [...this.#faults],
    };
  }

  stateHash(): string {
    return this.#state.hash();
  }

  snapshot(): ResultAsync<{ blobId: string }, SnapshotError> {
    if (this.#closed) return errAsync(closedError('the space is closed'));
    return ResultAsync.fromSafePromise(this.#appender.drain()).andThen(() => {
      const head = this.#appender.next;
      if (head === this.#logStart) return errAsync(invalidInput('the log is empty: nothing to snapshot'));
      const own = this.#snapshots.own;
      if (own?.seq === head - 1) return okAsync({ blobId: own.blobId });
      return this.#snapshotAt(head - 1).map((held) => ({ blobId: held.blobId }));
    });
  }

  history(collection: string, item: string): ResultAsync<Fact[], StorageError> {
    // History blobs hold everything before the history point; the live log the rest.
    const point = this.#snapshots.historyPoint;
    const facts: Fact[] = [];
    const page = (start: SequenceId): ResultAsync<Fact[], StorageError> =>
      this.#log
        .query(start, 'end')
        .mapErr((e) => (e.type === 'storage' ? e : storageError(e.message)))
        .andThen((value) => {
          for (const entry of value.entries) {
            if (entry.collection === collection && entry.item === item) facts.push(factOf(entry));
          }
          return value.isComplete ? okAsync(facts) : page(value.endSequenceId);
        });
    return this.#snapshots
      .history(collection, item)
      .andThen((archived) =>
        page(Math.max(this.#logStart, point?.seq ?? this.#logStart)).map((live) => [...archived, ...live]),
      );
  }

  // ------------------------------------------------------------------------------------------
  // Reads (used by CollectionImpl)

  /** The view of one item (cached until it changes). */
  view(collection: string, item: string): ItemView | undefined {
    let views = this.#views.get(collection);
    if (views === undefined) {
      views = new Map();
      this.#views.set(collection, views);
    }
    if (views.has(item)) return views.get(item);
    const view = viewOf(item, this.#state.record(collection, item), this.#overlay.pending(collection, item));
    views.set(item, view);
    return view;
  }

  /** Every visible item of a collection, sorted by id (cached until one changes). */
  viewAll(collection: string): ItemView[] {
    const cached = this.#allViews.get(collection);
    if (cached !== undefined) return cached;
    const ids = new Set<string>();
    for (const [id] of this.#state.items(collection)) ids.add(id);
    for (const id of this.#overlay.items(collection)) ids.add(id);
    const out: ItemView[] = [];
    for (const id of [...ids].sort()) {
      const view = this.view(collection, id);
      if (view !== undefined) out.push(view);
    }
    this.#allViews.set(collection, out);
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Writes (used by CollectionImpl)

  /** A fresh client-generated item id. */
  newItemId(): string {
    return base64url(this.#ctx.env.randomBytes(ITEM_ID_BYTES));
  }

  write(type: FactType, collection: string, item: string, data?: JsonObject): ResultAsync<void, WriteError> {
    if (this.#closed) return errAsync(closedError('the space is closed'));
    const badName = checkId(collection, 'collection name') ?? checkId(item, 'item id');
    if (badName !== undefined) return errAsync(invalidInput(badName.message));
    const cached = this.#views.get(collection);
    const visible =
      cached?.has(item) === true
        ? cached.get(item) !== undefined
        : isVisible(this.#state.record(collection, item), this.#overlay.pending(collection, item));
    if (type === 'create' && visible) return errAsync(exists(`${collection}/${item} already exists`));
    if (type !== 'create' && !visible) return errAsync(notFound(`${collection}/${item} does not exist`));

    const origin = this.#ctx.origin;
    const tip = this.#tips.get(origin);
    const counter = (tip?.counter ?? 0) + 1;
    const draft = { origin, counter, hlc: this.#clock.tick(), type, collection, item, prev: tip?.hash ?? null };
    const sealed = sealFactSized(this.id, (type === 'delete' ? draft : { ...draft, data }) as UnhashedFact);
    if (sealed.isErr()) return errAsync(sealed.error);
    const { fact, size } = sealed.value;

    this.#tips.set(origin, { counter, hash: fact.hash });
    this.#ownSizes.set(counter, size);
    this.#overlay.add(fact);
    this.#changed('local', [[collection, item]]);
    return new ResultAsync(this.#appender.append(fact)).map(() => undefined);
  }

  // ------------------------------------------------------------------------------------------
  // Sync host

  get durableVersion(): number {
    return this.#durableVersion;
  }

  vector(): Vector {
    const vector: Vector = new Map();
    for (const [origin, tip] of this.#durable) vector.set(origin, tip.counter);
    return vector;
  }

  counter(origin: PeerId): number {
    return this.#durable.get(origin)?.counter ?? 0;
  }

  logStart(): Vector {
    // Per origin, the first counter we can still send as facts (older ones come in a snapshot);
    // only origins whose log does not start at 1, to keep hellos small.
    const starts: Vector = new Map();
    for (const [origin, tip] of this.#durable) {
      const first = this.#index.first(origin) ?? tip.counter + 1;
      if (first > 1) starts.set(origin, first);
    }
    return starts;
  }

  snapshotRef(): SnapshotRef | undefined {
    const own = this.#snapshots.own;
    return own === undefined ? undefined : { blobId: own.blobId, vector: toWire(countersOf(own.tips)) };
  }

  readFrame(
    sent: Vector,
    maxBytes: number,
    forwardBefore: number,
    candidates: Set<PeerId>,
  ): Promise<OutgoingFrame | undefined> {
    return readFrame(
      {
        spaceId: this.id,
        origin: this.#ctx.origin,
        log: this.#log,
        index: this.#index,
        durable: this.#durable,
        arrivals: this.#arrivals,
        closed: () => this.#closed,
      },
      sent,
      maxBytes,
      forwardBefore,
      candidates,
    );
  }

  ingest(runs: readonly Run[], from: PeerId): Promise<IngestOutcome> {
    // One ingest at a time per space: each run is checked against the chain tips the previous one left.
    const result = this.#ingestChain.then(() => this.#ingest(runs, from));
    this.#ingestChain = result;
    return result;
  }

  resolve(vector: WireVector): Vector {
    return this.#origins.resolve(vector);
  }

  noteRemoteVector(peer: PeerId, vector: Vector): void {
    if (!this.#peers.noteVector(peer, vector, this.#ctx.env.now())) return;
    if (vector.has(this.#ctx.origin)) this.#updateAcked();
    this.#afterKnowledge();
  }

  noteSeen(peer: PeerId): void {
    this.#peers.noteSeen(peer, this.#ctx.env.now());
  }

  linkReset(peer: PeerId): void {
    this.#peers.resetLink(peer);
    this.#scheduleGossip();
  }

  noteInvalid(peer: PeerId, message: string): void {
    this.#fault({ type: 'invalid-input', peer, message, at: this.#ctx.env.now() });
  }

  offerSnapshots(peer: PeerId, sent: Vector): void {
    for (const held of this.#snapshots.offerable()) {
      let useful = false;
      for (const [origin, tip] of held.tips) if (tip.counter > (sent.get(origin) ?? 0)) useful = true;
      if (useful) {
        this.send(
          peer,
          encodeMessage({
            type: 'snapshot-offer',
            space: this.id,
            blobId: held.blobId,
            vector: toWire(countersOf(held.tips)),
          }),
        );
      }
    }
  }

  handle(peer: PeerId, message: Gossip | SnapshotOffer | BlobRequest | BlobMessage | ErrorMessage): void {
    switch (message.type) {
      case 'gossip':
        this.#gossipHeard = true;
        if (this.#peers.merge(message.peers, (v) => this.#origins.resolve(v))) {
          this.#updateAcked();
          this.#afterKnowledge();
        }
        return;
      case 'snapshot-offer': {
        let useful = false;
        for (const [origin, counter] of this.#origins.resolve(message.vector))
          if (counter > this.counter(origin)) useful = true;
        // Origins we have never heard of make any snapshot useful.
        if (useful || this.#origins.resolve(message.vector).size < message.vector.size)
          this.#snapshots.offered(peer, message.blobId);
        return;
      }
      case 'blob-request':
        this.#snapshots.serve(peer, message.ids);
        return;
      case 'blob':
        this.#snapshots.received(peer, message.id, message.bytes);
        return;
      case 'error':
        // The remote refused something we sent; the session's retransmission covers what matters.
        return;
    }
  }

  send(peer: PeerId, frame: Uint8Array): void {
    if (!this.#closed) this.#ctx.link.send(peer, frame);
  }

  disconnect(peer: PeerId): void {
    this.#ctx.link.disconnect(peer);
  }

  // ------------------------------------------------------------------------------------------
  // Peer wiring

  peerUp(peer: PeerId): void {
    if (this.#closed || this.#sessions.has(peer)) return;
    const session = new Session(peer, this);
    this.#sessions.set(peer, session);
    session.start();
  }

  peerDown(peer: PeerId): void {
    this.#sessions.get(peer)?.close();
    this.#sessions.delete(peer);
    this.#snapshots.peerDown(peer);
  }

  /** A decoded message for this space from `peer`. */
  async receive(peer: PeerId, message: Message): Promise<void> {
    if (this.#closed) return;
    let session = this.#sessions.get(peer);
    if (session === undefined && message.type === 'hello') {
      // The remote opened this space after we did (or our hello was lost): start the session.
      this.peerUp(peer);
      session = this.#sessions.get(peer);
    }
    await session?.receive(message);
  }

  /** Let queued writes become durable, then stop syncing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#appender.drain();
    // A snapshot workflow still running is abandoned, not awaited: its entry keeps `pending` and
    // the next open runs it again (and in a simulation it may be waiting on virtual time).
    this.#snapshots.halt();
    this.#closed = true;
    for (const session of this.#sessions.values()) session.close();
    this.#sessions.clear();
    await this.#flushAcked();
  }

  /** Stop at once (simulated crash): nothing more is written. */
  halt(): void {
    this.#closed = true;
    this.#appender.halt();
    this.#snapshots.halt();
    for (const session of this.#sessions.values()) session.close();
    this.#sessions.clear();
  }

  get closed(): boolean {
    return this.#closed;
  }

  // ------------------------------------------------------------------------------------------
  // Internals

  #load(): ResultAsync<void, OpenError> {
    return this.#log
      .query('start', 'end')
      .andThen((first) => {
        this.#logStart = first.startSequenceId;
        return this.#log.query('snapshot', 'end');
      })
      .mapErr(toOpenError)
      .andThen((page) => {
        const entry = page.entries[0];
        const at = page.startSequenceId;
        const point = entry?.history === undefined ? undefined : { seq: at, blobId: entry.history };
        return this.#snapshots.load(entry?.snapshot === undefined ? undefined : entry, at, point).map((held) => {
          for (const snapshot of held) this.#adoptTips(snapshot.tips);
          this.#emitMerged('remote');
          return at;
        });
      })
      .andThen((from) => this.#restorePending(from).map(() => from))
      .andThen((from) => this.#replay(from, []));
  }

  /** Own facts not yet acknowledged that sit before the snapshot we loaded (not replayed). */
  #restorePending(snapshotSeq: SequenceId): ResultAsync<void, OpenError> {
    const from = Math.max(this.#logStart, this.#ackedFrom);
    if (from >= snapshotSeq) return okAsync(undefined);
    return this.#log
      .query(from, snapshotSeq)
      .mapErr(toOpenError)
      .andThen((page) => {
        for (const entry of page.entries) {
          if (entry.origin === this.#ctx.origin && entry.counter > this.#acked) this.#overlay.add(entry);
        }
        this.#ackedFrom = page.endSequenceId;
        return this.#restorePending(snapshotSeq);
      });
  }

  #replay(start: SequenceId, pendingWorkflows: SequenceId[]): ResultAsync<void, OpenError> {
    return this.#log
      .query(start, 'end')
      .mapErr(toOpenError)
      .andThen((page) => {
        let seq = page.startSequenceId;
        for (const entry of page.entries) {
          const held = this.#durable.get(entry.origin)?.counter ?? 0;
          if (entry.counter > held + 1 && held > 0) {
            return errAsync<void, OpenError>({
              type: 'corrupt',
              message: `log entry ${seq}: ${entry.origin} counter ${entry.counter} after ${held}`,
            });
          }
          if (entry.pending === 'snapshot') pendingWorkflows.push(seq);
          this.#accept(entry, seq++);
          this.#clock.observe(entry.hlc);
          if (entry.origin === this.#ctx.origin && entry.counter > this.#acked) this.#overlay.add(entry);
        }
        if (!page.isComplete) return this.#replay(page.endSequenceId, pendingWorkflows);
        for (const [origin, tip] of this.#durable) this.#tips.set(origin, tip);
        this.#appender = new Appender(this.#log, page.endSequenceId, {
          seal: (entries) => this.#seal(entries),
          durable: (entries, first) => this.#onDurable(entries, first),
          failed: (dropped, error) => this.#onAppendFailed(dropped, error),
        });
        // A crash interrupted a workflow: run it again (the latest one covers the others).
        const resume = pendingWorkflows[pendingWorkflows.length - 1];
        if (resume !== undefined) void this.#runWorkflow(resume);
        else this.#maybeSnapshot();
        return okAsync(undefined);
      });
  }

  /** A durable entry enters the registers and the indexes. */
  #accept(entry: FactEntry, seq: SequenceId): boolean {
    const held = this.#durable.get(entry.origin);
    if (held === undefined) this.#origins.add(entry.origin);
    this.#index.add(entry.origin, entry.counter, seq);
    // A snapshot may already cover it (adopted after it was logged): the registers merge anyway.
    if (held === undefined || entry.counter > held.counter)
      this.#durable.set(entry.origin, { counter: entry.counter, hash: entry.hash });
    return this.#state.apply(entry);
  }

  async #seal(entries: FactEntry[]): Promise<FactEntry[]> {
    // Sign own facts at the end of the batch, and more often in a big batch, so any stretch between
    // two signatures fits in one frame.
    const own = this.#ctx.origin;
    const out = entries.slice();
    let bytes = 0;
    let lastOwn = -1;
    for (let i = 0; i < out.length; i++) {
      const entry = out[i]!;
      if (entry.origin !== own || entry.sig !== undefined) continue;
      bytes += this.#ownSizes.get(entry.counter) ?? 0;
      this.#ownSizes.delete(entry.counter);
      lastOwn = i;
      if (bytes >= MAX_SEGMENT_BYTES) {
        out[i] = { ...entry, sig: await this.#ctx.signer.sign(entry.hash) };
        bytes = 0;
        lastOwn = -1;
      }
    }
    if (lastOwn >= 0) out[lastOwn] = { ...out[lastOwn]!, sig: await this.#ctx.signer.sign(out[lastOwn]!.hash) };
    return out;
  }

  #onDurable(entries: readonly FactEntry[], first: SequenceId): void {
    this.#durableVersion++;
    const touched: [string, string][] = [];
    const origins = new Set<PeerId>();
    const now = this.#ctx.env.now();
    entries.forEach((entry, i) => {
      const changed = this.#accept(entry, first + i);
      origins.add(entry.origin);
      if (entry.origin !== this.#ctx.origin) this.#arrivals.set(entry.origin, now);
      if (changed && entry.origin !== this.#ctx.origin) touched.push([entry.collection, entry.item]);
      else if (changed) this.#invalidate(entry.collection, entry.item);
    });
    if (touched.length > 0) this.#changed('remote', touched);
    for (const session of this.#sessions.values()) session.advanced(origins, this.#ctx.origin);
    this.#maybeSnapshot();
    this.#scheduleGossip();
  }

  #onAppendFailed(dropped: readonly FactEntry[], error: StorageError): void {
    // Whatever was queued behind the failure chains onto facts that never became durable.
    this.#tips.clear();
    for (const [origin, tip] of this.#durable) this.#tips.set(origin, tip);
    this.#ownSizes.clear();
    const rolledBack = this.#overlay.rollback(this.#durable.get(this.#ctx.origin)?.counter ?? 0);
    if (rolledBack.length > 0)
      this.#changed(
        'rollback',
        rolledBack.map((f) => [f.collection, f.item]),
      );
    this.#fault({
      type: 'invalid-input',
      peer: this.#ctx.origin,
      message: `storage failed, ${dropped.length} facts not written: ${error.message}`,
      at: this.#ctx.env.now(),
    });
  }

  async #ingest(runs: readonly Run[], from: PeerId): Promise<IngestOutcome> {
    const errors: RunError[] = [];
    const covered = new Map<PeerId, number>();
    let last: Promise<boolean> = Promise.resolve(true);
    const queue = [...runs];
    for (let i = 0; i < queue.length; i++) {
      const run = queue[i]!;
      const verified = await verifyRun(this.id, run, this.#tips.get(run.origin), this.#clock, this.#ctx.verifier);
      if (this.#closed) break;
      if (verified.isErr()) {
        const e = verified.error;
        if (e.type === 'out-of-order') this.#stashRun(run);
        else if (e.type === 'equivocation' && e.equivocation !== undefined) {
          this.#fault({
            type: 'equivocation',
            peer: from,
            origin: run.origin,
            counter: e.equivocation.counter,
            message: e.message,
            at: this.#ctx.env.now(),
          });
        } else if (e.type !== 'clock-drift') errors.push(e);
        continue;
      }
      const end = run.first + run.facts.length - 1;
      covered.set(run.origin, Math.max(covered.get(run.origin) ?? 0, end));
      if (verified.value.kind === 'duplicate') continue;
      const facts = verified.value.facts;
      const tail = facts[facts.length - 1]!;
      this.#tips.set(run.origin, { counter: tail.counter, hash: tail.hash });
      this.#clock.observe(tail.hlc);
      for (let k = 0; k < facts.length - 1; k++) void this.#appender.append(facts[k]!);
      last = this.#appender.append({ ...tail, sig: verified.value.sig }).then((r) => r.isOk());
      queue.push(...this.#unstash(run.origin, tail.counter));
    }
    return { errors, covered, durable: last };
  }

  // ------------------------------------------------------------------------------------------
  // Snapshots, gossip, pruning

  #snapshotHost() {
    return {
      mergeItem: (collection: string, item: string, record: ItemRecord) => {
        if (this.#state.mergeRecord(collection, item, record)) this.#merged.push([collection, item]);
        // Keep the clock ahead of every stamp we hold.
        for (const reg of record.fields.values()) this.#clock.observe(reg.stamp);
        if (record.exists !== undefined) this.#clock.observe(record.exists.stamp);
      },
      adopt: (held: HeldSnapshot) => {
        const origins = this.#adoptTips(held.tips);
        this.#emitMerged('remote');
        for (const session of this.#sessions.values()) session.advanced(origins, this.#ctx.origin);
        // Runs that waited for the facts the snapshot covers can go in now.
        for (const origin of origins) {
          const ready = this.#unstash(origin, this.counter(origin));
          if (ready.length > 0) void this.ingest(ready, this.#ctx.origin);
        }
        this.#scheduleGossip();
      },
      send: (peer: PeerId, frame: Uint8Array) => this.send(peer, frame),
      encodeBlobRequest: (ids: readonly string[]) => encodeMessage({ type: 'blob-request', space: this.id, ids }),
      encodeBlob: (id: string, bytes: Uint8Array) => encodeMessage({ type: 'blob', space: this.id, id, bytes }),
    };
  }

  /** Chain tips covered by a snapshot become ours where they are ahead. Returns the origins moved. */
  #adoptTips(tips: ReadonlyMap<PeerId, ChainTip>): PeerId[] {
    const moved: PeerId[] = [];
    for (const [origin, tip] of tips) {
      const held = this.#durable.get(origin);
      if (held !== undefined && held.counter >= tip.counter) continue;
      if (held === undefined) this.#origins.add(origin);
      this.#durable.set(origin, tip);
      if ((this.#tips.get(origin)?.counter ?? 0) < tip.counter) this.#tips.set(origin, tip);
      moved.push(origin);
    }
    if (moved.length > 0) this.#durableVersion++;
    return moved;
  }

  #emitMerged(source: ChangeSource): void {
    const merged = this.#merged;
    this.#merged = [];
    if (merged.length > 0) this.#changed(source, merged);
  }

  /** Ask for a snapshot every `snapshotEvery` entries. */
  #maybeSnapshot(): void {
    if (this.#workflowBusy || this.#closed) return;
    const since = this.#snapshots.own?.seq ?? this.#logStart;
    const head = this.#appender.next;
    if (head - since > this.#ctx.options.snapshotEvery) void this.#snapshotAt(head - 1);
  }

  /** Mark entry `seq` with `pending: 'snapshot'` (durably), then run the workflow for it. */
  #snapshotAt(seq: SequenceId): ResultAsync<HeldSnapshot, SnapshotError> {
    this.#workflowBusy = true;
    return this.#log
      .setMetadata(seq, { pending: 'snapshot' })
      .mapErr((e) => (e.type === 'storage' ? e : storageError(e.message)))
      .andThen(() => this.#runWorkflow(seq));
  }

  #runWorkflow(seq: SequenceId): ResultAsync<HeldSnapshot, SnapshotError> {
    this.#workflowBusy = true;
    return this.#snapshots
      .run(seq, this.#logStart, this.#state.itemCount)
      .map((held) => {
        this.#workflowBusy = false;
        this.#scheduleGossip();
        this.#maybePrune();
        this.#maybeSnapshot();
        return held;
      })
      .mapErr((e) => {
        this.#workflowBusy = false;
        if (e.type !== 'closed')
          this.#fault({
            type: 'invalid-input',
            peer: this.#ctx.origin,
            message: `snapshot failed: ${e.message}`,
            at: this.#ctx.env.now(),
          });
        return e;
      });
  }

  /** Something changed in what we know of the peers: acks, pruning, gossip may follow. */
  #afterKnowledge(): void {
    this.#maybePrune();
    this.#scheduleGossip();
  }

  /**
   * Truncate the log before our latest snapshot S once history blobs cover it, none of our own
   * pending facts sits before it, and every peer heard from within the prune window holds
   * everything S covers (so nobody active will ask us for those facts).
   */
  #maybePrune(): void {
    const own = this.#snapshots.own;
    if (this.#pruning || this.#closed || own?.seq === undefined || own.seq <= this.#logStart) return;
    const point = this.#snapshots.historyPoint;
    if (point === undefined || point.seq < own.seq) return;
    const firstPending = this.#index.seqOf(this.#ctx.origin, this.#acked + 1);
    if (firstPending !== undefined && firstPending < own.seq) return;
    if (!this.#peers.allHold(countersOf(own.tips), this.#ctx.env.now() - this.#ctx.options.pruneWindow)) return;
    this.#pruning = true;
    const cut = own.seq;
    void this.#log
      .truncate(cut)
      .map(() => {
        this.#pruning = false;
        if (cut <= this.#logStart) return;
        this.#logStart = cut;
        this.#index.dropBefore(cut);
      })
      .mapErr(() => {
        this.#pruning = false;
      });
  }

  /**
   * Gossip, at most every GOSSIP_INTERVAL_MS, when it is useful: snapshots exist (pruning needs to
   * know what every peer holds) or acknowledgements must come from more than one peer (peers we are
   * not linked to acknowledge through it). Otherwise a space stays quiet.
   */
  #scheduleGossip(): void {
    if (this.#gossipScheduled || this.#closed) return;
    if (!this.#gossipHeard && this.#ctx.options.ackQuorum <= 1 && this.#snapshots.offerable().length === 0) return;
    this.#gossipScheduled = true;
    this.#ctx.timers.after(GOSSIP_INTERVAL_MS, () => {
      this.#gossipScheduled = false;
      if (this.#closed) return;
      const self = { vector: this.vector(), snapshot: this.snapshotRef(), now: this.#ctx.env.now() };
      for (const session of this.#sessions.values()) {
        if (!session.syncing) continue;
        const peers = this.#peers.gossipFor(session.peer, self);
        if (peers.length > 0) this.send(session.peer, encodeMessage({ type: 'gossip', space: this.id, peers }));
      }
    });
  }

  #stashRun(run: Run): void {
    // Runs that arrive ahead of a gap (reordering) wait here, within a bound, for the gap to fill.
    if (this.#stashedFacts + run.facts.length > MAX_STASHED_BYTES / 64) return;
    const list = this.#stash.get(run.origin) ?? [];
    list.push(run);
    this.#stash.set(run.origin, list);
    this.#stashedFacts += run.facts.length;
  }

  #unstash(origin: PeerId, counter: number): Run[] {
    const list = this.#stash.get(origin);
    if (list === undefined) return [];
    const ready = list.filter((r) => r.first <= counter + 1);
    const waiting = list.filter((r) => r.first > counter + 1);
    for (const r of ready) this.#stashedFacts -= r.facts.length;
    if (waiting.length === 0) this.#stash.delete(origin);
    else this.#stash.set(origin, waiting);
    return ready.sort((a, b) => a.first - b.first);
  }

  #updateAcked(): void {
    const own = this.#ctx.origin;
    const counts = this.#peers.countersOf(own).sort((a, b) => b - a);
    const quorum = this.#ctx.options.ackQuorum;
    // A remote cannot acknowledge more than we have made durable.
    const acked = Math.min(counts[quorum - 1] ?? 0, this.#durable.get(own)?.counter ?? 0);
    if (acked <= this.#acked) return;
    this.#acked = acked;
    const released = this.#overlay.acknowledge(acked);
    if (released.length > 0)
      this.#changed(
        'ack',
        released.map((f) => [f.collection, f.item]),
      );
    void this.#flushAcked();
  }

  async #flushAcked(): Promise<void> {
    // Persisting the acknowledged counter is an optimisation (a restart would re-offer those facts
    // and they would be acknowledged again), so one write at a time and failures are tolerated.
    if (this.#persistingAck || this.#acked === this.#ackedPersisted) return;
    this.#persistingAck = true;
    const value = this.#acked;
    // Where the first unacknowledged own fact sits, so a restart finds the pending set quickly.
    const from = this.#index.seqOf(this.#ctx.origin, value + 1) ?? this.#appender.next;
    this.#ackedFrom = from;
    const written = await this.#ctx.storage.setMeta(ackedKey(this.id), encodeAcked(value, from));
    this.#persistingAck = false;
    if (written.isErr()) {
      // A full or failing disk: try again later, not in a loop (the next acknowledgement also retries).
      this.#ctx.timers.after(RETRANSMIT_AFTER_MS, () => void this.#flushAcked());
      return;
    }
    this.#ackedPersisted = Math.max(this.#ackedPersisted, value);
    if (!this.#closed && this.#acked !== this.#ackedPersisted) void this.#flushAcked();
  }

  #invalidate(collection: string, item: string): void {
    this.#views.get(collection)?.delete(item);
    this.#allViews.delete(collection);
  }

  #changed(source: ChangeSource, items: readonly (readonly [string, string])[]): void {
    for (const [collection, item] of items) this.#invalidate(collection, item);
    if (this.#listeners.size === 0) return;
    const seen = new Set<string>();
    const changes: ItemChange[] = [];
    for (const [collection, item] of items) {
      const key = `${collection}\u0000${item}`;
      if (seen.has(key)) continue;
      seen.add(key);
      changes.push({ collection, id: item, value: this.view(collection, item) });
    }
    const event: SpaceEvent = { source, changes };
    for (const listener of this.#listeners) {
      // A listener's bug must not leave the space half-updated: report it, asynchronously.
      try {
        listener(event);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  #fault(fault: Fault): void {
    this.#faults.push(fault);
    if (this.#faults.length > MAX_FAULTS) this.#faults.shift();
  }
}

function toOpenError(e: { type: string; message: string }): OpenError {
  return e.type === 'storage' ? (e as StorageError) : storageError(e.message);
}

interface AckedMeta {
  readonly counter: number;
  readonly from: SequenceId;
}

function encodeAcked(counter: number, from: SequenceId): Uint8Array {
  return new TextEncoder().encode(`${counter}:${from}`);
}

function decodeAcked(bytes: Uint8Array | undefined): AckedMeta {
  if (bytes === undefined) return { counter: 0, from: 0 };
  const [counter, from] = new TextDecoder().decode(bytes).split(':').map(Number);
  const valid = (n: number | undefined): n is number => n !== undefined && Number.isSafeInteger(n) && n >= 0;
  return valid(counter) ? { counter, from: valid(from) ? from : 0 } : { counter: 0, from: 0 };
}

const countersOf = (tips: ReadonlyMap<PeerId, ChainTip>): Vector => {
  const out: Vector = new Map();
  for (const [origin, tip] of tips) out.set(origin, tip.counter);
  return out;
};

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function base64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64URL[(n >> 18) & 63]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  return out;
}
