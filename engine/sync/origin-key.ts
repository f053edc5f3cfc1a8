/**
 * Origin keys: vectors on the wire name origins by the first 8 bytes of SHA-256 of the PeerId
 * (10 bytes an entry instead of ~55). Facts still carry full PeerIds, which signatures need.
 *
 * A key collision (2^-64 by accident) or a peer that forges one can only confuse bookkeeping about
 * what that remote holds: the remote's own claims decide what we send it, never what we accept.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { toHex } from '../facts/bytes.js';
import { sha256 } from '../facts/hash.js';
import type { PeerId, Vector } from '../facts/types.js';

/** 16 hex digits naming an origin on the wire. */
export type OriginKey = string & { readonly __brand: 'OriginKey' };

/** A vector keyed by origin keys, as decoded from the wire. */
export type WireVector = ReadonlyMap<OriginKey, number>;

export const ORIGIN_KEY_BYTES = 8;

const encoder = new TextEncoder();

/** The key of an origin. */
export function originKey(origin: PeerId): OriginKey {
  return toHex(sha256(encoder.encode(origin)).subarray(0, ORIGIN_KEY_BYTES)) as OriginKey;
}

/** The 8 bytes of an origin key. */
export function originKeyBytes(key: OriginKey): Uint8Array {
  return hexToBytes(key);
}

/**
 * The origins one space knows, by key both ways: resolves wire vectors to known origins and turns
 * local vectors into wire vectors (each origin's key is computed once).
 */
export class OriginDirectory {
  readonly #byKey = new Map<OriginKey, PeerId>();
  readonly #keyOf = new Map<PeerId, OriginKey>();

  /** Remember `origin`; returns its key. */
  add(origin: PeerId): OriginKey {
    let key = this.#keyOf.get(origin);
    if (key === undefined) {
      key = originKey(origin);
      this.#keyOf.set(origin, key);
      if (!this.#byKey.has(key)) this.#byKey.set(key, origin);
    }
    return key;
  }

  /** Whether `origin` is known. */
  has(origin: PeerId): boolean {
    return this.#keyOf.has(origin);
  }

  /** Number of origins known. */
  get size(): number {
    return this.#keyOf.size;
  }

  /** The known origins of a wire vector; unknown keys are left out. */
  resolve(vector: WireVector): Vector {
    const out: Vector = new Map();
    for (const [key, counter] of vector) {
      const origin = this.#byKey.get(key);
      if (origin !== undefined) out.set(origin, counter);
    }
    return out;
  }

  /** A vector as it goes on the wire. */
  toWire(vector: ReadonlyMap<PeerId, number>): WireVector {
    const out = new Map<OriginKey, number>();
    for (const [origin, counter] of vector) out.set(this.#keyOf.get(origin) ?? originKey(origin), counter);
    return out;
  }
}

/** A vector as it goes on the wire (origin keys computed afresh; spaces use `OriginDirectory.toWire`). */
export function toWire(vector: ReadonlyMap<PeerId, number>): WireVector {
  const out = new Map<OriginKey, number>();
  for (const [origin, counter] of vector) out.set(originKey(origin), counter);
  return out;
}
