/**
 * SHA-256, one function everywhere: `node:crypto` where the host has it (Node, Bun, Deno: about
 * 1.5× faster here), `@noble/hashes` elsewhere (browsers, workers). Same bytes in, same digest out.
 *
 * On Node the one-shot `crypto.hash` is used (cheaper per call than `createHash`), asked for a
 * 'binary' (latin1) string rather than a Buffer: a short string is an ordinary heap object, while
 * every Buffer brings a backing store for the garbage collector to track and free, and a digest is
 * only 32 bytes to copy out.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { DIGEST_SLAB_BYTES } from '../limits.js';
import type { Hash } from './types.js';

type NodeCrypto = typeof import('node:crypto');

/** `node:crypto`, loaded synchronously without a static import so bundlers for browsers skip it. */
export const nodeCrypto: NodeCrypto | undefined = (() => {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  return mod && typeof mod.hash === 'function' ? mod : undefined;
})();

const DIGEST_BYTES = 32;

/** Write the SHA-256 of `data` into `out` (32 bytes) through node:crypto's one-shot hash. */
function nodeDigestInto(crypto: NodeCrypto, data: Uint8Array, out: Uint8Array): Uint8Array {
  const digest = crypto.hash('sha256', data, 'binary');
  for (let i = 0; i < DIGEST_BYTES; i++) out[i] = digest.charCodeAt(i);
  return out;
}

/** SHA-256 of `data` (32 bytes, a plain Uint8Array everywhere). */
export const sha256: (data: Uint8Array) => Hash = nodeCrypto
  ? (data) => nodeDigestInto(nodeCrypto, data, new Uint8Array(DIGEST_BYTES))
  : (data) => nobleSha256(data);

/**
 * Digests for a stream of small inputs (the hash of every local write): each digest is a 32-byte
 * view into a shared slab of `DIGEST_SLAB_BYTES`, so a hash costs no buffer of its own. Safe because
 * hashes are immutable and long-lived (they stay in facts, chains and logs), and every consumer
 * reads a hash through its view (offset and length), never through `.buffer`. A view holds its
 * slab alive, which is why only a caller hashing many facts should own one. In browsers the digest
 * comes from @noble/hashes, which returns a fresh array anyway, and is used as it is.
 *
 * A view is built directly on the slab's ArrayBuffer (`new Uint8Array(buffer, offset, 32)`), not
 * with `subarray`, which looks up a species constructor on every call: about half the cost of the
 * view. (A fresh `new Uint8Array(32)` per digest is cheaper to make but not to keep: facts hold
 * their hashes, and many small on-heap arrays cost the garbage collector more than views do.)
 */
export class DigestSlab {
  #slab = new ArrayBuffer(0);
  #used = 0;

  /** SHA-256 of `data`, a view of 32 bytes that nothing else writes to. */
  digest(data: Uint8Array): Hash {
    if (nodeCrypto === undefined) return nobleSha256(data);
    if (this.#used + DIGEST_BYTES > this.#slab.byteLength) {
      this.#slab = new ArrayBuffer(DIGEST_SLAB_BYTES);
      this.#used = 0;
    }
    const out = new Uint8Array(this.#slab, this.#used, DIGEST_BYTES);
    this.#used += DIGEST_BYTES;
    return nodeDigestInto(nodeCrypto, data, out);
  }
}

/** An incremental SHA-256 for long inputs (state hashes, snapshots). */
export interface Sha256Stream {
  update(data: Uint8Array): void;
  digest(): Hash;
}

export function sha256Stream(): Sha256Stream {
  if (nodeCrypto) {
    const h = nodeCrypto.createHash('sha256');
    return { update: (d) => void h.update(d), digest: () => new Uint8Array(h.digest()) };
  }
  const h = nobleSha256.create();
  return { update: (d) => void h.update(d), digest: () => h.digest() };
}
