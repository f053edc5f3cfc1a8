/**
 * The sync protocol's messages (DESIGN §3), as a discriminated union. The binary codec in
 * `codec.ts` turns frames into these and back; everything that comes off the wire is decoded into
 * one of them (or a typed error) before any other code looks at it.
 */
import type { Run } from '../facts/run.js';
import type { PeerId } from '../facts/types.js';
import type { WireVector } from './origin-key.js';

/** Bumped on incompatible changes; a `hello` with another version gets an `error`. */
export const PROTOCOL_VERSION = 6;

/**
 * Opens (and re-opens) a session for one space: what the sender holds. A vector of any size fits:
 * when it does not fit one frame, the hello carries the first page (`more`), and `have` messages
 * the rest.
 */
export interface Hello {
  readonly type: 'hello';
  readonly space: string;
  readonly version: number;
  /** Ask the receiver to answer with its own hello. */
  readonly reply: boolean;
  /** Highest contiguous counter per origin, durable on the sender (the first page of it). */
  readonly vector: WireVector;
  /** More of the vector follows in `have` messages. */
  readonly more: boolean;
}

/** The next page of the vector of the sender's last hello. */
export interface Have {
  readonly type: 'have';
  readonly space: string;
  readonly vector: WireVector;
  /** More pages follow. */
  readonly more: boolean;
}

/** Facts in per-origin runs, each ending in a signed fact. */
export interface FactsMessage {
  readonly type: 'facts';
  readonly space: string;
  readonly runs: readonly Run[];
}

/**
 * "Stop pushing facts to me; announce them instead": the sender got facts over this link that it
 * already held (Plumtree's PRUNE). The link turns lazy on both ends, so a mesh settles into a
 * spanning tree of eager links and announcements on the others.
 */
export interface Prune {
  readonly type: 'prune';
  readonly space: string;
}

/**
 * "Push facts to me again": the sender heard of facts over this lazy link that its eager links did
 * not bring in time (Plumtree's GRAFT). The link turns eager on both ends, repairing the tree.
 */
export interface Graft {
  readonly type: 'graft';
  readonly space: string;
}

/** The receiver's counters after durable storage (only the origins listed). */
export interface Ack {
  readonly type: 'ack';
  readonly space: string;
  readonly vector: WireVector;
}

/**
 * A peer's signed statement of what it holds durably: counters it holds at least, for up to
 * MAX_VECTOR_PAGE_ORIGINS origins (those that moved most recently, its own first). A statement with
 * a higher `seq` supersedes the peer's earlier ones; relays forward statements unchanged, so
 * acknowledgements reach peers that are not linked to it, and none can be forged.
 */
export interface Statement {
  readonly peer: PeerId;
  readonly seq: number;
  readonly vector: WireVector;
  /** The peer's Ed25519 signature over `statementHash(space, statement)`. */
  readonly sig: Uint8Array;
}

/** Epidemic relay of signed statements. */
export interface Gossip {
  readonly type: 'gossip';
  readonly space: string;
  readonly statements: readonly Statement[];
}

/**
 * A typed complaint about something the receiver sent. Codes a sender acts on: `not-open` (a hello
 * for a space the receiver does not have open), `clock-drift` (facts refused because the sender's
 * clock is ahead; `retryAfter` says for how long at least). Others (`bad-signature`, `malformed`, …)
 * come with a strike.
 */
export interface ErrorMessage {
  readonly type: 'error';
  readonly space: string;
  readonly code: string;
  readonly message: string;
  /** For `clock-drift`: ms until the refused facts could be accepted, at the earliest. */
  readonly retryAfter?: number | undefined;
}

/** A peer's signature over (space, snapshot root): it built that root itself from its own facts. */
export interface WireAttestation {
  readonly attester: PeerId;
  readonly sig: Uint8Array;
}

/**
 * "I can give you a snapshot covering these counters" (sent when you need facts I pruned), with the
 * attestations it has: the receiver adopts it only with `snapshotQuorum` of them.
 */
export interface SnapshotOffer {
  readonly type: 'snapshot-offer';
  readonly space: string;
  readonly blobId: string;
  readonly vector: WireVector;
  readonly attestations: readonly WireAttestation[];
  /**
   * Heads of the history chains that hold the facts it covers (blob ids): a peer that adopts it
   * fetches them when `history()` needs them.
   */
  readonly history: readonly string[];
}

/** "Build this root from your facts and attest it if you get the same" (with the sender's own attestation). */
export interface AttestRequest {
  readonly type: 'attest-request';
  readonly space: string;
  readonly root: string;
  readonly attestation: WireAttestation;
}

/** An attestation of `root` (an answer to a request, or one passed on). */
export interface AttestationMessage {
  readonly type: 'attestation';
  readonly space: string;
  readonly root: string;
  readonly attestation: WireAttestation;
}

/** Ask for blobs (a snapshot root, then its chunks). */
export interface BlobRequest {
  readonly type: 'blob-request';
  readonly space: string;
  readonly ids: readonly string[];
}

/** One blob; its id is the SHA-256 of `bytes` (checked by the receiver). */
export interface BlobMessage {
  readonly type: 'blob';
  readonly space: string;
  readonly id: string;
  readonly bytes: Uint8Array;
}

/** "I no longer hold these blobs" (a snapshot was replaced and collected): fetch a newer one. */
export interface Gone {
  readonly type: 'gone';
  readonly space: string;
  readonly ids: readonly string[];
}

export type Message =
  | Hello
  | Have
  | FactsMessage
  | Ack
  | Gossip
  | ErrorMessage
  | SnapshotOffer
  | BlobRequest
  | BlobMessage
  | Gone
  | AttestRequest
  | AttestationMessage
  | Prune
  | Graft;
export type MessageType = Message['type'];
