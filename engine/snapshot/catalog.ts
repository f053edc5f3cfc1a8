/**
 * The snapshots one space holds: its latest own snapshot (carried by an entry of its log), the
 * snapshots it adopted from other peers while catching up (remembered in metadata until the next own
 * snapshot folds them in), the attested snapshots a newer own one replaced before it was attested
 * itself (see `#superseded`), and the latest history point. Also loads them into the live state on
 * open, and removes blobs nothing refers to any more.
 */
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from 'neverthrow';
import { corrupt, type CorruptError, type StorageError } from '../errors.js';
import type { ChainTip } from '../facts/run.js';
import type { PeerId, Vector } from '../facts/types.js';
import type { SequenceId } from '../log/event-log.js';
import type { FactEntry } from '../log/fact-entry.js';
import type { ItemRecord } from '../state/lww.js';
import { MAX_HISTORY_HEADS } from '../limits.js';
import type { Storage } from '../storage/storage.js';
import { AttestationBook } from './attestation.js';
import { chainTipsOf, decodeChunk, decodeRoot, decodeTipChunk, type SnapshotRoot, type SnapshotTip } from './format.js';

/** A root with the chain tips of its cut. */
type HeldRoot = SnapshotRoot & { readonly tips: ReadonlyMap<PeerId, ChainTip> };
import type { SnapshotStore } from './store.js';

/** A snapshot this peer holds (own or adopted). */
export interface HeldSnapshot {
  readonly blobId: string;
  /** Per origin, the last fact it covers (its cut). */
  readonly tips: ReadonlyMap<PeerId, ChainTip>;
  /** Entry carrying it in our log (own snapshots only). */
  readonly seq?: SequenceId | undefined;
}

/** Where the history blobs end: the first entry they do not hold, and the newest blob's id. */
export interface HistoryPoint {
  readonly seq: SequenceId;
  readonly blobId: string;
}

/** Receives the registers of a snapshot being loaded, item by item. */
export type MergeItem = (collection: string, item: string, record: ItemRecord) => void;

/** The counters of chain tips. */
export const countersOf = (tips: ReadonlyMap<PeerId, ChainTip>): Vector => {
  const out: Vector = new Map();
  for (const [origin, tip] of tips) out.set(origin, tip.counter);
  return out;
};

/** Whether a snapshot covering `counters` holds facts beyond what `held` says a peer holds. */
export function coversMore(counters: ReadonlyMap<PeerId, number>, held: (origin: PeerId) => number): boolean {
  for (const [origin, counter] of counters) if (counter > held(origin)) return true;
  return false;
}

const adoptedKey = (space: string): string => `space/${space}/adopted`;
const attestationsKey = (space: string): string => `space/${space}/attestations`;
const derivedKey = (space: string): string => `space/${space}/derived`;
const historyHeadsKey = (space: string): string => `space/${space}/history-heads`;
const supersededKey = (space: string): string => `space/${space}/superseded`;
const BLOB_ID = /^[0-9a-f]{64}$/;

/** The list of adopted snapshots as stored (a JSON array of blob ids). */
export function decodeAdopted(bytes: Uint8Array | undefined): Result<string[], CorruptError> {
  if (bytes === undefined) return ok([]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    // The edge: JSON.parse throws on damaged bytes.
    return err(corrupt('the stored list of adopted snapshots is not JSON'));
  }
  if (!Array.isArray(parsed) || !parsed.every((id) => typeof id === 'string' && BLOB_ID.test(id))) {
    return err(corrupt('the stored list of adopted snapshots is not a list of blob ids'));
  }
  return ok(parsed as string[]);
}

export class SnapshotCatalog {
  readonly #spaceId: string;
  readonly #storage: Storage;
  readonly #store: SnapshotStore;
  /** Distinct attesters a snapshot needs before it is offered (`snapshotQuorum`). */
  readonly #quorum: number;
  #own: HeldSnapshot | undefined;
  /**
   * The own snapshot before the latest, kept until we prune behind the latest: while its log tail is
   * still here, we can build roots for cuts between the two (to attest other peers' snapshots).
   */
  #previous: HeldSnapshot | undefined;
  #adopted: HeldSnapshot[] = [];
  /**
   * Attested snapshots a newer own snapshot replaced (our own, or adopted ones it folded in) while
   * that one has no quorum yet, persisted. What they cover may be gone from our log (we prune only
   * behind an attested snapshot; adopted facts never were in it): they are what a peer lacking it
   * can adopt. Once an own snapshot is attested it covers all of it, and they go.
   */
  #superseded: HeldSnapshot[] = [];
  #history: HistoryPoint | undefined;
  /** Checked attestations of held snapshots (persisted). */
  #attestations = new AttestationBook();
  /** Roots we built differently from what someone attested: never offered, never adopted. */
  readonly #bad = new Set<string>();
  /** Own snapshots built on registers of adopted snapshots (taken on others' word), persisted. */
  #derived = new Set<string>();
  /**
   * Heads of other peers' history chains, holding the facts of snapshots we adopted (they never
   * went through our log), persisted: `history()` walks them too, fetching blobs on demand.
   */
  #historyHeads: string[] = [];
  /** Of those, the heads whose blob we hold checked (found again by history.ts after a restart). */
  readonly #verifiedHeads = new Set<string>();

  constructor(spaceId: string, storage: Storage, store: SnapshotStore, quorum: number) {
    this.#spaceId = spaceId;
    this.#storage = storage;
    this.#store = store;
    this.#quorum = quorum;
  }

  get store(): SnapshotStore {
    return this.#store;
  }

  /** The latest own snapshot. */
  get own(): HeldSnapshot | undefined {
    return this.#own;
  }

  /** Snapshots adopted from others and not yet folded into an own one. */
  get adopted(): readonly HeldSnapshot[] {
    return this.#adopted;
  }

  get historyPoint(): HistoryPoint | undefined {
    return this.#history;
  }

  get previous(): HeldSnapshot | undefined {
    return this.#previous;
  }

  get attestations(): AttestationBook {
    return this.#attestations;
  }

  /** `root` was attested by someone for a cut where we build another root: a lie (or theirs). */
  markBad(root: string): void {
    this.#bad.add(root);
  }

  isBad(root: string): boolean {
    return this.#bad.has(root);
  }

  get historyHeads(): readonly string[] {
    return this.#historyHeads;
  }

  /** History heads to pass on with an offer: ours, then those of what we adopted (checked ones first). */
  offeredHistory(): string[] {
    const own = this.#history?.blobId;
    return [...(own === undefined ? [] : [own]), ...this.#verifiedFirst(this.#historyHeads)].slice(
      0,
      MAX_HISTORY_HEADS,
    );
  }

  /**
   * The head blob of adopted chain `head` is here and checked out (history.ts fetched and verified
   * it, or found it stored): from now on no unchecked head can push it out.
   */
  headVerified(head: string): void {
    if (this.#historyHeads.includes(head)) this.#verifiedHeads.add(head);
  }

  /** `heads`, those whose head blob we hold checked first (each part in its order). */
  #verifiedFirst(heads: readonly string[]): string[] {
    const verified = heads.filter((h) => this.#verifiedHeads.has(h));
    return verified.length === 0 ? [...heads] : [...verified, ...heads.filter((h) => !this.#verifiedHeads.has(h))];
  }

  /**
   * Remember the history chains of a snapshot we adopt (persisted before it counts). The heads of an
   * offer are unsigned, so a member relaying one can fill it with heads that exist nowhere: the
   * newest heads come first, but never before a head we hold checked, so junk can only displace
   * other unchecked heads, never a real chain we hold.
   */
  async addHistoryHeads(heads: readonly string[]): Promise<boolean> {
    const next = this.#verifiedFirst([...new Set([...heads, ...this.#historyHeads])]).slice(0, MAX_HISTORY_HEADS);
    const saved = await this.#storage.setMeta(
      historyHeadsKey(this.#spaceId),
      new TextEncoder().encode(JSON.stringify(next)),
    );
    if (saved.isErr()) return false;
    this.#historyHeads = next;
    for (const head of this.#verifiedHeads) if (!next.includes(head)) this.#verifiedHeads.delete(head);
    return true;
  }

  /** Whether our own snapshot `root` was built on adopted registers. */
  derived(root: string): boolean {
    return this.#derived.has(root);
  }

  /**
   * Snapshots we can offer to a peer that needs facts we no longer have (those without the quorum
   * yet are not offered; see fetch.ts).
   */
  offerable(): HeldSnapshot[] {
    return [...(this.#own === undefined ? [] : [this.#own]), ...this.#superseded, ...this.#adopted];
  }

  /** Whether `blobId` is a snapshot we hold. */
  holds(blobId: string): boolean {
    return this.offerable().some((h) => h.blobId === blobId);
  }

  #attested(snapshot: HeldSnapshot): boolean {
    return this.#attestations.count(snapshot.blobId) >= this.#quorum;
  }

  /**
   * A new own snapshot that folds in `folded` (adopted ones) is about to replace our latest: persist,
   * before it is recorded, which attested ones must stay offered until it is attested itself. A
   * crash in between leaves the old one both own and superseded, which loading sorts out. When
   * storage fails nothing changed, and the new snapshot must not be recorded.
   */
  supersede(folded: readonly HeldSnapshot[]): ResultAsync<void, StorageError> {
    const next: HeldSnapshot[] = [];
    for (const held of [...(this.#own === undefined ? [] : [this.#own]), ...this.#superseded, ...folded]) {
      if (this.#attested(held) && !next.some((h) => h.blobId === held.blobId)) next.push(held);
    }
    return this.#setSuperseded(next);
  }

  /**
   * Our latest own snapshot may have reached the quorum: it covers everything the superseded ones
   * do, so they need not be offered (nor their blobs kept) any longer.
   */
  async ownAttested(): Promise<void> {
    if (this.#superseded.length === 0 || this.#own === undefined || !this.#attested(this.#own)) return;
    // Best effort: if this write fails they stay offered a while longer, which is harmless.
    void (await this.#setSuperseded([]));
  }

  /** Persist `list` as the superseded snapshots; then (and only then) it becomes the list. */
  #setSuperseded(list: readonly HeldSnapshot[]): ResultAsync<void, StorageError> {
    const same =
      list.length === this.#superseded.length && list.every((h, i) => h.blobId === this.#superseded[i]!.blobId);
    if (same) return okAsync(undefined);
    const bytes = new TextEncoder().encode(JSON.stringify(list.map((h) => h.blobId)));
    return this.#storage.setMeta(supersededKey(this.#spaceId), bytes).map(() => {
      this.#superseded = [...list];
    });
  }

  /**
   * Load the latest own snapshot (the entry `first` of the log, when it carries one) and the adopted
   * ones into the live state through `merge`. Returns every snapshot loaded.
   */
  load(
    first: FactEntry | undefined,
    firstSeq: SequenceId,
    historyPoint: HistoryPoint | undefined,
    merge: MergeItem,
  ): ResultAsync<HeldSnapshot[], StorageError | CorruptError> {
    this.#history = historyPoint;
    const ownId = first?.snapshot;
    const own: ResultAsync<HeldSnapshot | undefined, StorageError | CorruptError> =
      ownId === undefined
        ? okAsync(undefined)
        : this.#loadInto(ownId, merge).map((root) => ({ blobId: ownId, tips: root.tips, seq: firstSeq }));
    return own.andThen((snapshot) => {
      this.#own = snapshot;
      return this.#storage
        .getMeta(attestationsKey(this.#spaceId))
        .andThen((bytes) => AttestationBook.decode(bytes))
        .andThen((book) => {
          this.#attestations = book;
          return this.#storage.getMeta(derivedKey(this.#spaceId)).andThen(decodeAdopted);
        })
        .andThen((derived) => {
          this.#derived = new Set(derived);
          return this.#storage.getMeta(historyHeadsKey(this.#spaceId)).andThen(decodeAdopted);
        })
        .andThen((heads) => {
          this.#historyHeads = heads;
          return this.#storage.getMeta(adoptedKey(this.#spaceId));
        })
        .andThen(decodeAdopted)
        .andThen((ids) =>
          ResultAsync.combine(
            ids.map((id) => this.#loadInto(id, merge).map((root): HeldSnapshot => ({ blobId: id, tips: root.tips }))),
          ),
        )
        .andThen((adopted) => {
          this.#adopted = adopted;
          return this.#storage.getMeta(supersededKey(this.#spaceId)).andThen(decodeAdopted);
        })
        .andThen((ids) => {
          // Their registers are in our own snapshot already: only their cuts are needed, to offer them.
          // One still recorded as own or adopted (a crash right before it was replaced) is that.
          const held = new Set([snapshot, ...this.#adopted].map((h) => h?.blobId));
          const wanted = snapshot !== undefined && this.#attested(snapshot) ? [] : ids.filter((id) => !held.has(id));
          return ResultAsync.combine(
            wanted.map((id) =>
              this.readRoot(id)
                .andThen((root) => this.readTips(root))
                .map((tips): HeldSnapshot => ({ blobId: id, tips: chainTipsOf(tips) })),
            ),
          );
        })
        .map((superseded) => {
          this.#superseded = superseded;
          return snapshot === undefined ? [...this.#adopted] : [snapshot, ...this.#adopted];
        });
    });
  }

  /** A snapshot root from the store, decoded. */
  readRoot(rootId: string): ResultAsync<SnapshotRoot, StorageError | CorruptError> {
    return this.#store.getSnapshotBlob(rootId).andThen((bytes) => {
      if (bytes === undefined) return errAsync(corrupt(`snapshot ${rootId} is missing`));
      const root = decodeRoot(bytes);
      return root.isOk() ? okAsync(root.value) : errAsync(corrupt(`snapshot ${rootId}: ${root.error.message}`));
    });
  }

  /** The tips (signed tip facts) of a snapshot whose blobs we hold. */
  readTips(root: SnapshotRoot): ResultAsync<SnapshotTip[], StorageError | CorruptError> {
    let chain: ResultAsync<SnapshotTip[], StorageError | CorruptError> = okAsync([]);
    for (const id of root.tipChunks) {
      chain = chain.andThen((tips) =>
        this.#store.getSnapshotBlob(id).andThen((bytes) => {
          if (bytes === undefined) return errAsync(corrupt(`snapshot tip chunk ${id} is missing`));
          const decoded = decodeTipChunk(bytes);
          return decoded.isOk() ? okAsync([...tips, ...decoded.value]) : errAsync(decoded.error);
        }),
      );
    }
    return chain;
  }

  #loadInto(rootId: string, merge: MergeItem): ResultAsync<HeldRoot, StorageError | CorruptError> {
    return this.readRoot(rootId).andThen((root) => {
      let chain: ResultAsync<HeldRoot, StorageError | CorruptError> = this.readTips(root).map((tips) => ({
        ...root,
        tips: chainTipsOf(tips),
      }));
      for (const id of root.chunks) {
        chain = chain.andThen((held) =>
          this.#store.getSnapshotBlob(id).andThen((bytes) => {
            if (bytes === undefined) return errAsync(corrupt(`snapshot chunk ${id} is missing`));
            const merged = decodeChunk(bytes, merge);
            return merged.isOk() ? okAsync(held) : errAsync(corrupt(`snapshot chunk ${id}: ${merged.error.message}`));
          }),
        );
      }
      return chain;
    });
  }

  /**
   * A new own snapshot is durable (its entry records it); `history` is the new history point, if any;
   * `derived`: it folded in adopted registers (or was built on a snapshot that did).
   */
  async ownMade(snapshot: HeldSnapshot, history: HistoryPoint | undefined, derived: boolean): Promise<void> {
    this.#previous = this.#own;
    this.#own = snapshot;
    if (history !== undefined) this.#history = history;
    if (derived || this.#derived.size > 0) {
      const keep = new Set([...this.#derived].filter((r) => r === this.#previous?.blobId));
      if (derived) keep.add(snapshot.blobId);
      this.#derived = keep;
      // A derived flag lost in a crash only makes us quicker to blame: best effort.
      void (await this.#storage.setMeta(
        derivedKey(this.#spaceId),
        new TextEncoder().encode(JSON.stringify([...keep])),
      ));
    }
  }

  /** The log before our latest snapshot is gone: the one before it can no longer build anything. */
  prunedToOwn(): void {
    this.#previous = undefined;
  }

  /** Persist the attestations of what we hold (and forget the others). False when storage failed. */
  async saveAttestations(): Promise<boolean> {
    const keep = new Set(this.offerable().map((h) => h.blobId));
    this.#attestations.retain(keep);
    const saved = await this.#storage.setMeta(attestationsKey(this.#spaceId), this.#attestations.encode());
    return saved.isOk();
  }

  /**
   * Persist the adopted list; then (and only then) it becomes the list. False when storage failed
   * (nothing changed).
   */
  async setAdopted(adopted: readonly HeldSnapshot[]): Promise<boolean> {
    const ids = adopted.map((a) => a.blobId);
    const bytes = new TextEncoder().encode(JSON.stringify(ids));
    const saved = await this.#storage.setMeta(adoptedKey(this.#spaceId), bytes);
    if (saved.isErr()) return false;
    this.#adopted = [...adopted];
    return true;
  }

  /**
   * Remove snapshot blobs nothing refers to any more: neither a held snapshot nor `pinned` (blobs of
   * a fetch in progress or being adopted). What to keep is read again for every page of the sweep,
   * so a fetch that moves on meanwhile keeps its blobs. Failures only leave garbage behind; the next
   * sweep retries.
   */
  async collect(pinned: () => Iterable<string>): Promise<void> {
    const keep = async (): Promise<Set<string> | undefined> => {
      const kept = new Set<string>(pinned());
      const held = [...this.offerable(), ...(this.#previous === undefined ? [] : [this.#previous])];
      for (const snapshot of held) {
        kept.add(snapshot.blobId);
        const root = await this.readRoot(snapshot.blobId);
        if (root.isErr()) return undefined;
        for (const id of [...root.value.tipChunks, ...root.value.chunks]) kept.add(id);
      }
      return kept;
    };
    void (await this.#store.collect(keep));
  }
}
