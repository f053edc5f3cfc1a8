/**
 * The engine's Ed25519-only identity code against `@libp2p/crypto` and `@libp2p/peer-id`, which the
 * engine used before (and which wrote every identity stored so far): the same stored bytes, the
 * same PeerIds, signatures that verify both ways, on every backend (node:crypto, WebCrypto, WebCrypto
 * without Ed25519 falling back to @noble/curves, @noble/curves alone). Other key types are refused
 * with typed errors, never thrown.
 */
import {
  generateKeyPair,
  generateKeyPairFromSeed,
  privateKeyFromProtobuf,
  privateKeyToProtobuf,
} from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { base58btc } from 'multiformats/bases/base58';
import { describe, expect, it } from 'vitest';
import { createPeer, memoryStorage } from '../../engine/index.js';
import { toHex } from '../../engine/facts/bytes.js';
import {
  decodePrivateKey,
  keyFromSeed,
  nobleBackend,
  nodeBackend,
  peerIdOfPublicKey,
  publicKeyOfPeerId,
  webCryptoBackend,
  type Ed25519Backend,
} from '../../engine/facts/ed25519.js';
import { sha256 } from '../../engine/facts/hash.js';
import { nodeCrypto } from '../../engine/facts/hash.js';
import {
  createSigner,
  decodeIdentity,
  encodeIdentity,
  identityFromSeed,
  originOf,
  SignatureVerifier,
} from '../../engine/facts/sign.js';
import { unwrap } from '../support/peers.js';

const seeds = [0, 1, 7, 42, 255].map((n) => new Uint8Array(32).map((_, i) => (n * 31 + i * 7) & 0xff));
const hash = sha256(new TextEncoder().encode('a fact'));

/** A WebCrypto whose Ed25519 is missing, as in an older browser: every Ed25519 call rejects. */
const subtleWithoutEd25519 = new Proxy(globalThis.crypto.subtle, {
  get(target, prop) {
    if (prop === 'importKey' || prop === 'sign' || prop === 'verify') {
      return () => Promise.reject(new DOMException('Unrecognized name.', 'NotSupportedError'));
    }
    return Reflect.get(target, prop, target) as unknown;
  },
});

const backends: Ed25519Backend[] = [
  nodeBackend(nodeCrypto!),
  webCryptoBackend(globalThis.crypto.subtle),
  { ...webCryptoBackend(subtleWithoutEd25519), name: 'WebCrypto without Ed25519 (→ @noble/curves)' },
  nobleBackend,
];

describe('identities stored by libp2p (the format before this code)', () => {
  it('load to the same PeerId and write back byte for byte', async () => {
    for (const seed of seeds) {
      const old = await generateKeyPairFromSeed('Ed25519', seed);
      const stored = privateKeyToProtobuf(old);
      const key = unwrap(decodeIdentity(stored));
      expect(originOf(key)).toBe(peerIdFromPrivateKey(old).toString());
      expect(originOf(key)).toMatch(/^12D3KooW/);
      expect(toHex(encodeIdentity(key))).toBe(toHex(stored));
      // and what we write, libp2p reads as the same key
      const made = unwrap(await identityFromSeed(seed));
      expect(toHex(encodeIdentity(made))).toBe(toHex(stored));
      expect(privateKeyFromProtobuf(encodeIdentity(made)).equals(old)).toBe(true);
    }
  });

  it('a database whose identity libp2p wrote opens as the same peer', async () => {
    const old = await generateKeyPairFromSeed('Ed25519', seeds[2]!);
    const storage = memoryStorage();
    unwrap(await storage.setMeta('identity', privateKeyToProtobuf(old)));
    const peer = unwrap(await createPeer({ storage }));
    expect(peer.id).toBe(peerIdFromPrivateKey(old).toString());
    await peer.close();
    // and the libp2p key itself is still accepted as the identity of that storage
    const again = unwrap(await createPeer({ storage, identity: old }));
    expect(again.id).toBe(peerIdFromPrivateKey(old).toString());
    await again.close();
  });

  it('signatures verify both ways against @libp2p/crypto', async () => {
    for (const seed of seeds) {
      const old = await generateKeyPairFromSeed('Ed25519', seed);
      const key = unwrap(decodeIdentity(privateKeyToProtobuf(old)));
      const signer = unwrap(createSigner(key));
      const ours = await signer.sign(hash);
      expect(await old.publicKey.verify(hash, ours)).toBe(true);
      const theirs = await old.sign(hash);
      // Ed25519 is deterministic: the same signature
      expect(toHex(ours)).toBe(toHex(theirs));
      const verifier = new SignatureVerifier();
      expect(await verifier.verify(signer.origin, hash, theirs)).toBe(true);
      const bad = Uint8Array.from(theirs); // (a Buffer's slice() would share its bytes)
      bad[5]! ^= 1;
      expect(await new SignatureVerifier().verify(signer.origin, hash, bad)).toBe(false);
      // a libp2p key given directly signs the same
      expect(toHex(await unwrap(createSigner(old)).sign(hash))).toBe(toHex(theirs));
    }
  });
});

describe.each(backends.map((b) => [b.name, b] as const))('backend %s', (_, backend) => {
  it('derives the key libp2p derives from a seed, and signs and verifies as libp2p does', async () => {
    for (const seed of seeds.slice(0, 3)) {
      const old = await generateKeyPairFromSeed('Ed25519', seed);
      const key = unwrap(await keyFromSeed(seed, backend));
      expect(toHex(key.raw)).toBe(toHex(old.raw));
      expect(toHex(key.publicKey.raw)).toBe(toHex(old.publicKey.raw));
      const sig = await key.sign(hash);
      expect(await old.publicKey.verify(hash, sig)).toBe(true);
      const verify = backend.verifier(key.publicKey.raw);
      const theirs = await old.sign(hash);
      expect(await verify(hash, theirs)).toBe(true);
      const bad = Uint8Array.from(theirs); // (a Buffer's slice() would share its bytes)
      bad[40]! ^= 0x80;
      expect(await verify(hash, bad)).toBe(false);
      expect(await verify(sha256(hash), theirs)).toBe(false);
      expect(await verify(hash, new Uint8Array(64).fill(0xff))).toBe(false);
      expect(await verify(hash, new Uint8Array(3))).toBe(false);
    }
  });
});

describe('PeerIds', () => {
  it('round-trip with libp2p PeerIds', async () => {
    for (const seed of seeds) {
      const old = await generateKeyPairFromSeed('Ed25519', seed);
      const id = peerIdFromPrivateKey(old).toString();
      expect(toHex(unwrap(publicKeyOfPeerId(id)))).toBe(toHex(old.publicKey.raw));
      expect(peerIdOfPublicKey(old.publicKey.raw)).toBe(id);
    }
  });

  it('anything but an Ed25519 PeerId is an error value, and never verifies', async () => {
    const ed = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', seeds[0]!)).toString();
    const others = [
      peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toString(),
      // Ed25519's layout with secp256k1's key type (2)
      base58btc.baseEncode(Uint8Array.of(0x00, 0x24, 0x08, 0x02, 0x12, 0x20, ...new Uint8Array(32).fill(9))),
      'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', // RSA (a SHA-256 multihash)
      ed.slice(0, -1),
      ed + '1',
      ' ' + ed,
      ed.replace('K', '0'), // not base58
      '',
      'not a peer id',
    ];
    const verifier = new SignatureVerifier();
    expect(verifier.isValidOrigin(ed)).toBe(true);
    for (const id of others) {
      const r = publicKeyOfPeerId(id);
      expect(r.isErr() && r.error.type, id).toBe('invalid-input');
      expect(verifier.isValidOrigin(id), id).toBe(false);
      expect(await verifier.verify(id, hash, new Uint8Array(64)), id).toBe(false);
    }
  });
});

describe('other key types', () => {
  it('are refused with typed errors by the signer, createPeer and the stored-key reader', async () => {
    const keys: PrivateKey[] = [await generateKeyPair('secp256k1'), await generateKeyPair('ECDSA')];
    for (const key of keys) {
      const signer = createSigner(key);
      expect(signer.isErr() && signer.error.type).toBe('invalid-input');
      const peer = await createPeer({ storage: memoryStorage(), identity: key });
      expect(peer.isErr() && peer.error.type, key.type).toBe('invalid-input');
      const stored = decodeIdentity(privateKeyToProtobuf(key));
      expect(stored.isErr() && stored.error.type, key.type).toBe('corrupt');
    }
    const storage = memoryStorage();
    unwrap(await storage.setMeta('identity', privateKeyToProtobuf(keys[0]!)));
    const peer = await createPeer({ storage });
    expect(peer.isErr() && peer.error.type).toBe('corrupt');
  });

  it('damaged stored keys and malformed keys are errors', async () => {
    const good = encodeIdentity(unwrap(await identityFromSeed(seeds[1]!)));
    for (const bytes of [
      good.subarray(0, 67),
      new Uint8Array([...good, 0]),
      good.map((b, i) => (i === 1 ? 2 : b)),
      new Uint8Array(),
    ]) {
      const r = decodePrivateKey(bytes);
      expect(r.isErr() && r.error.type).toBe('corrupt');
    }
    const key = unwrap(await identityFromSeed(seeds[1]!));
    // a public half that does not match
    const lying = { ...key, publicKey: { type: 'Ed25519', raw: new Uint8Array(32) } };
    const r = createSigner(lying);
    expect(r.isErr() && r.error.type).toBe('invalid-input');
    const short = await identityFromSeed(new Uint8Array(31));
    expect(short.isErr() && short.error.type).toBe('invalid-input');
  });
});
