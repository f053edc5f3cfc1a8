/**
 * Transport: the engine knows networks only through this interface. A transport connects this peer
 * to others and carries framed binary messages between two PeerIds. Implementations live in
 * `transports/` (memory simulator, libp2p, automerge-repo adapters) and all pass
 * `runTransportTests`.
 *
 * Contract:
 * - `peerUp(p)` before any `message` from `p`; `peerDown(p)` when the link is gone. A peer may go up
 *   and down many times.
 * - Frames from one peer arrive whole. A reliable transport (libp2p, automerge) delivers them in
 *   order and exactly once while the link is up; the simulator may drop, duplicate and reorder
 *   (the sync protocol tolerates all three).
 * - A frame is at most `MAX_FRAME_BYTES`; `send` refuses bigger ones.
 */
import type { ResultAsync } from 'neverthrow';
import type { Env } from './env.js';
import type { TransportError } from './errors.js';
import type { IdentityKey, PeerId } from './facts/types.js';

/** What a transport gets from the peer that starts it. */
export interface TransportContext {
  /** This peer's id (its origin). */
  readonly peerId: PeerId;
  /**
   * This peer's identity key (Ed25519: `raw` is seed ‖ public key, as in libp2p): a transport
   * authenticates its connections with it. A libp2p `PrivateKey` has this shape; the engine's own
   * keys are not libp2p objects, so a libp2p transport builds one from `raw`.
   */
  readonly privateKey: IdentityKey;
  readonly env: Env;
}

/** Callbacks from a transport into the peer. */
export interface TransportHandler {
  peerUp(peer: PeerId): void;
  peerDown(peer: PeerId): void;
  message(from: PeerId, frame: Uint8Array): void;
  /**
   * An announcement `from` published for `space` (see {@link Announcer}). Untrusted like a frame: the
   * peer decodes it under the limits and only takes it as a hint of what to pull. False when it does
   * not decode or breaks the limits: the transport should not relay it.
   */
  announcement?(from: PeerId, space: string, frame: Uint8Array): boolean;
}

/**
 * Broadcast of per-space announcements, for spaces whose peers each link to a few others (libp2p
 * with gossipsub: a topic per space). An announcement says which counters the announcer holds; a
 * peer that learns it lacks facts pulls them over a link to the announcer, never out of the
 * announcement itself, so facts are checked exactly as on any link.
 */
export interface Announcer {
  /** Hear (and relay) the announcements of `space` from now on. */
  join(space: string): void;
  leave(space: string): void;
  /** Publish `frame` (an encoded `hello`: what this peer holds of `space`) to the space's peers. */
  announce(space: string, frame: Uint8Array): void;
  /** Get a link to `peer` (an announcer we are not linked to): dial it if needed. */
  pull(peer: PeerId): void;
  /**
   * The link `pull(peer)` opened brought what was announced, or stopped bringing anything: close it
   * if it was opened for the pull alone (a peer linked for another reason stays linked).
   */
  release?(peer: PeerId): void;
}

export interface Transport {
  /** Start listening/dialling. Called once, by `createPeer`. */
  start(context: TransportContext, handler: TransportHandler): ResultAsync<void, TransportError>;
  /** Queue `frame` for `to`. Resolves when handed to the link, not when delivered. */
  send(to: PeerId, frame: Uint8Array): ResultAsync<void, TransportError>;
  /** Drop the link to `peer` (a misbehaving peer); it may reconnect later. */
  disconnect(peer: PeerId): void;
  /** Where others can reach this peer (multiaddrs with `/p2p/<id>`); empty when not applicable. */
  addresses(): string[];
  /** Close every link and stop. */
  stop(): Promise<void>;
  /** Present when this transport can broadcast per-space announcements (see {@link Announcer}). */
  readonly announcer?: Announcer | undefined;
}
