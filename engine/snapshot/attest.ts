/**
 * Attesting snapshots, both ways.
 *
 * - Our own: once the workflow made a snapshot, we ask every syncing remote to attest it (with our
 *   own attestation), again with backoff until `snapshotQuorum` distinct peers did. Pruning and
 *   offering wait for that quorum.
 * - Theirs: asked to attest root R, we fetch R's root and tip chunks from the asker, check the tips
 *   (each signed by its origin), and build the root for that cut from our own facts (our own
 *   snapshot plus the log after it). Same root: we sign it and answer. Another root: the asker
 *   attested something its facts do not give — a `bad-snapshot` fault with both attestations as
 *   proof, a strike, and R is never offered or adopted here. We cannot build it (we lack some of
 *   its facts, or our own snapshot is past that cut): no answer; the asker asks again later, and a
 *   peer that sits idle snapshots what is new, so peers holding the same facts meet on one cut.
 */
import type { Env, Timer, TimerScope } from '../env.js';
import { equalBytes } from '../facts/bytes.js';
import type { SignatureVerifier, Signer } from '../facts/sign.js';
import type { PeerId } from '../facts/types.js';
import { MAX_IDLE_RETRY_INTERVAL_MS, RETRANSMIT_AFTER_MS, SNAPSHOT_FETCH_ATTEMPTS } from '../limits.js';
import type { Replica } from '../space/replica.js';
import { encodeMessage } from '../sync/codec.js';
import type { AttestationMessage, AttestRequest } from '../sync/messages.js';
import { attest, verifyAttestation, type Attestation } from './attestation.js';
import { buildRoot, within } from './build.js';
import type { HeldSnapshot, SnapshotCatalog } from './catalog.js';
import { blobIdOf, decodeRoot, decodeTipChunk, verifyTips, type SnapshotTip } from './format.js';
import type { Workers } from './workers.js';

export interface AttestDeps {
  readonly replica: Replica;
  readonly catalog: SnapshotCatalog;
  readonly workers: Workers;
  readonly signer: Signer;
  readonly verifier: SignatureVerifier;
  readonly env: Env;
  readonly timers: TimerScope;
  readonly quorum: number;
  /** Remotes we sync with now. */
  readonly syncing: () => Iterable<PeerId>;
  readonly send: (peer: PeerId, frame: Uint8Array) => void;
  readonly complain: (peer: PeerId, code: string, message: string) => void;
  /** `peer` attested `root`, which our facts do not give: the proof. */
  readonly badSnapshot: (peer: PeerId, root: string, proof: readonly Attestation[], problem: string) => void;
  /** Our latest own snapshot reached the quorum. */
  readonly attested: (snapshot: HeldSnapshot) => void;
  /**
   * Our latest snapshot still waits for attestations, or we were asked to attest a cut we cannot
   * build: snapshot what is new soon (peers holding the same facts then meet on one cut).
   */
  readonly stuck: () => void;
  readonly stopped: () => boolean;
  /** Resolves once our own snapshot workflow, if one runs, has ended. */
  readonly ownSettled: () => Promise<void>;
}

/** Blobs asked of one peer to check its root: the root, then its tip chunks. */
interface Probe {
  readonly peer: PeerId;
  readonly root: string;
  readonly theirs: Attestation;
  readonly wanted: Set<string>;
  readonly blobs: Map<string, Uint8Array>;
  rootTips?: readonly string[];
  attempts: number;
}

export class Attestor {
  readonly #deps: AttestDeps;
  /** Asking for attestations of our latest snapshot: its root, and the retry timer. */
  #asking: { root: string; timer: Timer | undefined; tries: number } | undefined;
  /** One check of someone else's root at a time; a few more wait. */
  #probe: Probe | undefined;
  readonly #waiting: { peer: PeerId; request: AttestRequest }[] = [];
  #chain: Promise<unknown> = Promise.resolve();

  constructor(deps: AttestDeps) {
    this.#deps = deps;
  }

  /** Our own snapshot `own` was made: gather attestations for it. */
  ask(own: HeldSnapshot): void {
    this.#asking?.timer?.cancel();
    this.#asking = { root: own.blobId, timer: undefined, tries: 0 };
    this.#askAgain();
  }

  /** A remote now syncs with us: it may attest what we are asking about. */
  linked(peer: PeerId): void {
    const asking = this.#asking;
    if (asking !== undefined && !this.#reached(asking.root)) this.#requestFrom(peer, asking.root);
  }

  #reached(root: string): boolean {
    return this.#deps.catalog.attestations.count(root) >= this.#deps.quorum;
  }

  #askAgain(): void {
    const asking = this.#asking;
    const { catalog, timers, stopped } = this.#deps;
    if (asking === undefined || stopped() || catalog.own?.blobId !== asking.root || this.#reached(asking.root)) return;
    for (const peer of this.#deps.syncing()) this.#requestFrom(peer, asking.root);
    if (asking.tries > 0) this.#deps.stuck();
    const delay = Math.min(RETRANSMIT_AFTER_MS * 2 ** asking.tries++, MAX_IDLE_RETRY_INTERVAL_MS);
    asking.timer = timers.after(delay, () => this.#askAgain());
  }

  #requestFrom(peer: PeerId, root: string): void {
    const { catalog, replica, signer } = this.#deps;
    if (catalog.attestations.has(root, peer)) return;
    const ours = catalog.attestations.list(root).find((a) => a.attester === signer.origin);
    if (ours === undefined) return;
    this.#deps.send(peer, encodeMessage({ type: 'attest-request', space: replica.spaceId, root, attestation: ours }));
  }

  /** An attestation arrived (an answer to our request, or passed on). */
  attestationReceived(from: PeerId, message: AttestationMessage): void {
    this.#chain = this.#chain.then(async () => {
      const { catalog, replica, verifier } = this.#deps;
      const { root, attestation } = message;
      if (catalog.attestations.has(root, attestation.attester)) return;
      if (!(await verifyAttestation(replica.spaceId, root, attestation, verifier))) {
        this.#deps.complain(from, 'bad-signature', 'attestation does not verify');
        return;
      }
      const held = catalog.offerable().find((h) => h.blobId === root);
      if (held === undefined) return; // not a root we hold: nothing to count it for
      catalog.attestations.add(root, attestation);
      if (this.#deps.catalog.attestations.count(root) === this.#deps.quorum) {
        await catalog.saveAttestations();
        if (catalog.own?.blobId === root) this.#deps.attested(held);
      }
    });
  }

  /** Someone asks us to attest `request.root`. */
  requestReceived(from: PeerId, request: AttestRequest): void {
    const { catalog, signer, replica } = this.#deps;
    if (catalog.isBad(request.root)) return;
    if (catalog.attestations.has(request.root, signer.origin)) {
      const ours = catalog.attestations.list(request.root).find((a) => a.attester === signer.origin)!;
      this.#deps.send(
        from,
        encodeMessage({ type: 'attestation', space: replica.spaceId, root: request.root, attestation: ours }),
      );
      return;
    }
    if (this.#probe !== undefined) {
      // One check at a time; a few wait (one per asker), the rest is asked again by its sender.
      if (this.#waiting.length < 4 && !this.#waiting.some((w) => w.peer === from))
        this.#waiting.push({ peer: from, request });
      return;
    }
    this.#startProbe(from, request);
  }

  #startProbe(peer: PeerId, request: AttestRequest): void {
    this.#chain = this.#chain.then(async () => {
      const { replica, verifier } = this.#deps;
      if (request.attestation.attester !== peer) return this.#next();
      if (!(await verifyAttestation(replica.spaceId, request.root, request.attestation, verifier))) {
        this.#deps.complain(peer, 'bad-signature', 'attestation does not verify');
        return this.#next();
      }
      const probe: Probe = {
        peer,
        root: request.root,
        theirs: request.attestation,
        wanted: new Set([request.root]),
        blobs: new Map(),
        attempts: 0,
      };
      this.#probe = probe;
      this.#fetch(probe);
    });
  }

  #fetch(probe: Probe): void {
    const { replica, timers } = this.#deps;
    this.#deps.send(
      probe.peer,
      encodeMessage({ type: 'blob-request', space: replica.spaceId, ids: [...probe.wanted] }),
    );
    timers.after(RETRANSMIT_AFTER_MS * 2, () => {
      if (this.#probe !== probe || probe.wanted.size === 0) return;
      if (++probe.attempts > SNAPSHOT_FETCH_ATTEMPTS) {
        this.#probe = undefined;
        this.#next();
      } else this.#fetch(probe);
    });
  }

  /** A blob arrived from `peer`; true when it was for a check of ours. */
  received(peer: PeerId, id: string, bytes: Uint8Array): boolean {
    const probe = this.#probe;
    if (probe === undefined || probe.peer !== peer || !probe.wanted.has(id)) return false;
    if (blobIdOf(bytes) !== id) {
      this.#deps.complain(peer, 'bad-hash', `blob ${id.slice(0, 16)}… is not what its id says`);
      return true;
    }
    probe.wanted.delete(id);
    probe.blobs.set(id, bytes);
    if (id === probe.root) {
      const root = decodeRoot(bytes);
      if (root.isErr() || root.value.space !== this.#deps.replica.spaceId) return (this.#end(probe), true);
      probe.rootTips = root.value.tipChunks;
      for (const tip of root.value.tipChunks) probe.wanted.add(tip);
      if (probe.wanted.size > 0) this.#fetch(probe);
    }
    if (probe.wanted.size === 0 && probe.rootTips !== undefined) {
      this.#chain = this.#chain.then(() => this.#check(probe));
    }
    return true;
  }

  async #check(probe: Probe): Promise<void> {
    const { replica, catalog, verifier, signer } = this.#deps;
    try {
      const tips: SnapshotTip[] = [];
      for (const id of probe.rootTips!) {
        const decoded = decodeTipChunk(probe.blobs.get(id)!);
        if (decoded.isErr()) return this.#lie(probe, `its tips do not decode: ${decoded.error.message}`);
        tips.push(...decoded.value);
      }
      const problem = await verifyTips(replica.spaceId, tips, verifier);
      if (problem !== undefined) return this.#lie(probe, problem);
      const cut = new Map<PeerId, number>();
      for (const { fact } of tips) {
        // We must hold every fact the cut covers, the very ones (else the origin equivocated).
        if (replica.counter(fact.origin) < fact.counter) return;
        const ours = await replica.hashOf(fact.origin, fact.counter);
        if (ours !== undefined && !equalBytes(ours, fact.hash)) return;
        cut.set(fact.origin, fact.counter);
      }
      // Our own snapshot of this very cut may be in the making (a peer that just caught up): wait
      // for it rather than build the same root twice; we then attested it already.
      await this.#deps.ownSettled();
      if (this.#deps.stopped()) return;
      const already = catalog.attestations.list(probe.root).find((a) => a.attester === signer.origin);
      if (already !== undefined) {
        this.#deps.send(
          probe.peer,
          encodeMessage({ type: 'attestation', space: replica.spaceId, root: probe.root, attestation: already }),
        );
        return;
      }
      const plan = this.#plan(cut);
      if (plan === undefined) {
        // Our own snapshot is past that cut (or we pruned): we cannot rebuild it. A fresh snapshot of
        // ours, of all we hold, is what the asker will be able to attest — and we theirs.
        this.#deps.stuck();
        return;
      }
      const built = await buildRoot(
        replica,
        catalog,
        this.#deps.workers,
        { bases: plan.bases, from: plan.from, until: replica.head, cut, tips: () => tips },
        this.#deps.stopped,
      );
      if (built.isErr() || this.#deps.stopped()) return;
      if (built.value.rootId === probe.root) {
        const ours = await attest(replica.spaceId, probe.root, signer);
        catalog.attestations.add(probe.root, ours);
        this.#deps.send(
          probe.peer,
          encodeMessage({ type: 'attestation', space: replica.spaceId, root: probe.root, attestation: ours }),
        );
        return;
      }
      if (plan.derived) return; // built on a snapshot we adopted: our word against theirs, not proof
      const ours = await attest(replica.spaceId, built.value.rootId, signer);
      catalog.attestations.add(built.value.rootId, ours);
      this.#lie(probe, `the facts of that cut give root ${built.value.rootId}`, [probe.theirs, ours]);
    } finally {
      this.#end(probe);
    }
  }

  /**
   * Where to build a cut from: our latest (or previous) own snapshot within the cut whose log tail
   * is still here, with the adopted snapshots (all within the cut), or the whole log. `derived`:
   * built on registers we took on others' word.
   */
  #plan(cut: ReadonlyMap<PeerId, number>): { bases: HeldSnapshot[]; from: number; derived: boolean } | undefined {
    const { replica, catalog } = this.#deps;
    const adopted = catalog.adopted;
    if (!adopted.every((a) => within(a.tips, cut))) return undefined;
    // Snapshots we adopted leave the adopted list once our own snapshot folds them in: from then on
    // the log (since any base older than that snapshot) lacks their facts, so a root rebuilt from it
    // is no proof. Blaming on it blamed honest peers (the liar campaign, seeds 29 and 99).
    const folded = catalog.own !== undefined && catalog.derived(catalog.own.blobId);
    for (const own of [catalog.own, catalog.previous]) {
      if (own?.seq !== undefined && own.seq + 1 >= replica.logStart && within(own.tips, cut)) {
        return {
          bases: [own, ...adopted],
          from: own.seq + 1,
          derived: adopted.length > 0 || catalog.derived(own.blobId) || (own !== catalog.own && folded),
        };
      }
    }
    if (replica.logStart === 0) return { bases: [...adopted], from: 0, derived: adopted.length > 0 || folded };
    return undefined;
  }

  #lie(probe: Probe, problem: string, proof: readonly Attestation[] = [probe.theirs]): void {
    this.#deps.catalog.markBad(probe.root);
    this.#deps.badSnapshot(probe.peer, probe.root, proof, problem);
  }

  #end(probe: Probe): void {
    if (this.#probe === probe) this.#probe = undefined;
    this.#next();
  }

  #next(): void {
    if (this.#probe !== undefined) return;
    const next = this.#waiting.shift();
    if (next !== undefined) this.#startProbe(next.peer, next.request);
  }

  /** Stop at once (the process died). */
  halt(): void {
    this.#asking?.timer?.cancel();
    this.#asking = undefined;
    this.#probe = undefined;
    this.#waiting.length = 0;
  }
}
