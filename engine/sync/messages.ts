/**
 * The sync protocol's messages (DESIGN §3), as a discriminated union. The binary codec in
 * `codec.ts` turns frames into these and back; everything that comes off the wire is decoded into
 * one of them (or a typed error) before any other code looks at it.
 */
import type { BlobId } from '../log/event-log.js';
import type { Run } from '../facts/run.js';
import type { PeerId } from '../facts/types.js';
import type { WireVector } from './origin-key.js';

/** Bumped on incompatible changes; a `hello` with another version gets an `error`. */
export const PROTOCOL_VERSION = 2;

/** The latest snapshot a peer holds, and the vector it covers. */
export interface SnapshotRef {
  readonly blobId: BlobId;
  readonly vector: WireVector;
}

/** Opens (and re-opens) a session for one space: what the sender holds. */
export interface Hello {
  readonly type: 'hello';
  readonly space: string;
  readonly version: number;
  /** Ask the receiver to answer with its own hello. */
  readonly reply: boolean;
  /** Highest contiguous counter per origin, durable on the sender. */
  readonly vector: WireVector;
  /** Per origin, the first counter still in the sender's log (what it pruned is before it). */
  readonly logStart: WireVector;
  readonly snapshot?: SnapshotRef | undefined;
}

/** Facts in per-origin runs, each ending in a signed fact. */
export interface FactsMessage {
  readonly type: 'facts';
  readonly space: string;
  readonly runs: readonly Run[];
}

/** The receiver's counters after durable storage (only the origins listed). */
export interface Ack {
  readonly type: 'ack';
  readonly space: string;
  readonly vector: WireVector;
}

/** What one peer knows of another. */
export interface GossipEntry {
  readonly peer: PeerId;
  /** Its acknowledged (durable) vector. */
  readonly vector: WireVector;
  readonly snapshot?: SnapshotRef | undefined;
  /** When it was last heard from directly, on the relaying peer's clock (ms). */
  readonly lastSeen: number;
}

/** Epidemic relay of what peers know of each other. */
export interface Gossip {
  readonly type: 'gossip';
  readonly space: string;
  readonly peers: readonly GossipEntry[];
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

/** "I can give you a snapshot covering these counters" (sent when you need facts I pruned). */
export interface SnapshotOffer {
  readonly type: 'snapshot-offer';
  readonly space: string;
  readonly blobId: string;
  readonly vector: WireVector;
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
  Hello | FactsMessage | Ack | Gossip | ErrorMessage | SnapshotOffer | BlobRequest | BlobMessage | Gone;
export type MessageType = Message['type'];
