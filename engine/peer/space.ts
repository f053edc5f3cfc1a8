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
import { runOf, verifyRun, type ChainTip, type Run, type RunError } from '../facts/run.js';
import type { SignatureVerifier, Signer } from '../facts/sign.js';
import type { Fact, FactType, JsonObject, JsonValue, PeerId, UnhashedFact, Vector } from '../facts/types.js';
import { MAX_FAULTS, MAX_SEGMENT_BYTES, MAX_STASHED_BYTES } from '../limits.js';
import { Appender } from '../log/appender.js';
import type { EventLog, SequenceId } from '../log/event-log.js';
import { OriginIndex } from '../log/origin-index.js';
import { LwwState } from '../state/lww.js';
import { PendingOverlay } from '../state/overlay.js';
import { viewOf, type ItemView } from '../state/view.js';
import type { FactEntry, Storage } from '../storage/storage.js';
import { FactsFrameBuilder } from '../sync/codec.js';
import type { Message, SnapshotRef } from '../sync/messages.js';
import { OriginDirectory, type WireVector } from '../sync/origin-key.js';
import { Session, type IngestOutcome, type OutgoingFrame, type SyncHost } from '../sync/session.js';
import { CollectionImpl } from './collection.js';
import type { Collection, Fault, ItemChange, Space, SpaceEvent, SpaceListener, SpaceStatus, ChangeSource } from './types.js';

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
}

const ackedKey = (space: string): string => `space/${space}/acked`;

/** Facts read from the log per `readFrame` call (a frame holds at most ~1 MiB of them anyway). */
const FRAME_READ_BUDGET = 8192;
/** Facts of one origin read per query. */
const FRAME_READ_CHUNK = 1024;
/** Two wanted entries this close in the log are read with one query. */
const READ_GAP = 32;

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
  #logStart: SequenceId;
  #acked: number;
  #ackedPersisted: number;
  #persistingAck = false;
  /** Durable vectors other peers have told us about (directly or by gossip). */
  readonly #peerVectors = new Map<PeerId, Vector>();
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

  private constructor(ctx: SpaceContext, log: EventLog<FactEntry>, logStart: SequenceId, acked: number) {
    this.id = ctx.id;
    this.#ctx = ctx;
    this.#log = log;
    this.#logStart = logStart;
    this.#acked = acked;
    this.#ackedPersisted = acked;
    this.#clock = new HlcClock(ctx.env, ctx.options.maxDrift);
    this.#origins.add(ctx.origin);
  }

  /** Open a space: replay its log into registers, restore the pending set. */
  static open(ctx: SpaceContext): ResultAsync<SpaceImpl, OpenError> {
    return ctx.storage.openLog(ctx.id).andThen((log) =>
      ctx.storage
        .getMeta(ackedKey(ctx.id))
        .map((bytes) => (bytes === undefined ? 0 : decodeCounter(bytes)))
        .andThen((acked) => {
          const space = new SpaceImpl(ctx, log, 0, acked);
          return space.#replay('start').map(() => space);
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
    return {
      pending: this.#overlay.count,
      peers: peers.sort(),
      vector,
      logStart: this.#logStart,
      logLength: this.#appender.next - this.#logStart,
      faults: [...this.#faults],
    };
  }

  stateHash(): string {
    return this.#state.hash();
  }

  snapshot(): ResultAsync<{ blobId: string }, SnapshotError> {
    return errAsync(storageError('snapshots are not available yet'));
  }

  history(collection: string, item: string): ResultAsync<Fact[], StorageError> {
    const facts: Fact[] = [];
    const page = (start: SequenceId): ResultAsync<Fact[], StorageError> =>
      this.#log
        .query(start, 'end')
        .mapErr((e) => (e.type === 'storage' ? e : storageError(e.message)))
        .andThen((value) => {
          for (const entry of value.entries) {
            if (entry.collection === collection && entry.item === item) facts.push(stripEntry(entry));
          }
          return value.isComplete ? okAsync(facts) : page(value.endSequenceId);
        });
    return page(this.#logStart);
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
    const visible = this.view(collection, item) !== undefined;
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
    return this.#index.starts();
  }

  snapshotRef(): SnapshotRef | undefined {
    return undefined;
  }

  async readFrame(sent: Vector, maxBytes: number, forwardBefore: number): Promise<OutgoingFrame | undefined> {
    const wanted: { origin: PeerId; from: number; to: number; seq: SequenceId }[] = [];
    let heldBackUntil: number | undefined;
    for (const [origin, tip] of this.#durable) {
      const from = (sent.get(origin) ?? 0) + 1;
      if (tip.counter < from) continue;
      // Facts loaded from storage arrived "at 0": forwardable unless everything else is held (-1).
      const arrived = this.#arrivals.get(origin) ?? 0;
      if (origin !== this.#ctx.origin && arrived > forwardBefore) {
        heldBackUntil = Math.min(heldBackUntil ?? arrived, arrived);
        continue;
      }
      const seq = this.#index.seqOf(origin, from);
      if (seq === undefined) continue; // pruned: the remote needs a snapshot (not sent here)
      wanted.push({ origin, from, to: tip.counter, seq });
    }
    if (wanted.length === 0) return heldBackUntil === undefined ? undefined : { until: new Map(), heldBackUntil };
    // Oldest first: a remote that fell behind gets history in the order it was written.
    wanted.sort((a, b) => a.seq - b.seq);

    const builder = new FactsFrameBuilder(this.id, maxBytes);
    const until: Vector = new Map();
    const next = new Map<PeerId, number>(wanted.map((w) => [w.origin, w.from]));
    const last = new Map<PeerId, number>(wanted.map((w) => [w.origin, w.to]));
    const open = new Map<PeerId, FactEntry[]>();
    let budget = FRAME_READ_BUDGET;
    // Rounds: read the next chunk of every wanted origin in one pass over the log (entries of
    // different origins interleave there), until the frame is full or the budget is spent. A run
    // in progress is always finished: it ends at a signed fact at most one append batch away.
    reading: while (next.size > 0 && (budget > 0 || open.size > 0)) {
      const seqs: SequenceId[] = [];
      for (const [origin, counter] of next) {
        if (budget <= 0 && !open.has(origin)) {
          next.delete(origin);
          continue;
        }
        const to = Math.min(last.get(origin)!, counter + FRAME_READ_CHUNK - 1);
        for (let c = counter; c <= to; c++) seqs.push(this.#index.seqOf(origin, c)!);
      }
      if (seqs.length === 0) break;
      budget -= seqs.length;
      seqs.sort((a, b) => a - b);
      const entries = await this.#readSeqs(seqs);
      if (entries === undefined || this.#closed) return undefined;
      for (const entry of entries) {
        const origin = entry.origin;
        const counter = entry.counter;
        if (counter + 1 > last.get(origin)!) next.delete(origin);
        else next.set(origin, counter + 1);
        let run = open.get(origin);
        if (run === undefined) open.set(origin, (run = []));
        run.push(entry);
        if (entry.sig === undefined) continue;
        open.delete(origin);
        if (!builder.add(runOf(run, entry.sig))) break reading;
        until.set(origin, counter);
      }
    }
    if (builder.runs === 0) return heldBackUntil === undefined ? undefined : { until, heldBackUntil };
    return { frame: builder.finish(), until, heldBackUntil };
  }

  /** The entries at `seqs` (ascending), reading nearby ones in one query. */
  async #readSeqs(seqs: readonly SequenceId[]): Promise<FactEntry[] | undefined> {
    const out: FactEntry[] = [];
    let i = 0;
    while (i < seqs.length) {
      let j = i;
      while (j + 1 < seqs.length && seqs[j + 1]! - seqs[j]! <= READ_GAP) j++;
      let start = seqs[i]!;
      const end = seqs[j]! + 1;
      let k = i;
      while (start < end) {
        const page = await this.#log.query(start, end);
        if (page.isErr()) return undefined;
        for (const entry of page.value.entries) {
          if (entry.counter === undefined) continue;
          if (start++ === seqs[k]) {
            out.push(entry);
            k++;
          }
        }
        if (page.value.entries.length === 0) return undefined;
      }
      i = j + 1;
    }
    return out;
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
    let known = this.#peerVectors.get(peer);
    if (known === undefined) {
      known = new Map();
      this.#peerVectors.set(peer, known);
    }
    for (const [origin, counter] of vector) if (counter > (known.get(origin) ?? 0)) known.set(origin, counter);
    if (vector.has(this.#ctx.origin)) this.#updateAcked();
  }

  noteInvalid(peer: PeerId, message: string): void {
    this.#fault({ type: 'invalid-input', peer, message, at: this.#ctx.env.now() });
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
    this.#closed = true;
    for (const session of this.#sessions.values()) session.close();
    this.#sessions.clear();
    await this.#flushAcked();
  }

  /** Stop at once (simulated crash): nothing more is written. */
  halt(): void {
    this.#closed = true;
    this.#appender.halt();
    for (const session of this.#sessions.values()) session.close();
    this.#sessions.clear();
  }

  get closed(): boolean {
    return this.#closed;
  }

  // ------------------------------------------------------------------------------------------
  // Internals

  #replay(start: SequenceId | 'start'): ResultAsync<void, OpenError> {
    return this.#log.query(start, 'end').mapErr(toOpenError).andThen((page) => {
      if (start === 'start') this.#logStart = page.startSequenceId;
      let seq = page.startSequenceId;
      for (const entry of page.entries) {
        const tip = this.#durable.get(entry.origin);
        if (tip !== undefined && entry.counter !== tip.counter + 1) {
          return errAsync<void, OpenError>({
            type: 'corrupt',
            message: `log entry ${seq}: ${entry.origin} counter ${entry.counter} after ${tip.counter}`,
          });
        }
        this.#accept(entry, seq++);
        this.#clock.observe(entry.hlc);
        if (entry.origin === this.#ctx.origin && entry.counter > this.#acked) this.#overlay.add(entry);
      }
      if (!page.isComplete) return this.#replay(page.endSequenceId);
      for (const [origin, tip] of this.#durable) this.#tips.set(origin, tip);
      this.#appender = new Appender(this.#log, page.endSequenceId, {
        seal: (entries) => this.#seal(entries),
        durable: (entries, first) => this.#onDurable(entries, first),
        failed: (dropped, error) => this.#onAppendFailed(dropped, error),
      });
      return okAsync(undefined);
    });
  }

  /** A durable entry enters the registers and the indexes. */
  #accept(entry: FactEntry, seq: SequenceId): boolean {
    if (!this.#durable.has(entry.origin)) this.#origins.add(entry.origin);
    this.#index.add(entry.origin, entry.counter, seq);
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
  }

  #onAppendFailed(dropped: readonly FactEntry[], error: StorageError): void {
    // Whatever was queued behind the failure chains onto facts that never became durable.
    this.#tips.clear();
    for (const [origin, tip] of this.#durable) this.#tips.set(origin, tip);
    this.#ownSizes.clear();
    const rolledBack = this.#overlay.rollback(this.#durable.get(this.#ctx.origin)?.counter ?? 0);
    if (rolledBack.length > 0) this.#changed('rollback', rolledBack.map((f) => [f.collection, f.item]));
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
          this.#fault({ type: 'equivocation', peer: from, origin: run.origin, counter: e.equivocation.counter, message: e.message, at: this.#ctx.env.now() });
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
    const counts: number[] = [];
    for (const [peer, vector] of this.#peerVectors) if (peer !== own) counts.push(vector.get(own) ?? 0);
    counts.sort((a, b) => b - a);
    const quorum = this.#ctx.options.ackQuorum;
    // A remote cannot acknowledge more than we have made durable.
    const acked = Math.min(counts[quorum - 1] ?? 0, this.#durable.get(own)?.counter ?? 0);
    if (acked <= this.#acked) return;
    this.#acked = acked;
    const released = this.#overlay.acknowledge(acked);
    if (released.length > 0) this.#changed('ack', released.map((f) => [f.collection, f.item]));
    void this.#flushAcked();
  }

  async #flushAcked(): Promise<void> {
    // Persisting the acknowledged counter is an optimisation (a restart would re-offer those facts
    // and they would be acknowledged again), so one write at a time and failures are tolerated.
    if (this.#persistingAck || this.#acked === this.#ackedPersisted) return;
    this.#persistingAck = true;
    const value = this.#acked;
    const written = await this.#ctx.storage.setMeta(ackedKey(this.id), encodeCounter(value));
    this.#persistingAck = false;
    if (written.isOk()) this.#ackedPersisted = Math.max(this.#ackedPersisted, value);
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

/** A stored entry without its log metadata and signature: the fact itself. */
function stripEntry(entry: FactEntry): Fact {
  const { snapshot: _s, history: _h, pending: _p, sig: _g, ...fact } = entry;
  return fact;
}

function encodeCounter(n: number): Uint8Array {
  return new TextEncoder().encode(String(n));
}

function decodeCounter(bytes: Uint8Array): number {
  const n = Number(new TextDecoder().decode(bytes));
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function base64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64URL[(n >> 18) & 63]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  return out;
}
