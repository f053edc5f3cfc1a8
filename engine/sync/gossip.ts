/**
 * Gossip of one space: what this peer hears directly about its remotes (hellos, acks) goes into the
 * PeerDirectory, and signed statements — each peer's own claim of what it holds — are relayed from
 * peer to peer, at most every GOSSIP_INTERVAL_MS per link, so an acknowledgement reaches an author
 * that is not linked to the acknowledging peer (`ackQuorum` > 1 in a sparse mesh).
 *
 * Gossip only runs when it is useful: this peer needs acknowledgements from more than one peer, or a
 * remote gossips to us (then we relay). Otherwise a space stays quiet.
 *
 * Every statement is checked against its peer's signature before it counts; a link that sends a bad
 * one is struck; a link may introduce at most MAX_NEW_GOSSIP_PEERS_PER_MINUTE peers we did not know.
 */
import type { Env, TimerScope } from '../env.js';
import type { SignatureVerifier, Signer } from '../facts/sign.js';
import type { PeerId, Vector } from '../facts/types.js';
import { GOSSIP_INTERVAL_MS, MAX_NEW_GOSSIP_PEERS_PER_MINUTE, MAX_VECTOR_PAGE_ORIGINS } from '../limits.js';
import type { Replica } from '../space/replica.js';
import { TokenBuckets } from './budget.js';
import { encodeMessage } from './codec.js';
import type { Gossip as GossipMessage, Statement } from './messages.js';
import type { PeerDirectory } from './peer-directory.js';
import { signStatement, verifyStatement } from './statement.js';

export interface GossipDeps {
  readonly replica: Replica;
  readonly peers: PeerDirectory;
  readonly env: Env;
  readonly monotonic: () => number;
  readonly timers: TimerScope;
  readonly signer: Signer;
  readonly verifier: SignatureVerifier;
  /** Remotes we are syncing with now. */
  readonly syncing: () => Iterable<PeerId>;
  readonly send: (peer: PeerId, frame: Uint8Array) => void;
  /** A remote broke the protocol (a statement whose signature does not check out). */
  readonly complain: (peer: PeerId, code: string, message: string) => void;
  readonly ackQuorum: number;
  /** We learned something about what peers hold (acks and pruning may follow). */
  readonly learned: (ownCounterMoved: boolean) => void;
  readonly closed: () => boolean;
}

export class Gossip {
  readonly #deps: GossipDeps;
  #scheduled = false;
  /** We heard gossip: relay it even when we need no acknowledgements from afar ourselves. */
  #heard = false;
  /** Our latest statement, and the durable version it states. */
  #own: Statement | undefined;
  #ownVersion = -1;
  /** Origins that moved since our last statement (what a statement of a huge vector carries). */
  readonly #moved = new Set<PeerId>();
  readonly #newPeers: TokenBuckets;
  #checking: Promise<unknown> = Promise.resolve();

  constructor(deps: GossipDeps) {
    this.#deps = deps;
    this.#newPeers = new TokenBuckets(MAX_NEW_GOSSIP_PEERS_PER_MINUTE, 60_000, deps.monotonic);
    // Statements may name origins before we learn them: what they said of them applies once we do.
    deps.replica.origins.onAdd((origin, key) => {
      if (deps.peers.learned(origin, key)) deps.learned(true);
    });
  }

  /** `peer` told us directly that it holds `vector` (partial). */
  heardVector(peer: PeerId, vector: Vector): void {
    const { peers, replica, env } = this.#deps;
    if (!peers.noteVector(peer, vector, env.now())) return;
    this.#deps.learned(vector.has(replica.origin));
  }

  /** We heard from `peer` directly (any message). */
  heardFrom(peer: PeerId): void {
    this.#deps.peers.noteSeen(peer, this.#deps.env.now());
  }

  /** The session with `peer` was (re)established: what we told it before may be lost. */
  linkReset(peer: PeerId): void {
    this.#deps.peers.resetLink(peer);
    this.schedule();
  }

  /** Our durable counters of `origins` moved. */
  advanced(origins: Iterable<PeerId>): void {
    // A quiet space keeps no list: it would grow to every origin of the space, never read.
    if (!this.#useful()) return;
    for (const origin of origins) this.#moved.add(origin);
    this.schedule();
  }

  /** A `gossip` message from `from`: check each statement that is news, take the good ones. */
  received(from: PeerId, message: GossipMessage): void {
    this.#heard = true;
    // One message at a time: signatures are checked in order, against what the previous one left.
    this.#checking = this.#checking.then(() => this.#receive(from, message.statements));
  }

  async #receive(from: PeerId, statements: readonly Statement[]): Promise<void> {
    const { peers, replica, verifier } = this.#deps;
    let learned = false;
    for (const statement of statements) {
      if (this.#deps.closed()) return;
      if (!peers.wants(statement.peer, statement.seq)) continue;
      if (peers.statementOf(statement.peer) === undefined && !this.#newPeers.take(from)) continue;
      if (!(await verifyStatement(replica.spaceId, statement, verifier))) {
        this.#deps.complain(from, 'bad-signature', `statement of ${statement.peer} does not verify`);
        continue;
      }
      if (peers.takeStatement(statement, (v, unknown) => replica.origins.resolve(v, unknown))) learned = true;
    }
    if (learned) {
      this.#deps.learned(true);
      this.schedule();
    }
  }

  /** Gossip soon (at most every GOSSIP_INTERVAL_MS), when it is useful. */
  schedule(): void {
    const deps = this.#deps;
    if (this.#scheduled || deps.closed() || !this.#useful()) return;
    this.#scheduled = true;
    deps.timers.after(GOSSIP_INTERVAL_MS, () => void this.#gossip());
  }

  /** Gossip is useful: we need acknowledgements from more than one peer, or a remote gossips to us. */
  #useful(): boolean {
    return this.#heard || this.#deps.ackQuorum > 1;
  }

  async #gossip(): Promise<void> {
    const deps = this.#deps;
    const own = await this.#ownStatement();
    this.#scheduled = false;
    if (deps.closed()) return;
    for (const peer of deps.syncing()) {
      const statements = deps.peers.gossipFor(peer, own);
      if (statements.length > 0) {
        deps.send(peer, encodeMessage({ type: 'gossip', space: deps.replica.spaceId, statements }));
      }
    }
  }

  /** Our statement of what we hold now (a new one when something moved since the last). */
  async #ownStatement(): Promise<Statement | undefined> {
    const { replica, signer } = this.#deps;
    if (replica.durableVersion === this.#ownVersion) return this.#own;
    this.#ownVersion = replica.durableVersion;
    const vector = replica.vector();
    let stated: Vector = vector;
    if (vector.size > MAX_VECTOR_PAGE_ORIGINS) {
      // A statement is one page: our own origin first, then what moved since the last one.
      stated = new Map();
      for (const origin of [replica.origin, ...this.#moved]) {
        if (stated.size >= MAX_VECTOR_PAGE_ORIGINS) break;
        const counter = vector.get(origin);
        if (counter !== undefined) stated.set(origin, counter);
      }
    }
    this.#moved.clear();
    // Later statements supersede earlier ones, across restarts too: the wall clock, or one more.
    const seq = Math.max((this.#own?.seq ?? 0) + 1, Math.floor(this.#deps.env.now()));
    this.#own = await signStatement(replica.spaceId, signer, seq, replica.origins.toWire(stated));
    return this.#own;
  }
}
