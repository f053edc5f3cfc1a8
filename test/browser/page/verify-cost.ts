/**
 * What checking one fact's signature costs, measured the same way in Node and in the browser page:
 * sign `count` distinct hashes with one Ed25519 identity, then verify each with a fresh
 * `SignatureVerifier` (the engine's: Node's crypto where there is one, else WebCrypto, or
 * `@noble/curves` where WebCrypto has no Ed25519). The verifier's key cache is warm after the first check, as
 * it is in a peer; its cache of verified signatures never hits (every hash differs).
 */
import { generateKeyPair } from '@libp2p/crypto/keys';
import { createSigner, SignatureVerifier } from '../../../engine/facts/sign.js';
import { sha256 } from '../../../engine/facts/hash.js';
import type { Hash } from '../../../engine/facts/types.js';

/** Checks made before timing, so JIT compilation and key import are not counted. */
const WARM_UP = 100;

/** One measurement. */
export interface VerifyCost {
  readonly count: number;
  /** Mean microseconds per verification. */
  readonly verifyMicros: number;
  /** Mean microseconds per signature (for comparison; a peer signs once per outgoing run). */
  readonly signMicros: number;
  /** How many verified (all of them, or the measurement is void). */
  readonly verified: number;
}

export async function measureVerifyCost(count: number): Promise<VerifyCost> {
  const key = await generateKeyPair('Ed25519');
  const signer = createSigner(key);
  if (signer.isErr()) throw new Error(signer.error.message);
  const { origin } = signer.value;
  const sign = (hash: Hash): Promise<Uint8Array> => signer.value.sign(hash);
  const hashes: Hash[] = [];
  for (let i = 0; i < count + WARM_UP; i++) hashes.push(sha256(new TextEncoder().encode(`fact ${i}`)));
  const warm = hashes.splice(0, WARM_UP);
  const warmVerifier = new SignatureVerifier();
  for (const hash of warm) await warmVerifier.verify(origin, hash, await sign(hash));
  let started = performance.now();
  const sigs: Uint8Array[] = [];
  for (const hash of hashes) sigs.push(await sign(hash));
  const signMicros = ((performance.now() - started) * 1000) / count;
  const verifier = new SignatureVerifier();
  let verified = 0;
  started = performance.now();
  for (let i = 0; i < count; i++) if (await verifier.verify(origin, hashes[i]!, sigs[i]!)) verified += 1;
  const verifyMicros = ((performance.now() - started) * 1000) / count;
  return { count, verifyMicros, signMicros, verified };
}
