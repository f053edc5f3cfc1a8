/**
 * `space.history()`: every fact about one item, oldest first — from the live log, our own history
 * blobs (the audit trail survives truncation), and the history chains of the peers whose snapshots
 * we adopted (the facts those snapshots cover never went through our log). History blobs are
 * content-addressed: what we lack we fetch from linked peers on demand, and keep once it checks out
 * (its id is the hash of its bytes; each entry hashes to its hash; signed entries verify against
 * their origin; consecutive entries of an origin chain by `prev`).
 */
import { err, ok, ResultAsync, type Result } from 'neverthrow';
import type { Timer, TimerScope } from '../env.js';
import { asStorageError, storageError, type StorageError } from '../errors.js';
import { equalBytes } from '../facts/bytes.js';
import { computeHash } from '../facts/codec.js';
import type { SignatureVerifier } from '../facts/sign.js';
import type { ChainTip } from '../facts/run.js';
import type { Fact, PeerId } from '../facts/types.js';
import {
  HISTORY_COPY_RETRY_MS,
  HISTORY_FETCH_ROUNDS,
  MAX_HISTORY_FETCH_WAIT_MS,
  MAX_HISTORY_COPY_RETRY_MS,
  RETRANSMIT_AFTER_MS,
} from '../limits.js';
import { factOf, type FactEntry } from '../log/fact-entry.js';
import type { Replica } from '../space/replica.js';
import { encodeMessage } from '../sync/codec.js';
import type { SnapshotCatalog } from './catalog.js';
import { blobIdOf } from './format.js';
import { decodeHistory, historyPrev, type HistoryBlob } from './store.js';

export interface HistoryDeps {
  readonly replica: Replica;
  readonly catalog: SnapshotCatalog;
  readonly verifier: SignatureVerifier;
  readonly timers: TimerScope;
  /** Remotes we sync with now: where missing history blobs are asked for. */
  readonly syncing: () => PeerId[];
  readonly send: (peer: PeerId, frame: Uint8Array) => void;
  readonly complain: (peer: PeerId, code: string, message: string) => void;
  readonly stopped: () => boolean;
}

/**
 * A history blob fetched from the syncing peers, or why none came: `gone` when at least one peer
 * was asked and every peer asked said it does not hold it (asking the same peers again is useless
 * until one comes up or we adopt something new), else `unanswered` (a peer stayed silent, or there
 * was nobody to ask).
 */
type Fetched = { readonly blob: HistoryBlob } | { readonly blob: undefined; readonly missing: 'gone' | 'unanswered' };

interface Waiting {
  readonly deliver: (fetched: Fetched) => void;
  peer: PeerId | undefined;
  /** Ask the next peer (the one asked does not have it, or did not answer in time). */
  next: () => void;
}

export class HistorySource {
  readonly #deps: HistoryDeps;
  /** Adopted chains we hold whole (walked to their first blob). */
  readonly #whole = new Set<string>();
  /** Of the adopted chains, the peer that offered the snapshot naming each: asked first for it. */
  readonly #namedBy = new Map<string, PeerId>();
  #copying = false;
  #copyRetry: Timer | undefined;
  #copyBackoff = HISTORY_COPY_RETRY_MS;
  /**
   * The last copy lacked blobs every syncing peer said it does not hold: no timer asks again (the
   * same peers would say the same, forever, and the network would never go quiet); the next peer
   * to come up, or the next adoption, does.
   */
  #awaitingPeer = false;
  /** A peer came up while a copy ran: that copy may not have asked it. */
  #cameUpWhileCopying = false;
  /** History blobs asked of peers, by id. */
  readonly #waiting = new Map<string, Waiting>();
  readonly #fetching = new Map<string, Promise<Fetched>>();

  constructor(deps: HistoryDeps) {
    this.#deps = deps;
  }

  /** A blob arrived from `peer`; true when it was a history blob we asked for. */
  received(peer: PeerId, id: string, bytes: Uint8Array): boolean {
    const waiting = this.#waiting.get(id);
    if (waiting === undefined || waiting.peer !== peer) return false;
    void this.#check(id, bytes).then(async (blob) => {
      if (blob === undefined) {
        this.#deps.complain(peer, 'bad-hash', `history blob ${id.slice(0, 16)}… does not check out`);
        return;
      }
      if (this.#waiting.get(id) !== waiting) return;
      this.#waiting.delete(id);
      void (await this.#deps.catalog.store.putHistoryBytes(bytes));
      waiting.deliver({ blob });
    });
    return true;
  }

  /** `peer` says it does not hold these blobs: ask the next peer at once. */
  gone(peer: PeerId, ids: readonly string[]): void {
    for (const id of ids) {
      const waiting = this.#waiting.get(id);
      if (waiting?.peer === peer) waiting.next();
    }
  }

  /**
   * We adopted a snapshot `from` offered, naming the history chains `heads`: copy them, asking it
   * first. It named them, so it holds them (its own chain, or ones it adopted and holds checked);
   * the other peers asked first may not, and by the time they all said so the one that held them
   * may have left for good (campaign seed 1045: it left 1.4 s after the adoption, while the adopter
   * was still asking the others).
   */
  adopted(from: PeerId, heads: readonly string[]): void {
    const kept = new Set(this.#deps.catalog.historyHeads);
    for (const head of heads) if (kept.has(head)) this.#namedBy.set(head, from);
    for (const head of this.#namedBy.keys()) if (!kept.has(head)) this.#namedBy.delete(head);
    this.keepHistory();
  }

  /**
   * Copy the history chains of the snapshots we adopted, blob by blob, in the background: the facts
   * they cover never went through our log, and the peers holding them may leave for good. Once a
   * chain is ours we serve it too, so history survives its author. What cannot be had now is tried
   * again later (backing off), and soon after a peer comes up. What every syncing peer said it does
   * not hold (`gone`) is not asked of them again on a timer, only once a peer comes up or we adopt
   * another snapshot (campaign seed 1045: the only holder of a chain left for good, and the adopter
   * asked everyone else for it every ten minutes, forever).
   */
  keepHistory(peerCameUp = false): void {
    if (peerCameUp && this.#copying) this.#cameUpWhileCopying = true;
    if (peerCameUp && (this.#copyRetry !== undefined || this.#awaitingPeer)) {
      // Soon, not at once: the peer that came up syncs with us (and is asked) after its hello.
      this.#copyRetry?.cancel();
      this.#copyRetry = undefined;
      this.#awaitingPeer = false;
      this.#copyBackoff = HISTORY_COPY_RETRY_MS;
      this.#scheduleCopy(HISTORY_COPY_RETRY_MS);
      return;
    }
    if (this.#copying || this.#copyRetry !== undefined) return;
    this.#awaitingPeer = false;
    if (this.#deps.catalog.historyHeads.every((head) => this.#whole.has(head))) return;
    this.#copying = true;
    this.#cameUpWhileCopying = false;
    void this.#copyChains().then((outcome) => {
      this.#copying = false;
      if (outcome === 'whole') {
        this.#copyBackoff = HISTORY_COPY_RETRY_MS;
        return;
      }
      if (outcome === 'gone' && !this.#cameUpWhileCopying) {
        this.#awaitingPeer = true;
        return;
      }
      if (outcome === 'gone') this.#copyBackoff = HISTORY_COPY_RETRY_MS;
      this.#scheduleCopy(this.#copyBackoff);
      this.#copyBackoff = Math.min(this.#copyBackoff * 2, MAX_HISTORY_COPY_RETRY_MS);
    });
  }

  #scheduleCopy(after: number): void {
    this.#copyRetry = this.#deps.timers.after(after, () => {
      this.#copyRetry = undefined;
      this.keepHistory();
    });
  }

  /**
   * Walk every adopted chain, fetching what we lack: `whole` when all are, `gone` when what is
   * missing every syncing peer said it does not hold, `retry` otherwise (a peer stayed silent, a
   * read failed).
   */
  async #copyChains(): Promise<'whole' | 'gone' | 'retry'> {
    const { catalog } = this.#deps;
    let outcome: 'whole' | 'gone' | 'retry' = 'whole';
    for (const head of catalog.historyHeads) {
      if (this.#whole.has(head)) continue;
      let reached = true;
      for (let id: string | undefined = head; id !== undefined;) {
        if (this.#deps.stopped()) return 'whole';
        const local = await catalog.store.getHistoryBytes(id);
        if (local.isErr()) return 'retry';
        if (local.value !== undefined) {
          // Stored blobs were checked on arrival (and are checked against their id on every read).
          if (id === head) catalog.headVerified(head);
          const prev = historyPrev(local.value);
          if (prev.isErr()) return 'retry';
          id = prev.value;
          continue;
        }
        const fetched = await this.#blob(id, this.#namedBy.get(head));
        if (fetched.isErr()) return 'retry';
        if (fetched.value.blob === undefined) {
          reached = false;
          if (fetched.value.missing === 'unanswered') outcome = 'retry';
          else if (outcome === 'whole') outcome = 'gone';
          break;
        }
        if (id === head) catalog.headVerified(head);
        id = fetched.value.blob.prev;
      }
      if (reached) this.#whole.add(head);
    }
    return outcome;
  }

  /** Every fact about one item we can find, oldest first. */
  itemHistory(collection: string, item: string): ResultAsync<Fact[], StorageError> {
    return new ResultAsync(this.#itemHistory(collection, item));
  }

  async #itemHistory(collection: string, item: string): Promise<Result<Fact[], StorageError>> {
    const { replica, catalog } = this.#deps;
    const found = new Map<string, Fact>();
    const coverage = new Coverage(replica.durableTips());
    const take = (fact: Fact) => {
      coverage.add(fact.origin, fact.counter);
      if (fact.collection === collection && fact.item === item) found.set(`${fact.origin}:${fact.counter}`, fact);
    };
    const point = catalog.historyPoint;
    const chains = [...(point === undefined ? [] : [point.blobId]), ...catalog.historyHeads];
    // First what we hold: our own chain's blobs, the adopted chains copied so far, the live log.
    // Only facts a signature vouches for count (see Vouching); a blob with others is not `seen`, so
    // another chain that reaches it with more to vouch for them walks it again.
    const seen = new Set<string>();
    const stops: { chain: number; id: string; depth: number; vouching: Vouching }[] = [];
    for (const [chain, head] of chains.entries()) {
      const vouching = new Vouching();
      for (let id: string | undefined = head, depth = 0; id !== undefined && !seen.has(id); depth++) {
        const blob = await this.#localBlob(id);
        if (blob.isErr()) return err(blob.error);
        if (blob.value === undefined) {
          stops.push({ chain, id, depth, vouching });
          break;
        }
        if (vouching.take(blob.value.entries, take)) seen.add(id);
        id = blob.value.prev;
      }
    }
    for (let at = Math.max(replica.logStart, point?.seq ?? replica.logStart); ;) {
      const page = await replica.log.query(at, 'end');
      if (page.isErr()) return err(asStorageError(page.error));
      for (const entry of page.value.entries) take(factOf(entry));
      if (page.value.isComplete) break;
      at = page.value.endSequenceId;
    }
    // Then what linked peers hold, unless every fact we know of is found already: a chain nobody can
    // serve then adds nothing (an offer may name heads that do not exist; they cannot make history
    // incomplete when it is not).
    // Then what linked peers hold, every chain at once, until every fact we know of is found: a
    // chain nobody can serve then adds nothing (an offer may name heads that exist nowhere; they
    // cannot make history incomplete when it is not, nor hold it up).
    if (stops.length > 0 && !coverage.complete()) {
      const walks = Promise.all(
        stops.map(async (stop): Promise<Result<string | undefined, StorageError>> => {
          for (let id: string | undefined = stop.id, depth = stop.depth; id !== undefined && !seen.has(id); depth++) {
            if (coverage.complete()) return ok(undefined);
            const fetched = await this.#blob(id);
            if (fetched.isErr()) return err(fetched.error);
            const blob = fetched.value.blob;
            if (blob === undefined) {
              const where = stop.chain === 0 && point !== undefined ? 'our own chain' : 'an adopted chain';
              return ok(
                `history blob ${id} (${where}, ${depth} back from its head) is not here, and no linked peer has it: history is incomplete`,
              );
            }
            if (stop.vouching.take(blob.entries, take)) seen.add(id);
            id = blob.prev;
          }
          return ok(undefined);
        }),
      );
      const outcomes = await Promise.race([walks, coverage.completed.then(() => [])]);
      if (!coverage.complete()) {
        for (const outcome of outcomes) {
          if (outcome.isErr()) return err(outcome.error);
          if (outcome.value !== undefined) return err(storageError(outcome.value));
        }
      }
    }
    return ok(
      [...found.values()].sort(
        (a, b) =>
          a.hlc.wall - b.hlc.wall ||
          a.hlc.logical - b.hlc.logical ||
          (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.counter - b.counter),
      ),
    );
  }

  /** A history blob we hold (undefined when we do not). */
  async #localBlob(id: string): Promise<Result<HistoryBlob | undefined, StorageError>> {
    const local = await this.#deps.catalog.store.getHistoryBytes(id);
    if (local.isErr()) return err(asStorageError(local.error));
    if (local.value === undefined) return ok(undefined);
    const decoded = decodeHistory(local.value);
    return decoded.isOk() ? ok(decoded.value) : err(storageError(decoded.error.message, undefined, 'corrupt'));
  }

  /** A history blob: ours, or fetched from a linked peer, `first` first (or why none has it). */
  async #blob(id: string, first?: PeerId): Promise<Result<Fetched, StorageError>> {
    const local = await this.#localBlob(id);
    if (local.isErr()) return err(local.error);
    if (local.value !== undefined) return ok({ blob: local.value });
    // A fetch already under way (the background copy's, another history() call's) is joined; if it
    // gives up, it began before we asked, so everyone is asked once more, afresh.
    const running = this.#fetching.get(id);
    if (running !== undefined) {
      const fetched = await running;
      if (fetched.blob !== undefined) return ok(fetched);
    }
    let fetching = this.#fetching.get(id);
    if (fetching === undefined) {
      fetching = this.#fetch(id, first).finally(() => this.#fetching.delete(id));
      this.#fetching.set(id, fetching);
    }
    return ok(await fetching);
  }

  /**
   * Ask the syncing peers for a history blob, one at a time, until one sends it. A peer that says
   * `gone` is not asked again; one that stays silent (slow, busy, or the frame was lost) is asked
   * again in a later round with twice the patience, so a slow holder is not taken for none. `first`
   * (when we sync with it) is asked before the others.
   */
  #fetch(id: string, first?: PeerId): Promise<Fetched> {
    return new Promise((resolve) => {
      let queue = this.#deps.syncing();
      if (first !== undefined && queue.includes(first)) queue = [first, ...queue.filter((p) => p !== first)];
      const nobodyToAsk = queue.length === 0;
      let silent: PeerId[] = [];
      let round = 0;
      let asked = 0;
      const next = () => {
        if (this.#waiting.get(id) !== waiting) return;
        const turn = ++asked;
        if (queue.length === 0 && silent.length > 0 && ++round < HISTORY_FETCH_ROUNDS) {
          queue = silent;
          silent = [];
        }
        const peer = queue.shift();
        if (peer === undefined) {
          this.#waiting.delete(id);
          // Peers silent in the last round may hold it; with nobody asked, nobody said gone.
          resolve({ blob: undefined, missing: nobodyToAsk || silent.length > 0 ? 'unanswered' : 'gone' });
          return;
        }
        waiting.peer = peer;
        this.#deps.send(peer, encodeMessage({ type: 'blob-request', space: this.#deps.replica.spaceId, ids: [id] }));
        this.#deps.timers.after(Math.min(RETRANSMIT_AFTER_MS * 2 ** round, MAX_HISTORY_FETCH_WAIT_MS), () => {
          if (asked !== turn) return;
          silent.push(peer);
          next();
        });
      };
      const waiting: Waiting = { deliver: resolve, peer: undefined, next };
      this.#waiting.set(id, waiting);
      next();
    });
  }

  /** The blob checks out (id, entry hashes, signatures, chains), or undefined. */
  async #check(id: string, bytes: Uint8Array): Promise<HistoryBlob | undefined> {
    if (blobIdOf(bytes) !== id) return undefined;
    const blob = decodeHistory(bytes);
    if (blob.isErr()) return undefined;
    const { replica, verifier } = this.#deps;
    const previous = new Map<PeerId, Fact>();
    for (const entry of blob.value.entries) {
      const fact = factOf(entry);
      const hash = computeHash(replica.spaceId, fact);
      if (hash.isErr() || !equalBytes(hash.value, fact.hash)) return undefined;
      if (entry.sig !== undefined && !(await verifier.verify(fact.origin, fact.hash, entry.sig))) return undefined;
      const before = previous.get(fact.origin);
      if (
        before !== undefined &&
        before.counter + 1 === fact.counter &&
        (fact.prev === null || !equalBytes(fact.prev, before.hash))
      ) {
        return undefined;
      }
      previous.set(fact.origin, fact);
    }
    return blob.value;
  }
}

/**
 * Which facts of one history chain a signature vouches for. A blob checks out when its entries hash
 * right and the signatures it carries verify, but only the last fact of a run is signed: the others
 * are vouched for by the signed fact their hashes chain to (through `prev`), later in the same chain.
 * Walking a chain from its head back, entry by entry from the last, a fact counts when it is signed
 * or is the one the fact after it (of its origin) names as `prev`. Each range of history ends where
 * every origin's last fact is a signed run end, so an honest chain vouches for all it holds; a fact
 * a member made up under someone else's origin (unsigned, chained to nothing) is not history.
 */
class Vouching {
  /** Per origin, the counter and hash the next older fact must have. */
  readonly #expected = new Map<PeerId, { counter: number; hash: Uint8Array | null }>();

  /** Hand the vouched facts of `entries` (one blob, next older in the chain) to `take`; true if all were. */
  take(entries: readonly FactEntry[], take: (fact: Fact) => void): boolean {
    let all = true;
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!;
      const expected = this.#expected.get(entry.origin);
      const chained =
        expected !== undefined &&
        expected.counter === entry.counter &&
        expected.hash !== null &&
        equalBytes(expected.hash, entry.hash);
      if (entry.sig === undefined && !chained) {
        all = false;
        continue;
      }
      this.#expected.set(entry.origin, { counter: entry.counter - 1, hash: entry.prev });
      take(factOf(entry));
    }
    return all;
  }
}

/**
 * Which facts of each origin a history walk has found, against the durable tips: complete when every
 * counter from 1 to each origin's tip was found (then no other chain can add to the history).
 */
class Coverage {
  readonly #tips: ReadonlyMap<PeerId, ChainTip>;
  readonly #found = new Map<PeerId, Uint8Array>();
  #missing: number;
  #done: () => void = () => {};
  /** Resolves once complete. */
  readonly completed = new Promise<void>((resolve) => (this.#done = resolve));

  constructor(tips: ReadonlyMap<PeerId, ChainTip>) {
    this.#tips = tips;
    let missing = 0;
    for (const tip of tips.values()) missing += tip.counter;
    this.#missing = missing;
    if (missing === 0) this.#done();
  }

  add(origin: PeerId, counter: number): void {
    const tip = this.#tips.get(origin)?.counter ?? 0;
    if (counter < 1 || counter > tip) return;
    let bits = this.#found.get(origin);
    if (bits === undefined) this.#found.set(origin, (bits = new Uint8Array(Math.ceil(tip / 8))));
    const at = counter - 1;
    const mask = 1 << (at & 7);
    if ((bits[at >> 3]! & mask) !== 0) return;
    bits[at >> 3]! |= mask;
    if (--this.#missing === 0) this.#done();
  }

  complete(): boolean {
    return this.#missing === 0;
  }
}
