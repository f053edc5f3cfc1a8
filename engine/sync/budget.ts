/**
 * Per-link budgets: a token bucket per remote (what a link may make us do per period: admit new
 * origins, introduce peers, fetch blob bytes). A bucket holds at most `capacity` tokens and refills
 * at `capacity` per `periodMs`, on the monotonic clock.
 */
import type { PeerId } from '../facts/types.js';

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  readonly #capacity: number;
  readonly #periodMs: number;
  readonly #now: () => number;
  readonly #buckets = new Map<PeerId, Bucket>();

  constructor(capacity: number, periodMs: number, now: () => number) {
    this.#capacity = capacity;
    this.#periodMs = periodMs;
    this.#now = now;
  }

  /** Take `n` tokens from `peer`'s bucket; false (and nothing taken) when it holds fewer. */
  take(peer: PeerId, n = 1): boolean {
    const bucket = this.#refill(peer);
    if (bucket.tokens < n) return false;
    bucket.tokens -= n;
    return true;
  }

  /** Tokens `peer` has now. */
  available(peer: PeerId): number {
    return this.#refill(peer).tokens;
  }

  /** Milliseconds until `peer`'s bucket holds `n` tokens again. */
  waitFor(peer: PeerId, n = 1): number {
    const missing = n - this.#refill(peer).tokens;
    return missing <= 0 ? 0 : Math.ceil((missing * this.#periodMs) / this.#capacity);
  }

  /** The link is gone: forget its bucket (a new link starts full). */
  forget(peer: PeerId): void {
    this.#buckets.delete(peer);
  }

  #refill(peer: PeerId): Bucket {
    const now = this.#now();
    let bucket = this.#buckets.get(peer);
    if (bucket === undefined) {
      bucket = { tokens: this.#capacity, at: now };
      this.#buckets.set(peer, bucket);
      return bucket;
    }
    const earned = ((now - bucket.at) * this.#capacity) / this.#periodMs;
    if (earned > 0) {
      bucket.tokens = Math.min(this.#capacity, bucket.tokens + earned);
      bucket.at = now;
    }
    return bucket;
  }
}
