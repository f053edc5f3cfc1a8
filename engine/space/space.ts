/**
 * A space: one synced dataset. This file is the facade: it wires the components that do the work
 * and implements the public `Space` API on top of them.
 *
 *   replica.ts         the log and what is derived from it (registers, overlay, chain tips, indexes)
 *   writer.ts          the local write path (validate, stamp, hash, overlay, group commit, signing)
 *   changes.ts         change events (and the view cache they invalidate: state/view-cache.ts)
 *   open.ts            opening: snapshots, pending set, replay of the log
 *   synced.ts          `whenSynced` waiters, checked again on the events below
 *   sync/ingest.ts     verifying and queueing runs from remotes
 *   sync/sessions.ts   one session per remote (sync/session.ts)
 *   sync/acks.ts       the acknowledgement quorum (pending → acknowledged), persisted
 *   sync/gossip.ts     what we know of every peer, relayed
 *   snapshot/…         the workflow, the catalog of held snapshots, catch-up fetch, pruning, history
 *
 * Write path: writer → overlay (readers see it at once) → appender (group commit) → `#durable` →
 * registers → sessions push it. Receive path: session → ingest (verify) → appender → `#durable` →
 * registers → ack → forward.
 */
import { errAsync, ResultAsync } from 'neverthrow';
import { monotonicClock, type Env, type Timer, type TimerScope } from '../env.js';
import { closedError, type SnapshotError, type StorageError, type SyncWaitError, type WriteError } from '../errors.js';
import type { ChainCache, Run } from '../facts/run.js';
import type { SignatureVerifier, Signer } from '../facts/sign.js';
import type { Fact, FactType, JsonObject, JsonValue, PeerId } from '../facts/types.js';
import { IDLE_SNAPSHOT_MS, MAX_FAULTS } from '../limits.js';
import type { EventLog, SequenceId } from '../log/event-log.js';
import type { FactEntry, SignedEntryCache } from '../log/fact-entry.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Collection, Fault, Space, SpaceListener, SpaceStatus, WhenSyncedOptions } from '../peer/types.js';
import type { ItemRecord } from '../state/lww.js';
import type { RegisterCache } from '../state/register-cache.js';
import { ViewCache } from '../state/view-cache.js';
import type { ItemView } from '../state/view.js';
import type { Storage } from '../storage/storage.js';
import { SnapshotCatalog, type HeldSnapshot } from '../snapshot/catalog.js';
import { SnapshotFetcher } from '../snapshot/fetch.js';
import { HistorySource } from '../snapshot/history.js';
import { Pruner } from '../snapshot/prune.js';
import type { SnapshotStore } from '../snapshot/store.js';
import type { Workers } from '../snapshot/workers.js';
import { SnapshotWorkflow } from '../snapshot/workflow.js';
import { AckQuorum, type AckedMeta } from '../sync/acks.js';
import type { RunCodecCache } from '../sync/codec.js';
import { readFrame } from '../sync/frame-reader.js';
import { Gossip } from '../sync/gossip.js';
import { Ingest, type IngestOutcome } from '../sync/ingest.js';
import type { Message } from '../sync/messages.js';
import type { OriginKeyCache } from '../sync/origin-key.js';
import { PeerDirectory } from '../sync/peer-directory.js';
import type { OtherMessage, SpaceLink } from '../sync/session.js';
import { Attestor } from '../snapshot/attest.js';
import { attest, type Attestation } from '../snapshot/attestation.js';
import { Sessions } from '../sync/sessions.js';
import { ChangeFeed, type ItemKey } from './changes.js';
import { CollectionImpl, type CollectionHost } from './collection.js';
import { Replica } from './replica.js';
import { SyncWaiters } from './synced.js';
import { LocalWriter } from './writer.js';

export interface SpaceOptions {
  readonly ackQuorum: number;
  readonly snapshotQuorum: number;
  readonly maxDrift: number;
  readonly snapshotEvery: number;
  readonly pruneWindow: number;
}

/** Memo tables a space uses (owned by its peer, or shared on purpose; see engine/peer/cache.ts). */
export interface SpaceCaches {
  readonly chains: ChainCache;
  readonly runs: RunCodecCache;
  readonly registers: RegisterCache | undefined;
  readonly originKeys?: OriginKeyCache | undefined;
  readonly entries?: SignedEntryCache | undefined;
}

/** Everything a space gets from its peer. */
export interface SpaceContext {
  readonly id: string;
  readonly origin: PeerId;
  readonly signer: Signer;
  readonly verifier: SignatureVerifier;
  readonly caches: SpaceCaches;
  readonly env: Env;
  readonly timers: TimerScope;
  readonly storage: Storage;
  readonly options: SpaceOptions;
  readonly link: SpaceLink;
  readonly workers: Workers;
  /** Where history blobs go. */
  readonly archive: BlobStore;
  /** The space accepted new facts of `origins` (the peer announces them where its transports can). */
  readonly advanced?: ((origins: ReadonlySet<PeerId>) => void) | undefined;
}

/** What `open.ts` hands a new space. */
export interface SpaceParts {
  readonly acked: AckedMeta;
  readonly store: SnapshotStore;
}

export class SpaceImpl implements Space, CollectionHost {
  readonly id: string;
  readonly #ctx: SpaceContext;
  readonly replica: Replica;
  readonly #views: ViewCache;
  readonly #changes: ChangeFeed;
  readonly #writer: LocalWriter;
  readonly #ingest: Ingest;
  readonly #peers: PeerDirectory;
  readonly acks: AckQuorum;
  readonly #gossip: Gossip;
  readonly #sessions: Sessions;
  readonly catalog: SnapshotCatalog;
  readonly workflow: SnapshotWorkflow;
  readonly #fetcher: SnapshotFetcher;
  readonly #attestor: Attestor;
  readonly #history: HistorySource;
  readonly #pruner: Pruner;
  readonly #synced: SyncWaiters;
  /** Fires after an idle stretch: snapshot what is new if our latest lacks attestations. */
  #idle: Timer | undefined;
  readonly #collections = new Map<string, CollectionImpl<object>>();
  readonly #faults: Fault[] = [];
  /** Items changed by merging a snapshot, reported once the merge completes. */
  #merged: ItemKey[] = [];
  /** Snapshot work stops (close or crash); `#closed`: nothing more happens at all. */
  #stopped = false;
  #closed = false;
  readonly #monotonic: () => number;

  constructor(ctx: SpaceContext, log: EventLog<FactEntry>, parts: SpaceParts) {
    this.id = ctx.id;
    this.#ctx = ctx;
    const { env, timers, options } = ctx;
    this.#monotonic = monotonicClock(env);
    const monotonic = this.#monotonic;
    const stopped = () => this.#stopped;
    const closed = () => this.#closed;
    const send = (peer: PeerId, frame: Uint8Array) => {
      if (!this.#closed) ctx.link.send(peer, frame);
    };
    const complain = (peer: PeerId, code: string, message: string) => {
      this.#fault({ type: 'invalid-input', peer, message: `${code}: ${message}`, at: env.now() });
      ctx.link.complain(peer, code, message);
    };

    this.replica = new Replica(
      ctx.id,
      ctx.origin,
      log,
      env,
      options.maxDrift,
      {
        seal: (entries) => this.#writer.seal(entries),
        durable: (entries, first) => this.#onDurable(entries, first),
        failed: (dropped, error) => this.#onAppendFailed(dropped, error),
      },
      ctx.caches.registers,
      ctx.caches.originKeys,
    );
    const replica = this.replica;
    this.#views = new ViewCache(replica.state, replica.overlay);
    this.#changes = new ChangeFeed(this.#views);
    this.#writer = new LocalWriter({
      replica,
      views: this.#views,
      changes: this.#changes,
      signer: ctx.signer,
      env,
      closed,
    });
    this.#ingest = new Ingest({
      replica,
      verifier: ctx.verifier,
      chains: ctx.caches.chains,
      entries: ctx.caches.entries,
      env,
      monotonic,
      complain,
      closed,
      equivocation: (from, origin, counter, message) =>
        this.#fault({ type: 'equivocation', peer: from, origin, counter, message, at: env.now() }),
    });
    this.#peers = new PeerDirectory(ctx.origin, replica.origins.slots);
    this.acks = new AckQuorum(
      {
        replica,
        peers: this.#peers,
        changes: this.#changes,
        storage: ctx.storage,
        timers,
        quorum: options.ackQuorum,
        released: () => {
          this.#pruner.maybePrune();
          this.#synced.check();
        },
        closed,
      },
      parts.acked,
    );
    this.catalog = new SnapshotCatalog(ctx.id, ctx.storage, parts.store, options.snapshotQuorum);
    this.#gossip = new Gossip({
      replica,
      peers: this.#peers,
      env,
      monotonic,
      timers,
      signer: ctx.signer,
      verifier: ctx.verifier,
      syncing: () => this.#sessions.syncing(),
      send,
      complain,
      ackQuorum: options.ackQuorum,
      learned: (ownMoved) => {
        if (ownMoved) this.acks.update();
        this.#pruner.maybePrune();
        this.#gossip.schedule();
      },
      closed,
    });
    this.#fetcher = new SnapshotFetcher({
      replica,
      catalog: this.catalog,
      verifier: ctx.verifier,
      env,
      monotonic,
      timers,
      send,
      adopt: (held, items, from, history) => this.#adopt(held, items, from, history),
      quorum: options.snapshotQuorum,
      badSnapshot: (peer, root, proof, problem) => this.#badSnapshot(peer, root, proof, problem),
      rehello: (peer) => this.#sessions.rehello(peer),
      tell: (peer, origins) => this.#sessions.tell(peer, origins),
      complain,
      stopped,
    });
    const frameSource = {
      spaceId: ctx.id,
      origin: ctx.origin,
      log: replica.log,
      index: replica.index,
      durable: replica.durableTips(),
      arrivals: replica.arrivals,
      codec: ctx.caches.runs,
      closed,
    };
    this.#attestor = new Attestor({
      replica,
      catalog: this.catalog,
      workers: ctx.workers,
      signer: ctx.signer,
      verifier: ctx.verifier,
      env,
      timers,
      quorum: options.snapshotQuorum,
      syncing: () => this.#sessions.syncing(),
      send,
      complain,
      badSnapshot: (peer, root, proof, problem) => this.#badSnapshot(peer, root, proof, problem),
      attested: () => {
        void this.catalog.ownAttested();
        this.#pruner.maybePrune();
      },
      stuck: () => this.#scheduleIdleSnapshot(),
      stopped,
      ownSettled: () => this.workflow.settled(),
    });
    this.#history = new HistorySource({
      replica,
      catalog: this.catalog,
      verifier: ctx.verifier,
      timers,
      syncing: () => this.#sessions.syncing(),
      send,
      complain,
      stopped,
    });
    this.#sessions = new Sessions({
      replica,
      env,
      monotonic,
      linked: (peer) => this.#attestor.linked(peer),
      readFrame: (sent, maxBytes, forwardBefore, candidates) =>
        readFrame(frameSource, sent, maxBytes, forwardBefore, candidates),
      ingest: this.#ingest,
      gossip: this.#gossip,
      link: { send, complain },
      offerSnapshots: (peer, sent) => this.#fetcher.offerTo(peer, sent),
      other: (peer, message) => this.#handle(peer, message),
    });
    this.workflow = new SnapshotWorkflow({
      replica,
      catalog: this.catalog,
      workers: ctx.workers,
      signer: ctx.signer,
      snapshotEvery: options.snapshotEvery,
      timers,
      behind: () => this.#sessions.behind(),
      pinned: () => this.#fetcher.pinned(),
      made: (held) => {
        this.#attestor.ask(held);
        this.#pruner.maybePrune();
        this.workflow.maybeRun();
        this.#scheduleIdleSnapshot();
      },
      failed: (e) =>
        this.#fault({ type: 'snapshot', peer: ctx.origin, message: `snapshot failed: ${e.message}`, at: env.now() }),
      stopped,
    });
    this.#synced = new SyncWaiters(
      {
        linked: () => this.#sessions.linked(),
        notOpen: (peer) => this.#sessions.notOpen(peer),
        inSync: (peers) => this.#inSync(peers),
      },
      timers,
      ctx.origin,
    );
    this.#pruner = new Pruner({
      replica,
      timers,
      quorum: options.snapshotQuorum,
      catalog: this.catalog,
      peers: this.#peers,
      env,
      pruneWindow: options.pruneWindow,
      acked: () => this.acks.acked,
      stopped,
    });
  }

  // ------------------------------------------------------------------------------------------
  // Public API

  collection<T extends object = Record<string, JsonValue>>(name: string): Collection<T> {
    let collection = this.#collections.get(name);
    if (collection === undefined) {
      collection = new CollectionImpl<object>(this, name);
      this.#collections.set(name, collection);
    }
    return collection as unknown as Collection<T>;
  }

  subscribe(listener: SpaceListener): () => void {
    return this.#changes.subscribe(listener);
  }

  transact(fn: () => void): ResultAsync<void, WriteError> {
    return this.#writer.transact(fn);
  }

  status(): SpaceStatus {
    const replica = this.replica;
    const vector: Record<string, number> = {};
    for (const [origin, counter] of replica.vector()) vector[origin] = counter;
    const own = this.catalog.own;
    return {
      pending: replica.overlay.count,
      peers: this.#sessions.syncing().sort(),
      vector,
      logStart: replica.logStart,
      logLength: replica.head - replica.logStart,
      ...(own?.seq === undefined ? {} : { snapshot: { blobId: own.blobId, sequenceId: own.seq } }),
      faults: [...this.#faults],
    };
  }

  stateHash(): string {
    return this.replica.state.hash();
  }

  snapshot(): ResultAsync<{ blobId: string }, SnapshotError> {
    if (this.#closed) return errAsync(closedError('the space is closed'));
    return ResultAsync.fromSafePromise(this.replica.appender.drain())
      .andThen(() => this.workflow.now())
      .map((held) => ({ blobId: held.blobId }));
  }

  history(collection: string, item: string): ResultAsync<Fact[], StorageError> {
    return this.#history.itemHistory(collection, item);
  }

  whenSynced(options?: WhenSyncedOptions): ResultAsync<void, SyncWaitError> {
    return this.#synced.wait(options);
  }

  // ------------------------------------------------------------------------------------------
  // Collections

  view(collection: string, item: string): ItemView | undefined {
    return this.#views.view(collection, item);
  }

  viewAll(collection: string): ItemView[] {
    return this.#views.all(collection);
  }

  newItemId(): string {
    return this.#writer.newItemId();
  }

  write(type: FactType, collection: string, item: string, data?: JsonObject): ResultAsync<void, WriteError> {
    return this.#writer.write(type, collection, item, data);
  }

  writeField(collection: string, item: string, field: string, value: JsonValue): ResultAsync<void, WriteError> {
    return this.#writer.writeField(collection, item, field, value);
  }

  // ------------------------------------------------------------------------------------------
  // Links (called by the peer)

  peerUp(peer: PeerId): void {
    if (this.#closed) return;
    this.#sessions.up(peer);
    this.#history.keepHistory(true);
  }

  peerDown(peer: PeerId): void {
    this.#sessions.down(peer);
    this.#fetcher.peerDown(peer);
    this.#ingest.forget(peer);
  }

  /** Ask `peer` again what it holds: it then sends what we lack (a pull after its announcement). */
  rehello(peer: PeerId): void {
    this.#sessions.rehello(peer);
  }

  /**
   * The receive path without a session: verify and queue `runs` as if `from` sent them. For tests
   * and tools that feed a space runs the wire cannot carry (sessions call the same pipeline).
   */
  ingest(runs: readonly Run[], from: PeerId): Promise<IngestOutcome> {
    return this.#ingest.ingest(runs, from);
  }

  /** A decoded message for this space from `peer`. */
  receive(peer: PeerId, message: Message): Promise<void> {
    if (this.#closed) return Promise.resolve();
    // What the remote holds, or whether it answered, may have moved: a waiter may be done.
    return this.#sessions.receive(peer, message).then(() => this.#synced.check());
  }

  /** Let queued writes become durable, then stop syncing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.replica.appender.drain();
    // A snapshot workflow still running is abandoned, not awaited: its entry keeps `pending` and
    // the next open runs it again (and in a simulation it may be waiting on virtual time).
    this.#stop();
    this.#closed = true;
    this.#synced.close();
    this.#sessions.close();
    await this.acks.flush();
  }

  /** Stop at once (the process died): nothing more is written. */
  halt(): void {
    this.#closed = true;
    this.#synced.close();
    this.replica.appender.halt();
    this.#stop();
    this.#sessions.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  // ------------------------------------------------------------------------------------------
  // Opening (open.ts)

  /** Merge one item's registers from a snapshot being loaded or adopted. */
  mergeItem(collection: string, item: string, record: ItemRecord): void {
    const replica = this.replica;
    if (replica.state.mergeRecord(collection, item, record)) this.#merged.push([collection, item]);
    // Keep the clock ahead of every stamp we hold.
    for (const reg of record.fields.values()) replica.clock.observe(reg.stamp);
    if (record.exists !== undefined) replica.clock.observe(record.exists.stamp);
  }

  /** Report the items changed by the snapshots merged so far. */
  emitMerged(): void {
    const merged = this.#merged;
    this.#merged = [];
    if (merged.length > 0) this.#changes.emit('remote', merged);
  }

  /**
   * Opened with a latest own snapshot short of its quorum: attest it again if a crash lost our own
   * attestation (we built it, and its log entry records it), and ask the others again (the retry loop
   * that asked died with the process). Without this, a peer whose disk died between the snapshot's
   * metadata and its attestations never pruned until something new came in (campaign seed 2011).
   */
  resumeAttesting(): void {
    const own = this.catalog.own;
    const { options, signer } = this.#ctx;
    if (own === undefined || this.catalog.attestations.count(own.blobId) >= options.snapshotQuorum) return;
    void (async () => {
      if (!this.catalog.attestations.has(own.blobId, signer.origin)) {
        this.catalog.attestations.add(own.blobId, await attest(this.id, own.blobId, signer));
        if (this.#stopped) return;
        await this.catalog.saveAttestations();
      }
      if (this.#stopped || this.catalog.own !== own) return;
      this.#attestor.ask(own);
      this.#pruner.maybePrune();
    })();
  }

  /** Restore a pending own fact found in the log. */
  restorePending(entry: FactEntry): void {
    this.replica.overlay.add(entry);
  }

  // ------------------------------------------------------------------------------------------
  // Internals

  #stop(): void {
    this.#stopped = true;
    this.#fetcher.halt();
    this.#attestor.halt();
    this.#idle?.cancel();
  }

  /** `peer` attested or served a snapshot its facts do not give: record the proof, strike it. */
  #badSnapshot(peer: PeerId, root: string, proof: readonly Attestation[], problem: string): void {
    this.#fault({
      type: 'bad-snapshot',
      peer,
      message: `snapshot ${root.slice(0, 16)}…: ${problem}`,
      at: this.#ctx.env.now(),
      proof: { root, attestations: proof },
    });
    this.#ctx.link.complain(peer, 'bad-snapshot', problem);
  }

  /**
   * After an idle stretch, snapshot what is new if our latest snapshot still lacks attestations:
   * peers that hold the same facts then build the same root, and attest each other's at once.
   */
  #scheduleIdleSnapshot(): void {
    if (this.#ctx.options.snapshotQuorum <= 1 || this.#stopped) return;
    const own = this.catalog.own;
    if (own === undefined || this.catalog.attestations.count(own.blobId) >= this.#ctx.options.snapshotQuorum) return;
    if (!this.workflow.hasNew()) return; // nothing new to snapshot
    this.#idle?.cancel();
    this.#idle = this.#ctx.timers.after(IDLE_SNAPSHOT_MS, () => {
      this.#idle = undefined;
      this.workflow.runIfNew();
    });
  }

  #handle(peer: PeerId, message: OtherMessage): void {
    switch (message.type) {
      case 'gossip':
        this.#gossip.received(peer, message);
        return;
      case 'snapshot-offer':
        this.#fetcher.offerReceived(peer, message);
        return;
      case 'blob-request':
        this.#fetcher.serve(peer, message.ids);
        return;
      case 'blob':
        if (
          !this.#attestor.received(peer, message.id, message.bytes) &&
          !this.#history.received(peer, message.id, message.bytes)
        )
          this.#fetcher.received(peer, message.id, message.bytes);
        return;
      case 'attest-request':
        this.#attestor.requestReceived(peer, message);
        return;
      case 'attestation':
        this.#attestor.attestationReceived(peer, message);
        return;
      case 'gone':
        this.#history.gone(peer, message.ids);
        this.#fetcher.gone(peer, message.ids);
        return;
    }
  }

  /** A fetched snapshot is in the adopted list: merge it and adopt its chain tips. */
  #adopt(
    held: HeldSnapshot,
    items: readonly [string, string, ItemRecord][],
    from: PeerId,
    history: readonly string[],
  ): void {
    for (const [collection, item, record] of items) this.mergeItem(collection, item, record);
    const origins = this.replica.adoptTips(held.tips);
    this.emitMerged();
    this.#sessions.advanced(origins);
    // Runs that waited for the facts the snapshot covers can go in now.
    this.#ingest.chainsMoved(origins);
    this.#gossip.advanced(origins);
    this.#synced.check();
    this.#history.adopted(from, history);
  }

  #onDurable(entries: readonly FactEntry[], first: SequenceId): void {
    const replica = this.replica;
    const own = replica.origin;
    replica.advanced();
    const touched: ItemKey[] = [];
    const origins = new Set<PeerId>();
    const now = this.#monotonic();
    // A batch is mostly runs: many entries of one origin in a row, often on one item. Each origin
    // and each item is taken once per stretch, not once per entry.
    let origin: PeerId | undefined;
    let last: ItemKey | undefined;
    let ownCollection: string | undefined;
    let ownItem: string | undefined;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const changed = replica.accept(entry, first + i);
      if (entry.origin !== origin) {
        origin = entry.origin;
        origins.add(origin);
        if (origin !== own) replica.arrivals.set(origin, now);
      }
      if (!changed) continue;
      if (origin === own) {
        // Own writes are in the view already (pending); the registers under it moved.
        if (entry.item !== ownItem || entry.collection !== ownCollection) {
          ownCollection = entry.collection;
          ownItem = entry.item;
          this.#changes.invalidate(ownCollection, ownItem);
        }
      } else if (last === undefined || last[1] !== entry.item || last[0] !== entry.collection) {
        last = [entry.collection, entry.item];
        touched.push(last);
      }
    }
    if (touched.length > 0) this.#changes.emit('remote', touched);
    this.#sessions.advanced(origins);
    this.workflow.maybeRun();
    this.#gossip.advanced(origins);
    this.#ctx.advanced?.(origins);
    this.#scheduleIdleSnapshot();
    this.#synced.check();
  }

  #onAppendFailed(dropped: readonly FactEntry[], error: StorageError): void {
    // Whatever was queued behind the failure chains onto facts that never became durable.
    const replica = this.replica;
    replica.resetQueued();
    this.#writer.dropped();
    const rolledBack = replica.overlay.rollback(replica.counter(replica.origin));
    if (rolledBack.length > 0) {
      this.#changes.emit(
        'rollback',
        rolledBack.map((f) => [f.collection, f.item]),
      );
    }
    this.#fault({
      type: 'storage',
      peer: this.#ctx.origin,
      message: `storage failed, ${dropped.length} facts not written: ${error.message}`,
      at: this.#ctx.env.now(),
    });
  }

  /**
   * In sync with every one of `peers` (see `Space.whenSynced`): our acknowledgements are all
   * released, and each peer's session says it holds our vector (own writes not yet durable here
   * included) and we hold what it announced.
   */
  #inSync(peers: readonly PeerId[]): boolean {
    if (!this.acks.settled) return false;
    if (peers.length === 0) return true;
    const replica = this.replica;
    const ours = replica.vector();
    const written = replica.tip(replica.origin)?.counter ?? 0;
    if (written > (ours.get(replica.origin) ?? 0)) ours.set(replica.origin, written);
    return peers.every((peer) => this.#sessions.inSync(peer, ours));
  }

  #fault(fault: Fault): void {
    this.#faults.push(fault);
    if (this.#faults.length > MAX_FAULTS) this.#faults.shift();
  }
}
