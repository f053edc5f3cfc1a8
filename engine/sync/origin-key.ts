/**
 * Origin keys: vectors on the wire name origins by the first 8 bytes of SHA-256 of the PeerId
 * (10 bytes an entry instead of ~55). Facts still carry full PeerIds, which signatures need.
 *
 * A key collision (2^-64 by accident) or a peer that forges one can only confuse bookkeeping about
 * what that remote holds: the remote's own claims decide what we send it, never what we accept.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { sha256 } from '../facts/hash.js';
import type { PeerId, Vector } from '../facts/types.js';
import { OriginNumbers, OriginSlots } from '../log/origin-slots.js';

/** 16 hex digits naming an origin on the wire. */
export type OriginKey = string & { readonly __brand: 'OriginKey' };

/** A vector keyed by origin keys, as decoded from the wire. */
export type WireVector = ReadonlyMap<OriginKey, number>;

export const ORIGIN_KEY_BYTES = 8;

const encoder = new TextEncoder();

/** The key of an origin. */
export function originKey(origin: PeerId): OriginKey {
  return originKeyAt(sha256(encoder.encode(origin)));
}

/** The 8 bytes of an origin key. */
export function originKeyBytes(key: OriginKey): Uint8Array {
  return hexToBytes(key);
}

/** Two hex digits for each byte value. */
const HEX_PAIRS = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/**
 * The key whose bytes are `bytes` (ORIGIN_KEY_BYTES of them, from `at`). A vector of 10,000 origins
 * decodes 10,000 keys: joining table strings costs a fraction of a general hex encoder's call.
 */
export function originKeyAt(bytes: Uint8Array, at = 0): OriginKey {
  let key = '';
  for (let i = at; i < at + ORIGIN_KEY_BYTES; i++) key += HEX_PAIRS[bytes[i]!]!;
  return key as OriginKey;
}

/**
 * Origin keys computed once for every replica of a process that hosts many (the simulator: see
 * `PeerCache`). A key is a pure function of the PeerId, so sharing it changes nothing but time: a
 * mesh of 10,000 peers would otherwise hash every origin's PeerId 10,000 times.
 */
export class OriginKeyCache {
  readonly #keys = new Map<PeerId, OriginKey>();
  /** The first origin each key was computed for. */
  readonly #origins = new Map<OriginKey, PeerId>();
  /** Numbers for origins, so that the replicas sharing this cache find their slots without a map each. */
  readonly numbers = new OriginNumbers();

  keyOf(origin: PeerId): OriginKey {
    let key = this.#keys.get(origin);
    if (key === undefined) {
      key = originKey(origin);
      this.#keys.set(origin, key);
      if (!this.#origins.has(key)) this.#origins.set(key, origin);
    }
    return key;
  }

  /** The origin whose key `key` is, if any replica sharing this cache computed it. */
  originOf(key: OriginKey): PeerId | undefined {
    return this.#origins.get(key);
  }
}

/**
 * The origins one space knows, by key both ways: resolves wire vectors to known origins and turns
 * local vectors into wire vectors (each origin's key is computed once).
 */
export class OriginDirectory {
  /** Known origins by key, unless keys are shared (then the cache maps them back: see #originOf). */
  readonly #byKey = new Map<OriginKey, PeerId>();
  /** Keys of known origins by slot (an origin may have a slot before it is known: see `slots`). */
  readonly #keys: (OriginKey | undefined)[] = [];
  #size = 0;
  readonly #listeners = new Set<(origin: PeerId, key: OriginKey) => void>();
  /** Slots of the space's origins, for its sessions' compact vectors (see CounterVector). */
  readonly slots: OriginSlots;
  readonly #shared: OriginKeyCache | undefined;

  /**
   * `shared`: keys, the way back from a key to its origin and numbers for origins, shared by every
   * replica of this process (see OriginKeyCache): a replica of a space of n origins then keeps no map
   * of its own from keys to origins or from origins to slots. Which origins this space knows stays
   * its own, and so do its slots' order: vectors go out in slot order, which must not depend on what
   * the process shares (the simulator's runs are the same with and without shared caches).
   */
  constructor(shared?: OriginKeyCache) {
    this.#shared = shared;
    this.slots = new OriginSlots(shared?.numbers);
  }

  /** The known origin whose key is `key`. */
  #originOf(key: OriginKey): PeerId | undefined {
    if (this.#shared === undefined) return this.#byKey.get(key);
    const origin = this.#shared.originOf(key);
    return origin !== undefined && this.#keyOf(origin) !== undefined ? origin : undefined;
  }

  #keyOf(origin: PeerId): OriginKey | undefined {
    const slot = this.slots.find(origin);
    return slot === undefined ? undefined : this.#keys[slot];
  }

  /** Remember `origin`; returns its key. Listeners hear of every origin added for the first time. */
  add(origin: PeerId): OriginKey {
    const slot = this.slots.slot(origin);
    while (this.#keys.length <= slot) this.#keys.push(undefined);
    let key = this.#keys[slot];
    if (key === undefined) {
      key = this.#shared?.keyOf(origin) ?? originKey(origin);
      this.#keys[slot] = key;
      this.#size++;
      if (this.#shared === undefined && !this.#byKey.has(key)) this.#byKey.set(key, origin);
      for (const listener of this.#listeners) listener(origin, key);
    }
    return key;
  }

  /**
   * Hear of origins learned from now on: what a remote said about an origin we did not know yet (a
   * key we could not resolve) applies once we learn it.
   */
  onAdd(listener: (origin: PeerId, key: OriginKey) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether `origin` is known. */
  has(origin: PeerId): boolean {
    return this.#keyOf(origin) !== undefined;
  }

  /** Number of origins known. */
  get size(): number {
    return this.#size;
  }

  /** The known origins of a wire vector; unknown keys go to `unknown` (when given), or are left out. */
  resolve(vector: WireVector, unknown?: (key: OriginKey, counter: number) => void): Vector {
    const out: Vector = new Map();
    for (const [key, counter] of vector) {
      const origin = this.#originOf(key);
      if (origin !== undefined) out.set(origin, counter);
      else unknown?.(key, counter);
    }
    return out;
  }

  /** A vector as it goes on the wire. */
  toWire(vector: ReadonlyMap<PeerId, number>): WireVector {
    const out = new Map<OriginKey, number>();
    for (const [origin, counter] of vector) out.set(this.#keyOf(origin) ?? originKey(origin), counter);
    return out;
  }
}

/** A vector as it goes on the wire (origin keys computed afresh; spaces use `OriginDirectory.toWire`). */
export function toWire(vector: ReadonlyMap<PeerId, number>): WireVector {
  const out = new Map<OriginKey, number>();
  for (const [origin, counter] of vector) out.set(originKey(origin), counter);
  return out;
}

/**
 * Counters a remote claimed for origins we did not know yet, by key, kept (within a bound) until we
 * learn the origin.
 */
export class UnresolvedCounters {
  readonly #counters = new Map<OriginKey, number>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  note = (key: OriginKey, counter: number): void => {
    const held = this.#counters.get(key);
    if (held !== undefined) {
      if (counter > held) this.#counters.set(key, counter);
    } else if (this.#counters.size < this.#max) this.#counters.set(key, counter);
  };

  /** The counter claimed for `key`, forgotten from here on. */
  take(key: OriginKey): number | undefined {
    const counter = this.#counters.get(key);
    if (counter !== undefined) this.#counters.delete(key);
    return counter;
  }

  clear(): void {
    this.#counters.clear();
  }

  get size(): number {
    return this.#counters.size;
  }
}
