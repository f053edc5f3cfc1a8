/**
 * Catch-up from a snapshot, for one space: a peer that needs facts another pruned gets a
 * `snapshot-offer`, fetches the root and chunks (each checked against its id, the root's signature
 * against its creator), and hands the registers and chain tips to the space to adopt; the facts
 * after it follow as usual. One fetch at a time; further offers wait in a queue. Also serves the
 * blobs of the snapshots this peer holds to remotes fetching them.
 */
import type { Env, TimerScope } from '../env.js';
import type { SignatureVerifier } from '../facts/sign.js';
import type { PeerId, Vector } from '../facts/types.js';
import { RETRANSMIT_AFTER_MS, SNAPSHOT_FETCH_ATTEMPTS, SNAPSHOT_FETCH_WINDOW } from '../limits.js';
import type { ItemRecord } from '../state/lww.js';
import { encodeMessage } from '../sync/codec.js';
import type { Replica } from '../space/replica.js';
import type { SnapshotOffer } from '../sync/messages.js';
import { countersOf, coversMore, type HeldSnapshot, type SnapshotCatalog } from './catalog.js';
import { decodeChunk, decodeRoot, type SnapshotRoot } from './format.js';

export interface FetchDeps {
  readonly replica: Replica;
  readonly catalog: SnapshotCatalog;
  readonly verifier: SignatureVerifier;
  readonly env: Env;
  /** Intervals are measured on the space's monotonic clock. */
  readonly monotonic: () => number;
  readonly timers: TimerScope;
  readonly send: (peer: PeerId, frame: Uint8Array) => void;
  /**
   * A fetched snapshot checked out and is now in the adopted list (durably): merge its registers and
   * adopt its chain tips.
   */
  readonly adopt: (snapshot: HeldSnapshot, items: readonly [string, string, ItemRecord][]) => void;
  /** A fetch from `peer` was abandoned: ask it what it has now (it offers its current snapshots). */
  readonly rehello: (peer: PeerId) => void;
  /** `peer` offered a snapshot of what we already hold: tell it what we hold of these origins. */
  readonly tell: (peer: PeerId, origins: Iterable<PeerId>) => void;
  readonly stopped: () => boolean;
}

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

export class SnapshotFetcher {
  readonly #deps: FetchDeps;
  #fetch: Fetch | undefined;
  readonly #offers: { peer: PeerId; blobId: string }[] = [];

  constructor(deps: FetchDeps) {
    this.#deps = deps;
  }

  /** Blobs of the fetch in progress, which garbage collection must keep. */
  pinned(): string[] {
    const fetch = this.#fetch;
    return fetch === undefined ? [] : [fetch.rootId, ...(fetch.root?.chunks ?? [])];
  }

  /** Stop at once (the process died): forget the fetch and the offers. */
  halt(): void {
    this.#fetch = undefined;
    this.#offers.length = 0;
  }

  /**
   * A remote asks for blobs: send the snapshot blobs we have, and say which we no longer hold
   * (`gone`: a newer snapshot replaced them), so the remote fetches a newer one instead of waiting.
   */
  serve(peer: PeerId, ids: readonly string[]): void {
    const { catalog, replica } = this.#deps;
    void (async () => {
      const missing: string[] = [];
      for (const id of ids) {
        if (this.#deps.stopped()) return;
        const bytes = await catalog.store.getSnapshotBlob(id);
        if (bytes.isOk() && bytes.value !== undefined) {
          this.#deps.send(peer, encodeMessage({ type: 'blob', space: replica.spaceId, id, bytes: bytes.value }));
        } else if (bytes.isOk()) missing.push(id);
      }
      if (missing.length > 0)
        this.#deps.send(peer, encodeMessage({ type: 'gone', space: replica.spaceId, ids: missing }));
    })();
  }

  /** `peer` no longer holds these blobs: a fetch of them from it starts over on what it holds now. */
  gone(peer: PeerId, ids: readonly string[]): void {
    const fetch = this.#fetch;
    if (fetch === undefined || fetch.peer !== peer || !ids.some((id) => fetch.wanted.has(id))) return;
    this.#abandon(fetch, true);
  }

  /** Offer `peer` (which holds `sent`) the snapshots we hold that cover more than that. */
  offerTo(peer: PeerId, sent: Vector): void {
    const { catalog, replica } = this.#deps;
    for (const held of catalog.offerable()) {
      const counters = countersOf(held.tips);
      if (!coversMore(counters, (origin) => sent.get(origin) ?? 0)) continue;
      const vector = replica.origins.toWire(counters);
      this.#deps.send(
        peer,
        encodeMessage({ type: 'snapshot-offer', space: replica.spaceId, blobId: held.blobId, vector }),
      );
    }
  }

  /** A remote offers a snapshot: fetch it if it covers facts we lack. */
  offerReceived(peer: PeerId, offer: SnapshotOffer): void {
    const replica = this.#deps.replica;
    const known = replica.origins.resolve(offer.vector);
    // Origins we have never heard of make any snapshot useful.
    if (known.size < offer.vector.size || coversMore(known, (origin) => replica.counter(origin))) {
      this.#offered(peer, offer.blobId);
    } else {
      // We hold all it covers: the remote thinks otherwise (an ack of ours was lost). Say so, or it
      // would keep offering.
      this.#deps.tell(peer, known.keys());
    }
  }

  #offered(peer: PeerId, blobId: string): void {
    if (this.#fetch?.rootId === blobId || this.#offers.some((o) => o.blobId === blobId)) return;
    if (this.#deps.catalog.holds(blobId)) return;
    this.#offers.push({ peer, blobId });
    this.#next();
  }

  /** A blob arrived. */
  received(peer: PeerId, id: string, bytes: Uint8Array): void {
    const fetch = this.#fetch;
    if (fetch === undefined || fetch.peer !== peer || !fetch.wanted.has(id)) return;
    void this.#deps.catalog.store.putSnapshotBlob(bytes).map((stored) => {
      // putSnapshotBlob names it by its content: a blob that is not what we asked for is dropped.
      if (stored !== id || this.#fetch !== fetch) return;
      fetch.wanted.delete(id);
      fetch.asked.delete(id);
      fetch.lastActivity = this.#deps.monotonic();
      fetch.attempts = 0;
      if (id === fetch.rootId) return this.#gotRoot(fetch, bytes);
      fetch.chunks.set(id, bytes);
      this.#ask(fetch);
      if (fetch.wanted.size === 0) void this.#finish(fetch);
      return undefined;
    });
  }

  /** The link to `peer` went down: a fetch from it is abandoned (another offer restarts it). */
  peerDown(peer: PeerId): void {
    if (this.#fetch?.peer === peer) this.#fetch = undefined;
    for (let i = this.#offers.length - 1; i >= 0; i--) if (this.#offers[i]!.peer === peer) this.#offers.splice(i, 1);
    this.#next();
  }

  #request(peer: PeerId, ids: readonly string[]): void {
    this.#deps.send(peer, encodeMessage({ type: 'blob-request', space: this.#deps.replica.spaceId, ids }));
  }

  #next(): void {
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
      lastActivity: this.#deps.monotonic(),
    };
    this.#fetch = fetch;
    this.#request(fetch.peer, [fetch.rootId]);
    this.#watch(fetch);
  }

  #gotRoot(fetch: Fetch, bytes: Uint8Array): void {
    const root = decodeRoot(bytes);
    if (root.isErr() || root.value.space !== this.#deps.replica.spaceId) return this.#abandon(fetch);
    void this.#deps.verifier.verify(root.value.creator, root.value.signed, root.value.sig).then((valid) => {
      if (!valid || this.#fetch !== fetch) return this.#abandon(fetch);
      fetch.root = root.value;
      for (const id of root.value.chunks) fetch.wanted.add(id);
      if (fetch.wanted.size === 0) void this.#finish(fetch);
      else this.#ask(fetch);
      return undefined;
    });
  }

  #ask(fetch: Fetch): void {
    // Keep SNAPSHOT_FETCH_WINDOW chunk requests outstanding.
    const fresh: string[] = [];
    for (const id of fetch.wanted) {
      if (fetch.asked.size + fresh.length >= SNAPSHOT_FETCH_WINDOW) break;
      if (!fetch.asked.has(id)) fresh.push(id);
    }
    for (const id of fresh) fetch.asked.add(id);
    if (fresh.length > 0) this.#request(fetch.peer, fresh);
  }

  #watch(fetch: Fetch): void {
    const { timers, monotonic } = this.#deps;
    timers.after(RETRANSMIT_AFTER_MS, () => {
      if (this.#fetch !== fetch) return;
      if (monotonic() - fetch.lastActivity < RETRANSMIT_AFTER_MS) return this.#watch(fetch);
      if (++fetch.attempts > SNAPSHOT_FETCH_ATTEMPTS) return this.#abandon(fetch, true);
      // Lost requests or blobs: ask again for what is outstanding.
      fetch.asked.clear();
      if (fetch.root === undefined) this.#request(fetch.peer, [fetch.rootId]);
      else this.#ask(fetch);
      fetch.lastActivity = monotonic();
      this.#watch(fetch);
    });
  }

  /**
   * Give up on `fetch`; with `retry`, ask its peer again (it answers with offers of what it holds
   * now), so a lost reply or a replaced snapshot never ends the catch-up for good.
   */
  #abandon(fetch: Fetch, retry = false): void {
    if (this.#fetch === fetch) this.#fetch = undefined;
    if (retry) this.#deps.rehello(fetch.peer);
    this.#next();
  }

  async #finish(fetch: Fetch): Promise<void> {
    if (this.#deps.stopped()) return;
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
    const catalog = this.#deps.catalog;
    if (await catalog.setAdopted([...catalog.adopted, held])) this.#deps.adopt(held, items);
    this.#next();
  }
}
