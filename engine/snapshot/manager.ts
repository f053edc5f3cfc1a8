/**
 * Snapshots, history and catch-up from a snapshot, for one space (DESIGN §4, seeds 000–002).
 *
 * - The workflow for entry S (triggered by `pending: 'snapshot'` on S): fold the previous snapshot,
 *   any adopted ones and the entries before S into registers (on a Workers job), write them as
 *   chunks plus a signed root, write the entries since the last history point as history blobs, then
 *   record `{ snapshot, history, pending: undefined }` on S in one atomic metadata write. A crash
 *   anywhere before that write leaves `pending` set and the workflow runs again on open; blobs are
 *   content-addressed, so writing them twice is harmless.
 * - Catch-up: a peer that needs facts another pruned gets a `snapshot-offer`, fetches the root and
 *   chunks (each checked against its id, the root's signature against its creator), merges the
 *   registers and adopts the chain tips; the facts after it follow as usual. An adopted snapshot is
 *   remembered (meta) until the next own snapshot folds it in.
 */
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from 'neverthrow';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Env, TimerScope } from '../env.js';
import {
  closedError,
  corrupt,
  describe,
  storageError,
  type CorruptError,
  type SnapshotError,
  type StorageError,
} from '../errors.js';
import { encodeEntry } from '../log/entry-codec.js';
import type { ChainTip } from '../facts/run.js';
import type { SignatureVerifier, Signer } from '../facts/sign.js';
import type { Fact, PeerId } from '../facts/types.js';
import { LOG_PAGE_ENTRIES, RETRANSMIT_AFTER_MS } from '../limits.js';
import type { EventLog, SequenceId } from '../log/event-log.js';
import type { ItemRecord } from '../state/lww.js';
import { factOf, type FactEntry } from '../log/fact-entry.js';
import type { Storage } from '../storage/storage.js';
import { decodeChunk, decodeRoot, encodeRoot, encodeRootBody, rootSigningHash, type SnapshotRoot } from './format.js';
import { SnapshotStore } from './store.js';
import type { Workers } from './workers.js';

/** A snapshot this peer holds (own or adopted). */
export interface HeldSnapshot {
  readonly blobId: string;
  readonly tips: ReadonlyMap<PeerId, ChainTip>;
  /** Entry carrying it in our log (own snapshots only). */
  readonly seq?: SequenceId | undefined;
}

/** Callbacks into the space. */
export interface SnapshotHost {
  /** Merge one item's registers (from a snapshot) into the live state. */
  mergeItem(collection: string, item: string, record: ItemRecord): void;
  /** A fetched snapshot was merged: adopt its chain tips. */
  adopt(snapshot: HeldSnapshot): void;
  send(peer: PeerId, frame: Uint8Array): void;
  encodeBlobRequest(ids: readonly string[]): Uint8Array;
  encodeBlob(id: string, bytes: Uint8Array): Uint8Array;
}

export interface SnapshotContext {
  readonly spaceId: string;
  readonly origin: PeerId;
  readonly signer: Signer;
  readonly verifier: SignatureVerifier;
  readonly env: Env;
  readonly timers: TimerScope;
  readonly storage: Storage;
  /** Where history blobs go (defaults to the storage's blob store). */
  readonly archive: BlobStore;
  readonly log: EventLog<FactEntry>;
  readonly workers: Workers;
}

const adoptedKey = (space: string): string => `space/${space}/adopted`;
/** Superseded item records a snapshot may carry beyond twice the live items before it is compacted. */
const COMPACT_SLACK_ITEMS = 1000;
/** Chunks asked for at once while fetching a snapshot. */
const FETCH_WINDOW = 8;
/** Requests for a missing blob before a fetch is given up (another offer restarts it). */
const FETCH_ATTEMPTS = 5;

const toStorage = (e: { type: string; message: string }): StorageError =>
  e.type === 'storage' ? (e as StorageError) : storageError(e.message);

interface Fetch {
  readonly peer: PeerId;
  readonly rootId: string;
  root?: SnapshotRoot;
  readonly wanted: Set<string>;
  readonly chunks: Map<string, Uint8Array>;
  /** Chunk ids asked for and not yet received. */
  readonly asked: Set<string>;
  attempts: number;
  lastActivity: number;
}

export class SnapshotManager {
  readonly #ctx: SnapshotContext;
  readonly #store: SnapshotStore;
  #own: HeldSnapshot | undefined;
  #adopted: HeldSnapshot[] = [];
  #history: { seq: SequenceId; blobId: string } | undefined;
  #fetch: Fetch | undefined;
  readonly #offers: { peer: PeerId; blobId: string }[] = [];
  #running: Promise<unknown> = Promise.resolve();
  #host: SnapshotHost | undefined;
  #halted = false;

  private constructor(ctx: SnapshotContext, store: SnapshotStore) {
    this.#ctx = ctx;
    this.#store = store;
  }

  static open(ctx: SnapshotContext): ResultAsync<SnapshotManager, StorageError> {
    return SnapshotStore.open(ctx.storage.blobs, ctx.archive, ctx.spaceId).map(
      (store) => new SnapshotManager(ctx, store),
    );
  }

  /** Connect the space (which is created after its manager). */
  attach(host: SnapshotHost): this {
    this.#host = host;
    return this;
  }

  get #h(): SnapshotHost {
    if (this.#host === undefined) throw new Error('SnapshotManager used before attach()');
    return this.#host;
  }

  /** Resolves when no workflow is running. */
  idle(): Promise<void> {
    return this.#running.then(() => undefined);
  }

  /** The process died (simulator): a running workflow stops before its next write. */
  halt(): void {
    this.#halted = true;
    this.#fetch = undefined;
    this.#offers.length = 0;
  }

  /** The latest own snapshot. */
  get own(): HeldSnapshot | undefined {
    return this.#own;
  }

  /** Snapshots we can offer to a peer that needs facts we no longer have. */
  offerable(): HeldSnapshot[] {
    return this.#own === undefined ? [...this.#adopted] : [this.#own, ...this.#adopted];
  }

  get historyPoint(): { seq: SequenceId; blobId: string } | undefined {
    return this.#history;
  }

  // ------------------------------------------------------------------------------------------
  // Opening

  /**
   * Load the latest own snapshot (the entry `first` of the log, when it carries one) and the adopted
   * ones into the live state through `host.mergeItem`. Returns every snapshot loaded.
   */
  load(
    first: FactEntry | undefined,
    firstSeq: SequenceId,
    historyPoint: { seq: SequenceId; blobId: string } | undefined,
  ): ResultAsync<HeldSnapshot[], StorageError | CorruptError> {
    this.#history = historyPoint;
    const own: ResultAsync<HeldSnapshot | undefined, StorageError | CorruptError> =
      first?.snapshot === undefined
        ? okAsync(undefined)
        : this.#loadInto(first.snapshot).map((root) => ({ blobId: first.snapshot!, tips: root.tips, seq: firstSeq }));
    return own.andThen((snapshot) => {
      this.#own = snapshot;
      return this.#ctx.storage
        .getMeta(adoptedKey(this.#ctx.spaceId))
        .andThen((bytes) => {
          const ids = bytes === undefined ? [] : (JSON.parse(new TextDecoder().decode(bytes)) as string[]);
          return ResultAsync.combine(
            ids.map((id) => this.#loadInto(id).map((root): HeldSnapshot => ({ blobId: id, tips: root.tips }))),
          );
        })
        .map((adopted) => {
          this.#adopted = adopted;
          return snapshot === undefined ? adopted : [snapshot, ...adopted];
        });
    });
  }

  #loadInto(rootId: string): ResultAsync<SnapshotRoot, StorageError | CorruptError> {
    return this.#readRoot(rootId).andThen((root) => {
      let chain: ResultAsync<SnapshotRoot, StorageError | CorruptError> = okAsync(root);
      for (const id of root.chunks) {
        chain = chain.andThen(() =>
          this.#store.getSnapshotBlob(id).andThen((bytes) => {
            if (bytes === undefined) return errAsync(corrupt(`snapshot chunk ${id} is missing`));
            const merged = decodeChunk(bytes, (c, i, r) => this.#h.mergeItem(c, i, r));
            return merged.isOk() ? okAsync(root) : errAsync(corrupt(`snapshot chunk ${id}: ${merged.error}`));
          }),
        );
      }
      return chain;
    });
  }

  #readRoot(rootId: string): ResultAsync<SnapshotRoot, StorageError | CorruptError> {
    return this.#store.getSnapshotBlob(rootId).andThen((bytes) => {
      if (bytes === undefined) return errAsync(corrupt(`snapshot ${rootId} is missing`));
      const root = decodeRoot(bytes);
      return root.isOk() ? okAsync(root.value) : errAsync(corrupt(`snapshot ${rootId}: ${root.error}`));
    });
  }

  // ------------------------------------------------------------------------------------------
  // The workflow

  /**
   * Run the snapshot (and history) workflow for entry `seq`. One workflow at a time. `liveItems` is
   * the size of the live state, which decides when to compact (see #workflow).
   */
  run(seq: SequenceId, logStart: SequenceId, liveItems: number): ResultAsync<HeldSnapshot, SnapshotError> {
    const result = this.#running.then(() => this.#workflow(seq, logStart, liveItems));
    this.#running = result;
    return new ResultAsync(result);
  }

  /**
   * Registers merge by stamp, so a snapshot may be the previous one's chunks plus chunks of the
   * registers of the entries since (a delta): O(tail), whatever the size of the state. When the
   * chunks hold more than twice the live items (superseded registers pile up), the snapshot is
   * compacted instead: every chunk and entry folded into one fresh set of chunks. Amortized, each
   * entry costs O(1) either way.
   */
  async #workflow(
    seq: SequenceId,
    logStart: SequenceId,
    liveItems: number,
  ): Promise<Result<HeldSnapshot, SnapshotError>> {
    if (this.#own !== undefined && this.#own.seq !== undefined && this.#own.seq >= seq) return ok(this.#own);
    const job = this.#ctx.workers.snapshotJob();
    const tips = new Map<PeerId, ChainTip>();
    const fold = (root: SnapshotRoot) => {
      for (const [origin, tip] of root.tips) if ((tips.get(origin)?.counter ?? 0) < tip.counter) tips.set(origin, tip);
    };
    const base = [...(this.#own === undefined ? [] : [this.#own.blobId]), ...this.#adopted.map((a) => a.blobId)];
    const adoptedNow = this.#adopted.map((a) => a.blobId);
    try {
      const roots: SnapshotRoot[] = [];
      for (const rootId of base) {
        const root = await this.#readRoot(rootId);
        if (root.isErr()) return err(root.error);
        fold(root.value);
        roots.push(root.value);
      }
      const carried = roots.reduce((sum, root) => sum + root.items, 0);
      const compact = carried > 2 * liveItems + COMPACT_SLACK_ITEMS;
      const kept: string[] = [];
      for (const root of roots) {
        if (!compact) {
          kept.push(...root.chunks);
          continue;
        }
        for (const id of root.chunks) {
          const bytes = await this.#store.getSnapshotBlob(id);
          if (bytes.isErr()) return err(bytes.error);
          if (bytes.value === undefined) return err(corrupt(`snapshot chunk ${id} is missing`));
          await job.addChunk(bytes.value);
        }
      }
      // Entries from the previous snapshot go into the registers; entries since the last history
      // point go into history blobs. Usually both start at the previous snapshot.
      const stateFrom = this.#own?.seq ?? logStart;
      const historyFrom = this.#history?.seq ?? logStart;
      const from = Math.max(logStart, Math.min(stateFrom, historyFrom));
      // Each entry is encoded once: the bytes feed both the job and the history blobs.
      const history: Uint8Array[] = [];
      for (let at = from; at < seq;) {
        const page = await this.#ctx.log.query(at, Math.min(seq, at + LOG_PAGE_ENTRIES));
        if (page.isErr()) return err(toStorage(page.error));
        const entries = page.value.entries;
        if (entries.length === 0) return err(corrupt(`log ends at ${at} before the snapshot entry ${seq}`));
        const encoded: Uint8Array[] = [];
        entries.forEach((entry, i) => {
          const bytes = encodeEntry(entry);
          if (at + i >= historyFrom) history.push(bytes);
          if (at + i < stateFrom) return;
          encoded.push(bytes);
          if ((tips.get(entry.origin)?.counter ?? 0) < entry.counter)
            tips.set(entry.origin, { counter: entry.counter, hash: entry.hash });
        });
        await job.addEntries(encoded);
        at = page.value.endSequenceId;
      }
      const built = await job.finish();
      if (this.#halted) return err(closedError());
      for (const chunk of built.chunks) {
        const put = await this.#store.putSnapshotBlob(chunk.bytes);
        if (put.isErr()) return err(put.error);
      }
      const chunks = [...kept, ...built.chunks.map((c) => c.id)];
      const items = (compact ? 0 : carried) + built.items;
      const body = encodeRootBody(this.#ctx.spaceId, this.#ctx.origin, tips, items, chunks);
      const sig = await this.#ctx.signer.sign(rootSigningHash(body));
      const rootId = await this.#store.putSnapshotBlob(encodeRoot(body, sig));
      if (rootId.isErr()) return err(rootId.error);
      const historyId = await this.#store.putHistory(history, Math.max(historyFrom, from), this.#history?.blobId);
      if (historyId.isErr()) return err(historyId.error);
      const meta =
        historyId.value === undefined
          ? { snapshot: rootId.value, pending: undefined }
          : { snapshot: rootId.value, history: historyId.value, pending: undefined };
      if (this.#halted) return err(closedError());
      const recorded = await this.#ctx.log.setMetadata(seq, meta);
      if (recorded.isErr()) return err(toStorage(recorded.error));
      if (this.#halted) return err(closedError());
      // Durable from here: the new snapshot replaces the old and folds in the adopted ones.
      this.#own = { blobId: rootId.value, tips, seq };
      if (historyId.value !== undefined) this.#history = { seq, blobId: historyId.value };
      const remaining = this.#adopted.filter((a) => !adoptedNow.includes(a.blobId));
      // Only once the adopted list no longer names them may their blobs go.
      if (await this.#saveAdopted(remaining)) {
        this.#adopted = remaining;
        await this.collect();
      }
      return ok(this.#own);
    } catch (e) {
      // Jobs report corrupt input by rejecting (they may run on another thread): the edge.
      return err(corrupt(`snapshot workflow: ${describe(e)}`));
    }
  }

  /** Remove snapshot blobs nothing refers to any more. Failures only leave garbage behind. */
  async collect(): Promise<void> {
    const keep = new Set<string>();
    for (const held of this.offerable()) {
      keep.add(held.blobId);
      const root = await this.#readRoot(held.blobId);
      if (root.isErr()) return;
      for (const id of root.value.chunks) keep.add(id);
    }
    if (this.#fetch !== undefined) {
      keep.add(this.#fetch.rootId);
      for (const id of this.#fetch.root?.chunks ?? []) keep.add(id);
    }
    // A failed sweep only leaves garbage behind; the next one retries.
    void (await this.#store.collect(keep));
  }

  /** Persist the list of adopted snapshots; false when storage failed. */
  async #saveAdopted(adopted: readonly HeldSnapshot[]): Promise<boolean> {
    const ids = adopted.map((a) => a.blobId);
    const saved = await this.#ctx.storage.setMeta(
      adoptedKey(this.#ctx.spaceId),
      new TextEncoder().encode(JSON.stringify(ids)),
    );
    return saved.isOk();
  }

  // ------------------------------------------------------------------------------------------
  // History

  /** Facts about one item in the history blobs (oldest first). */
  history(collection: string, item: string): ResultAsync<Fact[], StorageError> {
    const found: Fact[][] = [];
    const walk = (id: string | undefined): ResultAsync<Fact[], StorageError> => {
      if (id === undefined) return okAsync(found.reverse().flat());
      return this.#store
        .getHistory(id)
        .mapErr((e) => storageError(e.message))
        .andThen((blob) => {
          found.push(blob.entries.filter((e) => e.collection === collection && e.item === item).map(factOf));
          return walk(blob.prev);
        });
    };
    return walk(this.#history?.blobId);
  }

  // ------------------------------------------------------------------------------------------
  // Serving and fetching snapshots

  /** A peer asks for blobs: send the snapshot blobs we have (others are ignored). */
  serve(peer: PeerId, ids: readonly string[]): void {
    void (async () => {
      for (const id of ids) {
        if (this.#halted) return;
        const bytes = await this.#store.getSnapshotBlob(id);
        if (bytes.isOk() && bytes.value !== undefined) this.#h.send(peer, this.#h.encodeBlob(id, bytes.value));
      }
    })();
  }

  /** A peer offers a snapshot we may need (`useful` decided by the space). */
  offered(peer: PeerId, blobId: string): void {
    if (this.#fetch?.rootId === blobId || this.#offers.some((o) => o.blobId === blobId)) return;
    if (this.offerable().some((h) => h.blobId === blobId)) return;
    this.#offers.push({ peer, blobId });
    this.#nextFetch();
  }

  /** A blob arrived. */
  received(peer: PeerId, id: string, bytes: Uint8Array): void {
    const fetch = this.#fetch;
    if (fetch === undefined || fetch.peer !== peer || !fetch.wanted.has(id)) return;
    void this.#store.putSnapshotBlob(bytes).map((stored) => {
      // putSnapshotBlob names it by its content: a blob that is not what we asked for is dropped.
      if (stored !== id || this.#fetch !== fetch) return;
      fetch.wanted.delete(id);
      fetch.asked.delete(id);
      fetch.lastActivity = this.#ctx.env.now();
      fetch.attempts = 0;
      if (id === fetch.rootId) return this.#gotRoot(fetch, bytes);
      fetch.chunks.set(id, bytes);
      this.#ask(fetch);
      if (fetch.wanted.size === 0) void this.#finishFetch(fetch);
      return undefined;
    });
  }

  /** The link to `peer` went down: a fetch from it is abandoned (another offer restarts it). */
  peerDown(peer: PeerId): void {
    if (this.#fetch?.peer === peer) this.#fetch = undefined;
    for (let i = this.#offers.length - 1; i >= 0; i--) if (this.#offers[i]!.peer === peer) this.#offers.splice(i, 1);
    this.#nextFetch();
  }

  #nextFetch(): void {
    if (this.#fetch !== undefined) return;
    const offer = this.#offers.shift();
    if (offer === undefined) return;
    const fetch: Fetch = {
      peer: offer.peer,
      rootId: offer.blobId,
      wanted: new Set([offer.blobId]),
      chunks: new Map(),
      asked: new Set(),
      attempts: 0,
      lastActivity: this.#ctx.env.now(),
    };
    this.#fetch = fetch;
    this.#h.send(fetch.peer, this.#h.encodeBlobRequest([fetch.rootId]));
    this.#watch(fetch);
  }

  #gotRoot(fetch: Fetch, bytes: Uint8Array): void {
    const root = decodeRoot(bytes);
    if (root.isErr() || root.value.space !== this.#ctx.spaceId) return this.#abandon(fetch);
    void this.#ctx.verifier.verify(root.value.creator, root.value.signed, root.value.sig).then((valid) => {
      if (!valid || this.#fetch !== fetch) return this.#abandon(fetch);
      fetch.root = root.value;
      for (const id of root.value.chunks) fetch.wanted.add(id);
      if (fetch.wanted.size === 0) void this.#finishFetch(fetch);
      else this.#ask(fetch);
      return undefined;
    });
  }

  #ask(fetch: Fetch): void {
    // Keep FETCH_WINDOW chunk requests outstanding.
    const fresh: string[] = [];
    for (const id of fetch.wanted) {
      if (fetch.asked.size + fresh.length >= FETCH_WINDOW) break;
      if (!fetch.asked.has(id)) fresh.push(id);
    }
    for (const id of fresh) fetch.asked.add(id);
    if (fresh.length > 0) this.#h.send(fetch.peer, this.#h.encodeBlobRequest(fresh));
  }

  #watch(fetch: Fetch): void {
    this.#ctx.timers.after(RETRANSMIT_AFTER_MS, () => {
      if (this.#fetch !== fetch) return;
      if (this.#ctx.env.now() - fetch.lastActivity < RETRANSMIT_AFTER_MS) return this.#watch(fetch);
      if (++fetch.attempts > FETCH_ATTEMPTS) return this.#abandon(fetch);
      // Lost requests or blobs: ask again for what is outstanding.
      fetch.asked.clear();
      if (fetch.root === undefined) this.#h.send(fetch.peer, this.#h.encodeBlobRequest([fetch.rootId]));
      else this.#ask(fetch);
      fetch.lastActivity = this.#ctx.env.now();
      this.#watch(fetch);
    });
  }

  #abandon(fetch: Fetch): void {
    if (this.#fetch === fetch) this.#fetch = undefined;
    this.#nextFetch();
  }

  async #finishFetch(fetch: Fetch): Promise<void> {
    if (this.#halted) return;
    const root = fetch.root!;
    // Check every chunk before anything changes: a bad one abandons the fetch with no effect.
    const items: [string, string, ItemRecord][] = [];
    for (const id of root.chunks) {
      const decoded = decodeChunk(fetch.chunks.get(id)!, (c, i, r) => items.push([c, i, r]));
      if (decoded.isErr()) return this.#abandon(fetch);
    }
    const held: HeldSnapshot = { blobId: fetch.rootId, tips: root.tips };
    this.#fetch = undefined;
    // Adopt only once a restart would find it again: we are about to acknowledge what it covers.
    if (await this.#saveAdopted([...this.#adopted, held])) {
      this.#adopted.push(held);
      for (const [collection, item, record] of items) this.#h.mergeItem(collection, item, record);
      this.#h.adopt(held);
    }
    this.#nextFetch();
  }
}
