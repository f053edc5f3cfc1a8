/**
 * Origins, signatures and identities.
 *
 * A peer's identity is an Ed25519 key (a libp2p `PrivateKey`, or one made here); its PeerId string
 * is its origin. A signature covers the hash of the last fact of a run; through the `prev` chain it
 * vouches for every earlier fact of that origin.
 *
 * The key formats and the curve backends (node:crypto with cached KeyObjects, WebCrypto, @noble as a
 * last resort) are in `ed25519.ts`: Ed25519 only, without libp2p's multi-key-type stack.
 */
import type { Result, ResultAsync } from 'neverthrow';
import type { CorruptError, InvalidInputError } from '../errors.js';
import { equalBytes, toHex } from './bytes.js';
import {
  backend,
  decodePrivateKey,
  ed25519Key,
  encodePrivateKey,
  keyFromSeed,
  peerIdOfPublicKey,
  publicKeyOfPeerId,
} from './ed25519.js';
import { KEY_CACHE_ENTRIES, VERIFIED_CACHE_ENTRIES } from '../limits.js';
import type { Ed25519Key, Hash, IdentityKey, PeerId, VerifyFn } from './types.js';

export type { Ed25519Key, IdentityKey } from './types.js';

/** The origin (PeerId string) of an Ed25519 identity key. */
export const originOf = (key: Ed25519Key): PeerId => peerIdOfPublicKey(key.publicKey.raw);

/** A new Ed25519 identity from 32 bytes of seed (from `env.randomBytes`, so simulations replay). */
export const identityFromSeed = (seed: Uint8Array): ResultAsync<Ed25519Key, InvalidInputError> => keyFromSeed(seed);

/** The engine's key for an identity given by the caller: Ed25519 only. */
export const checkIdentity = (key: IdentityKey): Result<Ed25519Key, InvalidInputError> => ed25519Key(key);

/** Serialize an identity key for storage (libp2p's private-key protobuf, byte for byte). */
export const encodeIdentity = (key: Ed25519Key): Uint8Array => encodePrivateKey(key);

/** Read back an identity key written by `encodeIdentity`. */
export const decodeIdentity = (bytes: Uint8Array): Result<Ed25519Key, CorruptError> => decodePrivateKey(bytes);

/** Signs fact hashes for one identity. */
export interface Signer {
  readonly origin: PeerId;
  sign(hash: Hash): Promise<Uint8Array>;
}

/** A signer for `key`; an error unless it is a well-formed Ed25519 key. */
export function createSigner(key: IdentityKey): Result<Signer, InvalidInputError> {
  return ed25519Key(key).map((k) => ({ origin: originOf(k), sign: (hash) => k.sign(hash) }));
}

/**
 * Memo tables of signature checking: each origin's verification key, and the (origin, hash,
 * signature) triples that verified. Both are pure functions of their keys (a triple is remembered
 * only once it verified), so a hit changes nothing but time. Owned by a peer, or shared on purpose
 * by the caller of `createPeer` (the simulator shares one between the replicas of one network).
 */
export class SignatureCache {
  readonly keys = new Map<string, VerifyFn | null>();
  /** Most origins whose keys `keys` holds (the oldest imported goes first). */
  readonly keyEntries: number;
  readonly verified = new Set<string>();
  /**
   * Triples checked at least twice, by the signature object they came in: replicas that share
   * decoded runs (the simulator) present the same object again and again, and building the string
   * key of `verified` for each was most of the cost of a hit. A hit still compares the origin and
   * the bytes with copies taken when the triple verified, so a signature object changed since (a
   * view into a reused buffer) only misses. Entries go with their signature object.
   */
  readonly repeated = new WeakMap<Uint8Array, VerifiedTriple>();

  /**
   * `keyEntries`: how many origins' imported keys to keep. A cache that sees more origins than this
   * in turn imports a key again on every check (a simulator's cache shared by a mesh of 10,000
   * origins spent a fifth of its time re-importing keys under the default).
   */
  constructor(keyEntries = KEY_CACHE_ENTRIES) {
    this.keyEntries = keyEntries;
  }
}

/** Copies of a triple that verified (see `SignatureCache.repeated`). */
interface VerifiedTriple {
  readonly origin: string;
  readonly hash: Uint8Array;
  readonly sig: Uint8Array;
}

/**
 * Verifies signatures by origin, caching each origin's key. An origin that is not an Ed25519 PeerId
 * never verifies.
 */
export class SignatureVerifier {
  readonly #cache: SignatureCache;

  constructor(cache: SignatureCache = new SignatureCache()) {
    this.#cache = cache;
  }

  /** True when `sig` is `origin`'s signature over `hash`. */
  async verify(origin: string, hash: Hash, sig: Uint8Array): Promise<boolean> {
    const fn = this.#keyFor(origin);
    if (fn === null || sig.length !== 64) return false;
    // A hit takes the same turn as a check (one await), so whether the cache is shared, warm or cold
    // never changes the order in which things happen.
    const repeated = this.#cache.repeated.get(sig);
    if (
      repeated !== undefined &&
      repeated.origin === origin &&
      equalBytes(repeated.hash, hash) &&
      equalBytes(repeated.sig, sig)
    )
      return await Promise.resolve(true);
    const verified = this.#cache.verified;
    const key = origin + toHex(sig) + toHex(hash);
    if (verified.has(key)) {
      // Copies, not `slice()`: a Node Buffer's `slice` is a view.
      this.#cache.repeated.set(sig, { origin, hash: Uint8Array.from(hash), sig: Uint8Array.from(sig) });
      return await Promise.resolve(true);
    }
    const ok = await fn(hash, sig);
    if (ok) {
      if (verified.size >= VERIFIED_CACHE_ENTRIES) verified.delete(verified.values().next().value!);
      verified.add(key);
    }
    return ok;
  }

  /** True when `origin` is a well-formed Ed25519 PeerId. */
  isValidOrigin(origin: string): boolean {
    return this.#keyFor(origin) !== null;
  }

  #keyFor(origin: string): VerifyFn | null {
    const keys = this.#cache.keys;
    let fn = keys.get(origin);
    if (fn !== undefined) return fn;
    fn = makeVerifier(origin);
    if (keys.size >= this.#cache.keyEntries) {
      // Maps iterate in insertion order: drop the oldest.
      const oldest = keys.keys().next();
      if (oldest.done !== true) keys.delete(oldest.value);
    }
    keys.set(origin, fn);
    return fn;
  }
}

function makeVerifier(origin: string): VerifyFn | null {
  const key = publicKeyOfPeerId(origin);
  return key.isOk() ? backend.verifier(key.value) : null;
}
