/**
 * Catch-up from a snapshot, for one space: a peer that needs facts another pruned gets a
 * `snapshot-offer`, fetches the root and chunks (each checked against its id, the root's signature
 * against its creator), and hands the registers and chain tips to the space to adopt; the facts
 * after it follow as usual. One fetch at a time; further offers wait in a queue. Also serves the
 * blobs of the snapshots this peer holds to remotes fetching them.
 */
import type { Env, TimerScope } from '../env.js';
import type { SignatureVerifier } from '../facts/sign.js';
import { compareHlc } from '../facts/hlc.js';
import type { Hlc, PeerId, Vector } from '../facts/types.js';
import {
  BLOB_RESEND_AFTER_MS,
  MAX_BLOB_BYTES_PER_MINUTE,
  MAX_OFFER_ATTESTATIONS,
  MAX_PENDING_OFFERS_PER_LINK,
  MAX_RETRANSMIT_BACKOFF_MS,
  MAX_VECTOR_PAGE_ORIGINS,
  RETRANSMIT_AFTER_MS,
  SNAPSHOT_FETCH_ATTEMPTS,
  SNAPSHOT_FETCH_WINDOW,
} from '../limits.js';
import type { ItemRecord } from '../state/lww.js';
import { encodeMessage } from '../sync/codec.js';
import type { Replica } from '../space/replica.js';
import type { SnapshotOffer } from '../sync/messages.js';
import { TokenBuckets } from '../sync/budget.js';
import { coversMore, type HeldSnapshot, type SnapshotCatalog } from './catalog.js';
import { verifyAttestation, type Attestation } from './attestation.js';
import {
  blobIdOf,
  chainTipsOf,
  decodeChunk,
  decodeRoot,
  decodeTipChunk,
  verifyTips,
  type SnapshotRoot,
  type SnapshotTip,
} from './format.js';

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
   * adopt its chain tips. `from` served it, and named `history` (the history chains of its facts).
   */
  readonly adopt: (
    snapshot: HeldSnapshot,
    items: readonly [string, string, ItemRecord][],
    from: PeerId,
    history: readonly string[],
  ) => void;
  /** A fetch from `peer` was abandoned: ask it what it has now (it offers its current snapshots). */
  readonly rehello: (peer: PeerId) => void;
  /** Distinct attesters a snapshot needs before we adopt it (or offer it). */
  readonly quorum: number;
  /** A snapshot attested by `attestations` turned out wrong (served by `peer`). */
  readonly badSnapshot: (peer: PeerId, root: string, attestations: readonly Attestation[], problem: string) => void;
  /** `peer` sent something that is its fault (a blob that is not what its id says). */
  readonly complain: (peer: PeerId, code: string, message: string) => void;
  /** `peer` offered a snapshot of what we already hold: tell it what we hold of these origins. */
  readonly tell: (peer: PeerId, origins: Iterable<PeerId>) => void;
  readonly stopped: () => boolean;
}

interface Fetch {
  readonly peer: PeerId;
  readonly rootId: string;
  /** History chains of the facts it covers (from the offer). */
  readonly history: readonly string[];
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
  /** A fetched snapshot on its way into the adopted list (its blobs stay pinned meanwhile). */
  #adopting: Fetch | undefined;
  /** Offers waiting for the fetch in progress to end, by blob id (a few per link at most). */
  readonly #offers = new Map<string, { peer: PeerId; history: readonly string[] }>();
  /** Blob bytes each link may make us send per minute. */
  readonly #blobBudget: TokenBuckets;
  /** Offers' attestations are checked one offer at a time. */
  #checking: Promise<unknown> = Promise.resolve();
  /** Per link, blobs sent and not yet acknowledged (by a later request without them). */
  readonly #outstanding = new Map<PeerId, Map<string, { at: number; resends: number }>>();

  constructor(deps: FetchDeps) {
    this.#deps = deps;
    this.#blobBudget = new TokenBuckets(MAX_BLOB_BYTES_PER_MINUTE, 60_000, deps.monotonic);
  }

  /**
   * Blobs garbage collection must keep: those of the fetch in progress and of a fetched snapshot
   * being adopted (until the adopted list names it), root, tip chunks and chunks.
   */
  pinned(): string[] {
    const pinned: string[] = [];
    for (const fetch of [this.#fetch, this.#adopting]) {
      if (fetch === undefined) continue;
      pinned.push(fetch.rootId, ...(fetch.root?.tipChunks ?? []), ...(fetch.root?.chunks ?? []));
    }
    return pinned;
  }

  /** Stop at once (the process died): forget the fetch and the offers. */
  halt(): void {
    this.#fetch = undefined;
    this.#adopting = undefined;
    this.#offers.clear();
  }

  /**
   * A remote asks for blobs: send the snapshot blobs we have, and say which we no longer hold
   * (`gone`: a newer snapshot replaced them), so the remote fetches a newer one instead of waiting.
   */
  serve(peer: PeerId, ids: readonly string[]): void {
    const { catalog, replica } = this.#deps;
    const wanted = this.#acknowledge(peer, ids);
    void (async () => {
      const missing: string[] = [];
      for (const id of wanted) {
        if (this.#deps.stopped()) return;
        let bytes = await catalog.store.getSnapshotBlob(id);
        // History blobs are served too (a peer that adopted a snapshot fetches them for history()).
        if (bytes.isOk() && bytes.value === undefined) bytes = await catalog.store.getHistoryBytes(id);
        if (bytes.isErr()) continue;
        if (bytes.value === undefined) {
          missing.push(id);
          continue;
        }
        // Sending is bounded per link, whatever it asks: over budget, it hears when to ask again.
        if (!this.#blobBudget.take(peer, bytes.value.length)) {
          const retryAfter = this.#blobBudget.waitFor(peer, bytes.value.length);
          this.#deps.send(
            peer,
            encodeMessage({
              type: 'error',
              space: replica.spaceId,
              code: 'busy',
              message: 'blob budget spent',
              retryAfter,
            }),
          );
          this.#outstanding.get(peer)?.delete(id);
          return;
        }
        this.#deps.send(peer, encodeMessage({ type: 'blob', space: replica.spaceId, id, bytes: bytes.value }));
      }
      if (missing.length > 0)
        this.#deps.send(peer, encodeMessage({ type: 'gone', space: replica.spaceId, ids: missing }));
    })();
  }

  /**
   * A blob request from `peer`: what it no longer asks for arrived (acknowledged); what it asks for
   * again is sent again only once a resend interval passed, doubling with each resend of that blob
   * (a lost blob is resent; a request replayed in a loop is not) and starting over after a pause
   * four intervals long. Returns the ids to send now.
   */
  #acknowledge(peer: PeerId, ids: readonly string[]): string[] {
    let outstanding = this.#outstanding.get(peer);
    if (outstanding === undefined)
      this.#outstanding.set(peer, (outstanding = new Map<string, { at: number; resends: number }>()));
    const asked = new Set(ids);
    for (const id of outstanding.keys()) if (!asked.has(id)) outstanding.delete(id);
    const now = this.#deps.monotonic();
    const send: string[] = [];
    for (const id of asked) {
      const sent = outstanding.get(id);
      if (sent === undefined) {
        outstanding.set(id, { at: now, resends: 0 });
        send.push(id);
      } else {
        const interval = Math.min(BLOB_RESEND_AFTER_MS * 2 ** sent.resends, MAX_RETRANSMIT_BACKOFF_MS);
        const since = now - sent.at;
        if (since < interval) continue;
        // Asked again after a long pause: a new request (a history blob asked for again, a fetch
        // that started over), not a request replayed in a loop; the interval starts over too.
        sent.resends = since >= 4 * interval ? 0 : sent.resends + 1;
        sent.at = now;
        send.push(id);
      }
    }
    return send;
  }

  /** `peer` no longer holds these blobs: a fetch of them from it starts over on what it holds now. */
  gone(peer: PeerId, ids: readonly string[]): void {
    const fetch = this.#fetch;
    if (fetch === undefined || fetch.peer !== peer || !ids.some((id) => fetch.wanted.has(id))) return;
    this.#abandon(fetch, true);
  }

  /** Offer `peer` (which holds `sent`) the snapshots we hold that cover more than that; false if none. */
  offerTo(peer: PeerId, sent: Vector): boolean {
    const { catalog, replica } = this.#deps;
    let offered = false;
    for (const held of catalog.offerable()) {
      // Only what we could adopt ourselves: enough attestations, never a root someone lied about.
      if (catalog.isBad(held.blobId) || catalog.attestations.count(held.blobId) < this.#deps.quorum) continue;
      // The offer names what it covers beyond what the remote holds (one page at most): enough to
      // tell it is useful, whatever the size of the space.
      const ahead: Vector = new Map();
      for (const [origin, tip] of held.tips) {
        if (tip.counter > (sent.get(origin) ?? 0) && ahead.size < MAX_VECTOR_PAGE_ORIGINS)
          ahead.set(origin, tip.counter);
      }
      if (ahead.size === 0) continue;
      const vector = replica.origins.toWire(ahead);
      this.#deps.send(
        peer,
        encodeMessage({
          type: 'snapshot-offer',
          space: replica.spaceId,
          blobId: held.blobId,
          vector,
          attestations: catalog.attestations.list(held.blobId, MAX_OFFER_ATTESTATIONS),
          history: catalog.offeredHistory(),
        }),
      );
      offered = true;
    }
    return offered;
  }

  /**
   * A remote offers a snapshot: fetch it if it covers facts we lack and `snapshotQuorum` distinct
   * peers attest it (checked before anything is fetched).
   */
  offerReceived(peer: PeerId, offer: SnapshotOffer): void {
    const { replica, catalog } = this.#deps;
    const known = replica.origins.resolve(offer.vector);
    // Origins we have never heard of make any snapshot useful.
    if (known.size < offer.vector.size || coversMore(known, (origin) => replica.counter(origin))) {
      if (catalog.isBad(offer.blobId)) return;
      this.#checking = this.#checking.then(async () => {
        let valid = 0;
        for (const attestation of offer.attestations) {
          if (catalog.attestations.has(offer.blobId, attestation.attester)) valid++;
          else if (await verifyAttestation(replica.spaceId, offer.blobId, attestation, this.#deps.verifier)) {
            catalog.attestations.add(offer.blobId, attestation);
            valid++;
          }
        }
        // Too few attestations: not adoptable (yet). The remote offers it again later.
        if (valid >= this.#deps.quorum) this.#offered(peer, offer.blobId, offer.history);
      });
    } else {
      // We hold all it covers: the remote thinks otherwise (an ack of ours was lost). Say so, or it
      // would keep offering.
      this.#deps.tell(peer, known.keys());
    }
  }

  #offered(peer: PeerId, blobId: string, history: readonly string[]): void {
    if (this.#fetch?.rootId === blobId || this.#offers.has(blobId)) return;
    if (this.#deps.catalog.holds(blobId)) return;
    // A few offers per link wait at most: a flood of offers costs the flooder, not us.
    let fromPeer = 0;
    for (const from of this.#offers.values()) if (from.peer === peer) fromPeer++;
    if (fromPeer >= MAX_PENDING_OFFERS_PER_LINK) return;
    this.#offers.set(blobId, { peer, history });
    this.#next();
  }

  /** A blob arrived. */
  received(peer: PeerId, id: string, bytes: Uint8Array): void {
    const fetch = this.#fetch;
    if (fetch === undefined || fetch.peer !== peer || !fetch.wanted.has(id)) return;
    // Verify before storing: a blob that is not what we asked for never reaches the disk.
    if (blobIdOf(bytes) !== id) {
      this.#deps.complain(peer, 'bad-hash', `blob ${id.slice(0, 16)}… is not what its id says`);
      return;
    }
    void this.#deps.catalog.store.putSnapshotBlob(bytes).map(() => {
      if (this.#fetch !== fetch) return;
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
    for (const [blobId, from] of this.#offers) if (from.peer === peer) this.#offers.delete(blobId);
    this.#outstanding.delete(peer);
    this.#blobBudget.forget(peer);
    this.#next();
  }

  #request(peer: PeerId, ids: readonly string[]): void {
    this.#deps.send(peer, encodeMessage({ type: 'blob-request', space: this.#deps.replica.spaceId, ids }));
  }

  #next(): void {
    if (this.#fetch !== undefined) return;
    const next = this.#offers.entries().next();
    if (next.done === true) return;
    const [blobId, { peer, history }] = next.value;
    this.#offers.delete(blobId);
    const offer = { peer, blobId, history };
    const fetch: Fetch = {
      peer: offer.peer,
      rootId: offer.blobId,
      history: offer.history,
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
    fetch.root = root.value;
    for (const id of [...root.value.tipChunks, ...root.value.chunks]) fetch.wanted.add(id);
    if (fetch.wanted.size === 0) void this.#finish(fetch);
    else this.#ask(fetch);
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

  /** The fetched snapshot does not check out although attested: its attesters lied. */
  #reject(fetch: Fetch, problem: string): void {
    const catalog = this.#deps.catalog;
    catalog.markBad(fetch.rootId);
    this.#deps.badSnapshot(fetch.peer, fetch.rootId, catalog.attestations.list(fetch.rootId), problem);
    this.#abandon(fetch, true);
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
    const { replica, verifier } = this.#deps;
    // Check everything before anything changes: a bad snapshot is abandoned with no effect, and the
    // peers that attested it are recorded as liars.
    const tips: SnapshotTip[] = [];
    for (const id of root.tipChunks) {
      const decoded = decodeTipChunk(fetch.chunks.get(id)!);
      if (decoded.isErr()) return this.#reject(fetch, `tip chunk ${id.slice(0, 16)}…: ${decoded.error.message}`);
      tips.push(...decoded.value);
    }
    const tipProblem = await verifyTips(replica.spaceId, tips, verifier);
    if (tipProblem !== undefined) return this.#reject(fetch, tipProblem);
    const cut = chainTipsOf(tips);
    const items: [string, string, ItemRecord][] = [];
    let stampProblem: string | undefined;
    const tipHlc = new Map(tips.map((t) => [t.fact.origin, t.fact.hlc]));
    for (const id of root.chunks) {
      const decoded = decodeChunk(fetch.chunks.get(id)!, (c, i, r) => {
        stampProblem ??= implausibleStamp(r, cut, tipHlc);
        items.push([c, i, r]);
      });
      if (decoded.isErr()) return this.#reject(fetch, `chunk ${id.slice(0, 16)}…: ${decoded.error.message}`);
    }
    if (stampProblem !== undefined) return this.#reject(fetch, stampProblem);
    const held: HeldSnapshot = { blobId: fetch.rootId, tips: cut };
    this.#fetch = undefined;
    this.#adopting = fetch;
    // Adopt only once a restart would find it again: we are about to acknowledge what it covers.
    const catalog = this.#deps.catalog;
    try {
      if ((await catalog.addHistoryHeads(fetch.history)) && (await catalog.setAdopted([...catalog.adopted, held]))) {
        await catalog.saveAttestations();
        this.#deps.adopt(held, items, fetch.peer, fetch.history);
      }
    } finally {
      if (this.#adopting === fetch) this.#adopting = undefined;
    }
    this.#next();
  }
}

/**
 * Why a register of an adopted snapshot cannot come from the facts its cut covers, or undefined:
 * every stamp names an origin of the cut, a counter up to that origin's tip and a clock reading no
 * later than the tip's (an origin's readings only grow). A snapshot cannot push registers stamped in
 * another origin's name beyond what that origin signed.
 */
function implausibleStamp(
  record: ItemRecord,
  cut: ReadonlyMap<PeerId, { readonly counter: number }>,
  tipHlc: ReadonlyMap<PeerId, Hlc>,
): string | undefined {
  const stamps = [...record.fields.values()].map((r) => r.stamp);
  if (record.exists !== undefined) stamps.push(record.exists.stamp);
  if (record.reset !== undefined) stamps.push(record.reset);
  for (const stamp of stamps) {
    const tip = cut.get(stamp.origin);
    const hlc = tipHlc.get(stamp.origin);
    if (tip === undefined || hlc === undefined) return `a register names ${stamp.origin}, which the cut does not cover`;
    if (stamp.counter > tip.counter || compareHlc(stamp, hlc) > 0) {
      return `a register of ${stamp.origin} is later than the fact its origin signed last`;
    }
  }
  return undefined;
}
