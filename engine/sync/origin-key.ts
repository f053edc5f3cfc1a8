/**
 * Origin keys: vectors on the wire name origins by the first 8 bytes of SHA-256 of the PeerId
 * (10 bytes an entry instead of ~55). Facts still carry full PeerIds, which signatures need.
 *
 * A key collision (2^-64 by accident) or a peer that forges one can only confuse bookkeeping about
 * what that remote holds: the remote's own claims decide what we send it, never what we accept.
 */
import { toHex } from '../facts/bytes.js';
import { sha256 } from '../facts/hash.js';
import type { PeerId, Vector } from '../facts/types.js';

/** 16 hex digits naming an origin on the wire. */
export type OriginKey = string & { readonly __brand: 'OriginKey' };

/** A vector keyed by origin keys, as decoded from the wire. */
export type WireVector = ReadonlyMap<OriginKey, number>;

export const ORIGIN_KEY_BYTES = 8;

const encoder = new TextEncoder();
const cache = new Map<string, OriginKey>();
const CACHE_SIZE = 65_536;

/** The key of an origin (cached). */
export function originKey(origin: PeerId): OriginKey {
  let key = cache.get(origin);
  if (key === undefined) {
    key = toHex(sha256(encoder.encode(origin)).subarray(0, ORIGIN_KEY_BYTES)) as OriginKey;
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(origin, key);
  }
  return key;
}

/** A vector as it goes on the wire. */
export function toWire(vector: ReadonlyMap<PeerId, number>): WireVector {
  const out = new Map<OriginKey, number>();
  for (const [origin, counter] of vector) out.set(originKey(origin), counter);
  return out;
}

/** Resolves origin keys to the origins a space knows. */
export class OriginDirectory {
  readonly #byKey = new Map<OriginKey, PeerId>();

  add(origin: PeerId): void {
    const key = originKey(origin);
    if (!this.#byKey.has(key)) this.#byKey.set(key, origin);
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
}
