/**
 * Origins, signatures and identities.
 *
 * A peer's identity is an Ed25519 `PrivateKey` from `@libp2p/crypto`; its PeerId string is its
 * origin. A signature covers the hash of the last fact of a run; through the `prev` chain it vouches
 * for every earlier fact of that origin.
 *
 * Speed: `@libp2p/crypto` key objects rebuild a `node:crypto` KeyObject on every call (verify ≈
 * 8.8k/s here); with a cached KeyObject it is ≈ 12.7k/s, sign ≈ 35k/s. So in Node the keys are
 * turned into KeyObjects once and cached; elsewhere the `@libp2p/crypto` key objects do the work.
 */
import { generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey, PublicKey } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { err, ok, Result, ResultAsync } from 'neverthrow';
import { corrupt, describe, invalidInput, type CorruptError, type InvalidInputError } from '../errors.js';
import { base64url, toHex } from './bytes.js';
import { KEY_CACHE_ENTRIES, VERIFIED_CACHE_ENTRIES } from '../limits.js';
import { nodeCrypto } from './hash.js';
import type { Hash, PeerId } from './types.js';

/** The origin (PeerId string) of an identity key. */
export const originOf = (key: PrivateKey): PeerId => peerIdFromPrivateKey(key).toString() as PeerId;

/** A new Ed25519 identity from 32 bytes of seed (from `env.randomBytes`, so simulations replay). */
export function identityFromSeed(seed: Uint8Array): ResultAsync<PrivateKey, InvalidInputError> {
  return ResultAsync.fromPromise(generateKeyPairFromSeed('Ed25519', seed), (e) => invalidInput(describe(e)));
}

/** Serialize an identity key for storage. */
export const encodeIdentity = (key: PrivateKey): Uint8Array => privateKeyToProtobuf(key);

/** Read back an identity key written by `encodeIdentity`. */
export const decodeIdentity: (bytes: Uint8Array) => Result<PrivateKey, CorruptError> = Result.fromThrowable(
  (bytes: Uint8Array) => privateKeyFromProtobuf(bytes),
  (e) => corrupt(`stored identity key is unreadable: ${describe(e)}`),
);

/** Signs fact hashes for one identity. */
export interface Signer {
  readonly origin: PeerId;
  sign(hash: Hash): Promise<Uint8Array>;
}

export function createSigner(key: PrivateKey): Result<Signer, InvalidInputError> {
  if (key.type !== 'Ed25519') return err(invalidInput(`identity must be an Ed25519 key, not ${key.type}`));
  const origin = originOf(key);
  const nc = nodeCrypto;
  if (nc) {
    // JWK, not DER: OpenSSL 3 imports it about 5× faster. Only reached in Node, where Buffer exists.
    const jwk = { kty: 'OKP', crv: 'Ed25519', d: base64url(key.raw.subarray(0, 32)), x: base64url(key.publicKey.raw) };
    const keyObject = nc.createPrivateKey({ key: jwk, format: 'jwk' });
    return ok({ origin, sign: (hash) => Promise.resolve(nc.sign(null, hash, keyObject)) });
  }
  return ok({ origin, sign: async (hash) => key.sign(hash) });
}

type VerifyFn = (hash: Hash, sig: Uint8Array) => boolean | Promise<boolean>;

/**
 * Memo tables of signature checking: each origin's verification key, and the (origin, hash,
 * signature) triples that verified. Both are pure functions of their keys (a triple is remembered
 * only once it verified), so a hit changes nothing but time. Owned by a peer, or shared on purpose
 * by the caller of `createPeer` (the simulator shares one between the replicas of one network).
 */
export class SignatureCache {
  readonly keys = new Map<string, VerifyFn | null>();
  readonly verified = new Set<string>();
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
    const verified = this.#cache.verified;
    const key = origin + toHex(sig) + toHex(hash);
    // A hit takes the same turn as a check (one await), so whether the cache is shared, warm or cold
    // never changes the order in which things happen.
    if (verified.has(key)) return await Promise.resolve(true);
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
    if (keys.size >= KEY_CACHE_ENTRIES) {
      // Maps iterate in insertion order: drop the oldest.
      const oldest = keys.keys().next();
      if (oldest.done !== true) keys.delete(oldest.value);
    }
    keys.set(origin, fn);
    return fn;
  }
}

const parsePublicKey = Result.fromThrowable(
  (origin: string): PublicKey | undefined => peerIdFromString(origin).publicKey,
  () => undefined,
);

function makeVerifier(origin: string): VerifyFn | null {
  const key = parsePublicKey(origin).unwrapOr(undefined);
  if (key === undefined || key.type !== 'Ed25519') return null;
  const nc = nodeCrypto;
  if (nc) {
    // JWK import is about 5× cheaper than DER, which matters when most origins sign once.
    const keyObject = nc.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(key.raw) }, format: 'jwk' });
    return (hash, sig) => nc.verify(null, hash, keyObject, sig);
  }
  return (hash, sig) => key.verify(hash, sig);
}
