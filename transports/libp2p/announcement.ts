/**
 * What a Shoal announcement looks like on a gossipsub topic: the publisher's addresses (so a peer
 * that lacks what it announced can dial it, although they share no connection), then the engine's
 * frame. Gossipsub signs the message with the publisher's key, so the addresses are its own claim;
 * a dial to them still checks the PeerId in the noise handshake.
 *
 * Layout: one byte, the number of addresses; per address a big-endian u16 length and the binary
 * multiaddr; the rest is the frame.
 */
import { err, ok, type Result } from 'neverthrow';
import { toHex } from '../../engine/facts/bytes.js';
import { sha256Stream } from '../../engine/facts/hash.js';
import { MAX_ANNOUNCEMENT_BYTES } from '../../engine/limits.js';

/** The topic of a space's announcements. */
export function spaceTopic(space: string): string {
  return `/shoal/space/${space}`;
}

/** Most addresses an announcement carries; the rest are left out. */
export const MAX_ANNOUNCED_ADDRS = 8; // addresses

/** Longest binary multiaddr an announcement carries. */
export const MAX_ANNOUNCED_ADDR_BYTES = 256; // bytes

/** Largest gossipsub message of a Shoal topic: the frame and the addresses. */
export const MAX_ANNOUNCEMENT_MESSAGE_BYTES =
  MAX_ANNOUNCEMENT_BYTES + 1 + MAX_ANNOUNCED_ADDRS * (2 + MAX_ANNOUNCED_ADDR_BYTES); // bytes

/** A decoded announcement message. */
export interface AnnouncementMessage {
  /** Binary multiaddrs of the publisher. */
  readonly addrs: readonly Uint8Array[];
  readonly frame: Uint8Array;
}

/** The message for `frame`, with (up to MAX_ANNOUNCED_ADDRS of) `addrs`. */
export function encodeAnnouncement(addrs: readonly Uint8Array[], frame: Uint8Array): Uint8Array {
  const kept = addrs.filter((a) => a.byteLength <= MAX_ANNOUNCED_ADDR_BYTES).slice(0, MAX_ANNOUNCED_ADDRS);
  const size = 1 + kept.reduce((n, a) => n + 2 + a.byteLength, 0) + frame.byteLength;
  const out = new Uint8Array(size);
  out[0] = kept.length;
  let at = 1;
  for (const addr of kept) {
    out[at] = addr.byteLength >> 8;
    out[at + 1] = addr.byteLength & 0xff;
    out.set(addr, at + 2);
    at += 2 + addr.byteLength;
  }
  out.set(frame, at);
  return out;
}

/** Decode a message off a space topic; anything out of shape or over the limits is an error. */
export function decodeAnnouncement(bytes: Uint8Array): Result<AnnouncementMessage, string> {
  if (bytes.byteLength > MAX_ANNOUNCEMENT_MESSAGE_BYTES) return err(`announcement of ${bytes.byteLength} bytes`);
  const count = bytes[0];
  if (count === undefined || count > MAX_ANNOUNCED_ADDRS) return err('bad address count');
  const addrs: Uint8Array[] = [];
  let at = 1;
  for (let i = 0; i < count; i++) {
    if (at + 2 > bytes.byteLength) return err('truncated address');
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    if (length > MAX_ANNOUNCED_ADDR_BYTES || at + 2 + length > bytes.byteLength) return err('bad address length');
    addrs.push(bytes.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  const frame = bytes.subarray(at);
  if (frame.byteLength === 0 || frame.byteLength > MAX_ANNOUNCEMENT_BYTES) return err('bad frame length');
  return ok({ addrs, frame });
}

/** The fields of a gossipsub message on the wire (its RPC form, before any check). */
export interface WireGossipMessage {
  readonly from?: Uint8Array | undefined;
  readonly seqno?: Uint8Array | undefined;
  readonly topic: string;
  readonly data?: Uint8Array | undefined;
  readonly signature?: Uint8Array | undefined;
  readonly key?: Uint8Array | undefined;
}

/**
 * Gossipsub's fast message id: SHA-256 over every field, each length-prefixed. A peer receives each
 * announcement from several mesh peers; with this id the copies of one it already validated are
 * dropped before their signature is checked again (a verify costs ~100 times a hash). Gossipsub
 * remembers the id only once the message passed validation, so a forged copy cannot shadow it.
 */
export function announcementId(message: WireGossipMessage): string {
  const hash = sha256Stream();
  const empty = new Uint8Array(0);
  const topic = new TextEncoder().encode(message.topic);
  for (const part of [message.from, message.seqno, topic, message.signature, message.key, message.data]) {
    const bytes = part ?? empty;
    hash.update(
      new Uint8Array([bytes.byteLength >>> 24, bytes.byteLength >>> 16, bytes.byteLength >>> 8, bytes.byteLength]),
    );
    hash.update(bytes);
  }
  return toHex(hash.digest());
}
