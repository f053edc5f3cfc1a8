/**
 * The signed handshake that turns a peer id on an automerge-repo adapter (a claim: anyone can put
 * any `senderId` on a message) into an authenticated link, and the keys that bind every later
 * message on that link to it.
 *
 * Four messages; A starts (the initiator), B answers (the responder):
 *
 * ```
 * HELLO    A → B   nA ‖ eA                         a fresh challenge and an ephemeral ECDH share
 * REPLY    B → A   nA ‖ nB ‖ eB ‖ sigB(T('R'))     B answers A's challenge and sets its own
 * CONFIRM  A → B   nB ‖ sigA(T('I'))               A answers B's challenge
 * READY    B → A   sealed                          B accepted A: the first message under the link keys
 * ```
 *
 * `T(role) = "shoal-auth-v1" ‖ role ‖ nA ‖ nB ‖ eA ‖ eB ‖ idA ‖ idB` (ids length-prefixed). It
 * binds both nonces, so an answer replayed from an earlier handshake fails, and both PeerIds, so an
 * answer relayed from a handshake with someone else fails; the role byte keeps A's signature from
 * passing as B's. Each side verifies with the public key inside the PeerId the other claims.
 *
 * Why keys on top of the challenge: on an adapter where others can post under the same peer id (a
 * BroadcastChannel, a relay), a link checked once at the start could still be ridden afterwards.
 * So the ECDH secret (its shares signed in T) gives one key per direction (HKDF-SHA-256, salted with
 * T), and every later message (FRAME, READY, BYE) carries a sequence number and an HMAC-SHA-256 tag:
 * nobody else can inject, replay or hang up. The frames are not encrypted: adapters carry them as
 * they always did.
 */
import { generateEphemeralKeyPair } from '@libp2p/crypto/keys';
import type { PublicKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { nodeCrypto, sha256 } from '../../engine/facts/hash.js';

/** Domain of every signature and key of the handshake: nothing else Shoal signs can pass for it. */
export const AUTH_DOMAIN = 'shoal-auth-v1';

/** Bytes of a handshake nonce. */
export const NONCE_BYTES = 32; // 256 bits

/** Bytes of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;

/** Bytes of an ephemeral ECDH share: an uncompressed P-256 point. */
export const EPHEMERAL_KEY_BYTES = 65;

/** Bytes of the HMAC-SHA-256 tag on a sealed message (truncated, as GCM and Poly1305 tags are). */
export const MAC_BYTES = 16; // 128 bits

/** Bytes of a sealed message's sequence number. */
const SEQ_BYTES = 4;

/** What a sealed message adds in front of its payload: tag, sequence number, MAC. */
export const SEALED_HEADER_BYTES = 1 + SEQ_BYTES + MAC_BYTES;

/** The first byte of every `shoal` message's `data`: what it is. */
export const Tag = {
  /** Sealed: one engine frame. */
  FRAME: 0x00,
  HELLO: 0x10,
  REPLY: 0x11,
  CONFIRM: 0x12,
  /** Sealed, empty: the responder accepted the initiator. */
  READY: 0x13,
  /** Sealed, empty: "I dropped the link" (adapters have no per-peer hang-up). */
  BYE: 0x14,
} as const;

export type SealedTag = typeof Tag.FRAME | typeof Tag.READY | typeof Tag.BYE;

const HELLO_BYTES = 1 + NONCE_BYTES + EPHEMERAL_KEY_BYTES;
const REPLY_BYTES = 1 + 2 * NONCE_BYTES + EPHEMERAL_KEY_BYTES + SIGNATURE_BYTES;
const CONFIRM_BYTES = 1 + NONCE_BYTES + SIGNATURE_BYTES;

export interface Hello {
  readonly nonce: Uint8Array;
  readonly share: Uint8Array;
}

export interface Reply {
  /** The initiator's nonce, echoed: which HELLO this answers. */
  readonly initiatorNonce: Uint8Array;
  readonly nonce: Uint8Array;
  readonly share: Uint8Array;
  readonly signature: Uint8Array;
}

export interface Confirm {
  /** The responder's nonce, echoed: which REPLY this answers. */
  readonly responderNonce: Uint8Array;
  readonly signature: Uint8Array;
}

export function encodeHello(hello: Hello): Uint8Array {
  return concat([Uint8Array.of(Tag.HELLO), hello.nonce, hello.share]);
}

export function encodeReply(reply: Reply): Uint8Array {
  return concat([Uint8Array.of(Tag.REPLY), reply.initiatorNonce, reply.nonce, reply.share, reply.signature]);
}

export function encodeConfirm(confirm: Confirm): Uint8Array {
  return concat([Uint8Array.of(Tag.CONFIRM), confirm.responderNonce, confirm.signature]);
}

/** A HELLO, or undefined when `data` is not one (wrong tag or length). */
export function parseHello(data: Uint8Array): Hello | undefined {
  if (data.byteLength !== HELLO_BYTES || data[0] !== Tag.HELLO) return undefined;
  const [nonce, share] = split(data.subarray(1), [NONCE_BYTES, EPHEMERAL_KEY_BYTES]);
  return { nonce: nonce!, share: share! };
}

export function parseReply(data: Uint8Array): Reply | undefined {
  if (data.byteLength !== REPLY_BYTES || data[0] !== Tag.REPLY) return undefined;
  const [initiatorNonce, nonce, share, signature] = split(data.subarray(1), [
    NONCE_BYTES,
    NONCE_BYTES,
    EPHEMERAL_KEY_BYTES,
    SIGNATURE_BYTES,
  ]);
  return { initiatorNonce: initiatorNonce!, nonce: nonce!, share: share!, signature: signature! };
}

export function parseConfirm(data: Uint8Array): Confirm | undefined {
  if (data.byteLength !== CONFIRM_BYTES || data[0] !== Tag.CONFIRM) return undefined;
  const [responderNonce, signature] = split(data.subarray(1), [NONCE_BYTES, SIGNATURE_BYTES]);
  return { responderNonce: responderNonce!, signature: signature! };
}

/** Everything one handshake's signatures and keys are bound to. */
export interface Transcript {
  readonly initiator: string;
  readonly responder: string;
  readonly initiatorNonce: Uint8Array;
  readonly responderNonce: Uint8Array;
  readonly initiatorShare: Uint8Array;
  readonly responderShare: Uint8Array;
}

const ROLE_INITIATOR = 0x49; // 'I'
const ROLE_RESPONDER = 0x52; // 'R'

/** The bytes `role` signs: `AUTH_DOMAIN ‖ role ‖ nA ‖ nB ‖ eA ‖ eB ‖ idA ‖ idB`. */
export function signedBytes(role: 'initiator' | 'responder', t: Transcript): Uint8Array {
  return transcriptBytes(role === 'initiator' ? ROLE_INITIATOR : ROLE_RESPONDER, t);
}

/** The Ed25519 public key inside a PeerId, or undefined: not a PeerId, or one without such a key. */
export function publicKeyOf(id: string): PublicKey | undefined {
  try {
    const peer = peerIdFromString(id);
    return peer.type === 'Ed25519' ? peer.publicKey : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `signature` is `id`'s signature over `data`; a key or signature that does not parse is a no. */
export async function verifySignature(id: string, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const key = publicKeyOf(id);
  if (key === undefined) return false;
  try {
    return await key.verify(data, signature);
  } catch {
    return false;
  }
}

/** One side's ephemeral ECDH key pair (P-256, the curve every WebCrypto has), used for one handshake. */
export interface Ephemeral {
  readonly share: Uint8Array;
  /** The shared secret with `theirs`; rejects when `theirs` is not a point on the curve. */
  secret(theirs: Uint8Array): Promise<Uint8Array>;
}

export async function ephemeral(): Promise<Ephemeral> {
  const pair = await generateEphemeralKeyPair('P-256');
  return { share: pair.key, secret: (theirs) => pair.genSharedKey(theirs) };
}

/** Why a sealed message was refused. */
export type OpenFailure = 'malformed' | 'forged';

/**
 * The two keys of one link and its sequence numbers: seals what this side sends, opens what the
 * other side sent. Sequence numbers only go up, so a message cannot be replayed or reordered.
 */
export class SealedLink {
  readonly #sendKey: Uint8Array;
  readonly #receiveKey: Uint8Array;
  #sent = 0;
  #received = -1;

  /** The link keys of a finished handshake, for the side `role`. */
  constructor(secret: Uint8Array, t: Transcript, role: 'initiator' | 'responder') {
    const salt = sha256(transcriptBytes(0, t));
    const keys = hkdf(nobleSha256, secret, salt, new TextEncoder().encode(`${AUTH_DOMAIN} link keys`), 64);
    const initiatorToResponder = keys.slice(0, 32);
    const responderToInitiator = keys.slice(32, 64);
    this.#sendKey = role === 'initiator' ? initiatorToResponder : responderToInitiator;
    this.#receiveKey = role === 'initiator' ? responderToInitiator : initiatorToResponder;
  }

  /** `tag ‖ seq ‖ mac ‖ payload`, or undefined once this link's sequence numbers are used up. */
  seal(tag: SealedTag, payload: Uint8Array = new Uint8Array(0)): Uint8Array | undefined {
    if (this.#sent > 0xffff_ffff) return undefined;
    const out = new Uint8Array(SEALED_HEADER_BYTES + payload.byteLength);
    out[0] = tag;
    new DataView(out.buffer).setUint32(1, this.#sent);
    this.#sent += 1;
    out.set(payload, SEALED_HEADER_BYTES);
    out.set(mac(this.#sendKey, out.subarray(0, 1 + SEQ_BYTES), payload), 1 + SEQ_BYTES);
    return out;
  }

  /** The payload of a sealed message from the other side, or why it was refused. */
  open(data: Uint8Array): { tag: number; payload: Uint8Array } | OpenFailure {
    if (data.byteLength < SEALED_HEADER_BYTES) return 'malformed';
    const seq = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
    const payload = data.subarray(SEALED_HEADER_BYTES);
    const expected = mac(this.#receiveKey, data.subarray(0, 1 + SEQ_BYTES), payload);
    if (!sameBytes(expected, data.subarray(1 + SEQ_BYTES, SEALED_HEADER_BYTES))) return 'forged';
    if (seq <= this.#received) return 'forged'; // a replay
    this.#received = seq;
    return { tag: data[0]!, payload };
  }
}

function transcriptBytes(role: number, t: Transcript): Uint8Array {
  const encoder = new TextEncoder();
  const initiator = encoder.encode(t.initiator);
  const responder = encoder.encode(t.responder);
  return concat([
    encoder.encode(AUTH_DOMAIN),
    Uint8Array.of(role),
    t.initiatorNonce,
    t.responderNonce,
    t.initiatorShare,
    t.responderShare,
    u16(initiator.byteLength),
    initiator,
    u16(responder.byteLength),
    responder,
  ]);
}

/** HMAC-SHA-256 over `header ‖ payload`, truncated to `MAC_BYTES`. */
function mac(key: Uint8Array, header: Uint8Array, payload: Uint8Array): Uint8Array {
  if (nodeCrypto !== undefined) {
    const h = nodeCrypto.createHmac('sha256', key);
    h.update(header);
    h.update(payload);
    return new Uint8Array(h.digest().subarray(0, MAC_BYTES));
  }
  return hmac.create(nobleSha256, key).update(header).update(payload).digest().subarray(0, MAC_BYTES);
}

/** Constant-time comparison of two tags of the same length. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function u16(value: number): Uint8Array {
  return Uint8Array.of(value >>> 8, value & 0xff);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

function split(data: Uint8Array, lengths: readonly number[]): Uint8Array[] {
  let offset = 0;
  return lengths.map((length) => {
    const part = data.slice(offset, offset + length);
    offset += length;
    return part;
  });
}
