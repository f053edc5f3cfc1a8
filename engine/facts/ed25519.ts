/**
 * Ed25519 identities without libp2p's key stack: Shoal only ever uses Ed25519, and
 * `@libp2p/crypto/keys` + `@libp2p/peer-id` bring every key type libp2p supports (RSA, ECDSA,
 * secp256k1 and their curves) into a browser bundle.
 *
 * Formats (the same bytes libp2p reads and writes, so stored identities and PeerIds are unchanged):
 * - PeerId: base58btc of the identity multihash of the protobuf-encoded public key,
 *   `00 24 | 08 01 12 20 | 32 key bytes` (`12D3KooW…`).
 * - Private key: protobuf `{ Type: Ed25519 (1), Data: seed ‖ public key }`, `08 01 12 40 | 64 bytes`.
 *
 * The curve math is never done here: `node:crypto` in Node (KeyObjects cached), WebCrypto in
 * browsers (Chromium, Firefox and Safari all have Ed25519), and `@noble/curves` only where WebCrypto
 * lacks Ed25519, loaded on first use so a browser that has it never fetches it.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { base58btc } from 'multiformats/bases/base58';
import { err, errAsync, ok, Result, ResultAsync } from 'neverthrow';
import { corrupt, describe, invalidInput, type CorruptError, type InvalidInputError } from '../errors.js';
import { base64url, equalBytes } from './bytes.js';
import { nodeCrypto } from './hash.js';
import type { Ed25519Key, IdentityKey, PeerId, VerifyFn } from './types.js';

export type { Ed25519Key, IdentityKey, VerifyFn } from './types.js';

/** Where the curve math happens. */
export interface Ed25519Backend {
  readonly name: string;
  publicKey(seed: Uint8Array): Promise<Uint8Array>;
  /** `raw` is seed ‖ public key. */
  signer(raw: Uint8Array): Result<(data: Uint8Array) => Promise<Uint8Array>, InvalidInputError>;
  verifier(publicKey: Uint8Array): VerifyFn;
}

const SEED_BYTES = 32;
const PUBLIC_KEY_BYTES = 32;
const PRIVATE_KEY_BYTES = SEED_BYTES + PUBLIC_KEY_BYTES;
/** Identity multihash (0x00, 36 bytes) of the protobuf `{ Type: Ed25519, Data: <32 bytes> }`. */
const PEER_ID_PREFIX = hexToBytes('002408011220');
/** Protobuf `{ Type: Ed25519, Data: <64 bytes> }`. */
const PRIVATE_KEY_PREFIX = hexToBytes('08011240');
/** PKCS#8 DER of an Ed25519 private key (RFC 8410), before its 32-byte seed. */
const PKCS8_PREFIX = hexToBytes('302e020100300506032b657004220420');

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

/** The PeerId string of an Ed25519 public key. */
export const peerIdOfPublicKey = (publicKey: Uint8Array): PeerId =>
  base58btc.baseEncode(concat(PEER_ID_PREFIX, publicKey)) as PeerId;

const decodeBase58 = Result.fromThrowable(
  (s: string) => base58btc.baseDecode(s),
  () => invalidInput('not base58btc'),
);

/** The Ed25519 public key of a PeerId string; an error for anything else (RSA, secp256k1, junk). */
export function publicKeyOfPeerId(peerId: string): Result<Uint8Array, InvalidInputError> {
  const bytes = decodeBase58(peerId).unwrapOr(undefined);
  if (
    bytes === undefined ||
    bytes.length !== PEER_ID_PREFIX.length + PUBLIC_KEY_BYTES ||
    !equalBytes(bytes.subarray(0, PEER_ID_PREFIX.length), PEER_ID_PREFIX)
  ) {
    return err(invalidInput(`not an Ed25519 PeerId: ${peerId.slice(0, 64)}`));
  }
  const publicKey = bytes.slice(PEER_ID_PREFIX.length);
  // One spelling per key (base58 has one, but a decoder may skip what it should not).
  if (peerIdOfPublicKey(publicKey) !== peerId)
    return err(invalidInput(`not a canonical PeerId: ${peerId.slice(0, 64)}`));
  return ok(publicKey);
}

// ---------------------------------------------------------------------------------------------
// Backends

type NodeCrypto = NonNullable<typeof nodeCrypto>;

/** `node:crypto`: KeyObjects made once per key (JWK import: OpenSSL 3 reads it about 5× faster than DER). */
export function nodeBackend(nc: NodeCrypto): Ed25519Backend {
  const makeSigner = Result.fromThrowable(
    (raw: Uint8Array) => {
      const jwk = { kty: 'OKP', crv: 'Ed25519', d: base64url(raw.subarray(0, 32)), x: base64url(raw.subarray(32)) };
      const keyObject = nc.createPrivateKey({ key: jwk, format: 'jwk' });
      return (data: Uint8Array) => Promise.resolve(nc.sign(null, data, keyObject) as Uint8Array);
    },
    (e) => invalidInput(`unusable Ed25519 key: ${describe(e)}`),
  );
  const makeVerifier = Result.fromThrowable(
    (publicKey: Uint8Array): VerifyFn => {
      const keyObject = nc.createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: base64url(publicKey) },
        format: 'jwk',
      });
      return (data, sig) => nc.verify(null, data, keyObject, sig);
    },
    () => undefined,
  );
  return {
    name: 'node:crypto',
    // In a promise's executor, so a key OpenSSL refuses is a rejection, not a throw.
    publicKey: (seed) =>
      new Promise((resolve) => {
        const key = nc.createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX, seed)), format: 'der', type: 'pkcs8' });
        const spki = nc.createPublicKey(key).export({ format: 'der', type: 'spki' });
        resolve(new Uint8Array(spki.subarray(spki.length - PUBLIC_KEY_BYTES)));
      }),
    signer: (raw) => makeSigner(raw),
    verifier: (publicKey) => makeVerifier(publicKey).unwrapOr(() => false),
  };
}

type Noble = typeof import('@noble/curves/ed25519.js').ed25519;
let noble: Promise<Noble> | undefined;
/** `@noble/curves`, loaded on first use. */
const loadNoble = (): Promise<Noble> => (noble ??= import('@noble/curves/ed25519.js').then((m) => m.ed25519));

/** `@noble/curves` (pure JS): where neither `node:crypto` nor WebCrypto Ed25519 is there. */
export const nobleBackend: Ed25519Backend = {
  name: '@noble/curves',
  publicKey: async (seed) => (await loadNoble()).getPublicKey(seed),
  signer: (raw) => {
    const seed = new Uint8Array(raw.subarray(0, 32));
    return ok(async (data) => (await loadNoble()).sign(data, seed));
  },
  verifier: (publicKey) => async (data, sig) => {
    const ed = await loadNoble();
    try {
      return ed.verify(sig, data, publicKey);
    } catch {
      return false;
    }
  },
};

/** Narrows to the ArrayBuffer-backed view WebCrypto's types ask for (our bytes never live in a SharedArrayBuffer). */
const buf = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>;

const fromBase64url = (s: string): Uint8Array =>
  Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

/** WebCrypto Ed25519, or `fallback` where the browser lacks it (decided once, on first use). */
export function webCryptoBackend(subtle: SubtleCrypto, fallback: Ed25519Backend = nobleBackend): Ed25519Backend {
  const ED = { name: 'Ed25519' };
  let supported: Promise<boolean> | undefined;
  // The base point's encoding: a valid public key to try an import with.
  const probe = Uint8Array.of(0x58, ...new Array<number>(31).fill(0x66));
  const hasEd25519 = (): Promise<boolean> =>
    (supported ??= subtle.importKey('raw', buf(probe), ED, false, ['verify']).then(
      () => true,
      () => false,
    ));
  return {
    name: 'WebCrypto',
    publicKey: async (seed) => {
      if (!(await hasEd25519())) return fallback.publicKey(seed);
      const key = await subtle.importKey('pkcs8', buf(concat(PKCS8_PREFIX, seed)), ED, true, ['sign']);
      const jwk = await subtle.exportKey('jwk', key);
      return fromBase64url(jwk.x ?? '');
    },
    signer: (raw) => {
      let key: Promise<CryptoKey> | undefined;
      const fall = fallback.signer(raw);
      if (fall.isErr()) return err(fall.error);
      const jwk = { kty: 'OKP', crv: 'Ed25519', d: base64url(raw.subarray(0, 32)), x: base64url(raw.subarray(32)) };
      return ok(async (data) => {
        if (!(await hasEd25519())) return fall.value(data);
        key ??= subtle.importKey('jwk', jwk, ED, false, ['sign']);
        return new Uint8Array(await subtle.sign(ED, await key, buf(data)));
      });
    },
    verifier: (publicKey) => {
      let key: Promise<CryptoKey | null> | undefined;
      const fall = fallback.verifier(publicKey);
      return async (data, sig) => {
        if (!(await hasEd25519())) return fall(data, sig);
        key ??= subtle.importKey('raw', buf(publicKey), ED, false, ['verify']).then(
          (k) => k,
          () => null,
        );
        const k = await key;
        if (k === null) return false;
        return subtle.verify(ED, k, buf(sig), buf(data)).then(
          (v) => v,
          () => false,
        );
      };
    },
  };
}

const webSubtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;

/** The backend this host uses. */
export const backend: Ed25519Backend = nodeCrypto
  ? nodeBackend(nodeCrypto)
  : webSubtle
    ? webCryptoBackend(webSubtle)
    : nobleBackend;

// ---------------------------------------------------------------------------------------------
// Keys

/** An engine key from seed ‖ public key (64 bytes), signing with `via`. */
export function keyFromRaw(raw: Uint8Array, via: Ed25519Backend = backend): Result<Ed25519Key, InvalidInputError> {
  if (raw.length !== PRIVATE_KEY_BYTES)
    return err(invalidInput(`an Ed25519 private key is 64 bytes, not ${raw.length}`));
  const bytes = new Uint8Array(raw); // a copy (a Buffer's slice() would share the caller's bytes)
  return via.signer(bytes).map((sign) => ({
    type: 'Ed25519' as const,
    raw: bytes,
    publicKey: { type: 'Ed25519' as const, raw: bytes.subarray(SEED_BYTES) },
    sign,
  }));
}

/** The engine's Ed25519 key for `key` (a libp2p `PrivateKey` or one of ours); an error for other key types. */
export function ed25519Key(key: IdentityKey): Result<Ed25519Key, InvalidInputError> {
  if (key.type !== 'Ed25519' || key.publicKey.type !== 'Ed25519') {
    return err(invalidInput(`identity must be an Ed25519 key, not ${key.type}`));
  }
  if (key.raw.length !== PRIVATE_KEY_BYTES || !equalBytes(key.raw.subarray(SEED_BYTES), key.publicKey.raw)) {
    return err(invalidInput('identity is not a well-formed Ed25519 key (64 bytes: seed, then public key)'));
  }
  return keyFromRaw(key.raw);
}

/** A new Ed25519 key from 32 bytes of seed. */
export function keyFromSeed(
  seed: Uint8Array,
  via: Ed25519Backend = backend,
): ResultAsync<Ed25519Key, InvalidInputError> {
  if (seed.length !== SEED_BYTES) return errAsync(invalidInput(`an Ed25519 seed is 32 bytes, not ${seed.length}`));
  return ResultAsync.fromPromise(via.publicKey(seed), (e) => invalidInput(describe(e))).andThen((pub) =>
    keyFromRaw(concat(seed, pub), via),
  );
}

/** The stored form of a key: libp2p's private-key protobuf, byte for byte. */
export const encodePrivateKey = (key: Ed25519Key): Uint8Array => concat(PRIVATE_KEY_PREFIX, key.raw);

/** Reads back `encodePrivateKey`'s bytes; anything else (another key type, damage) is an error. */
export function decodePrivateKey(bytes: Uint8Array): Result<Ed25519Key, CorruptError> {
  if (
    bytes.length !== PRIVATE_KEY_PREFIX.length + PRIVATE_KEY_BYTES ||
    !equalBytes(bytes.subarray(0, 4), PRIVATE_KEY_PREFIX)
  ) {
    return err(corrupt(`stored identity key is not an Ed25519 private key (${bytes.length} bytes)`));
  }
  return keyFromRaw(bytes.subarray(PRIVATE_KEY_PREFIX.length)).mapErr((e) =>
    corrupt(`stored identity key is unreadable: ${e.message}`),
  );
}
