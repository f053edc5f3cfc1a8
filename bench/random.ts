/**
 * Seeded randomness for benchmark inputs. Ids are random-looking (as the libraries would make them,
 * so their encoded sizes are realistic) but the same on every run, so two runs measure the same input.
 */

/** A deterministic stream of uint32s (mulberry32). Not for cryptography. */
export function seededUint32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * `count` distinct values from `next`. Writers must not share an id: two Yjs docs with one clientID
 * or two Automerge docs with one actor would corrupt the merge being measured.
 */
export function distinct<T>(count: number, next: () => T): T[] {
  const seen = new Set<T>();
  while (seen.size < count) seen.add(next());
  return [...seen];
}

/** A lowercase hex string of `bytes` random bytes (Automerge actor ids are 16 random bytes). */
export function randomHex(next: () => number, bytes: number): string {
  let hex = '';
  while (hex.length < bytes * 2) hex += next().toString(16).padStart(8, '0');
  return hex.slice(0, bytes * 2);
}
