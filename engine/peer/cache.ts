/**
 * Memo tables for pure functions a peer evaluates again and again: signature checks, hash chains of
 * runs, run encodings and decodings. Every entry is a pure function of its key, so a hit changes
 * nothing but time (and a signature check takes the same turn hit or miss).
 *
 * Each peer makes its own by default. A process that hosts many replicas of the same spaces (the
 * simulator) may pass one `PeerCache` to all of them on purpose, so that a run decoded or a signature
 * verified by one replica is not redone by the next. That is sound because entries are pure functions
 * of the bytes they are keyed by — a signature is remembered only once it verified, so a hostile peer
 * can put nothing in that would not also verify for the next replica — and every replica still checks
 * each run against its own chain tips. It stays deterministic because the cache lives and dies with
 * the network that made it: one seed gives one run whatever ran before it in the process.
 */
import { ChainCache } from '../facts/run.js';
import { SignatureCache } from '../facts/sign.js';
import { SignedEntryCache } from '../log/fact-entry.js';
import { RegisterCache } from '../state/register-cache.js';
import { RunCodecCache } from '../sync/codec.js';
import { OriginKeyCache } from '../sync/origin-key.js';

export interface PeerCacheInit {
  /**
   * Share item records between the replicas that use this cache (see `RegisterCache`). Only worth
   * it for a cache many replicas share: for one peer it would only hold on to its own records.
   * @default false
   */
  shareRegisters?: boolean;
  /**
   * Share origin keys (a hash of each PeerId), the way back from a key to its origin and numbers for
   * origins between the replicas that use this cache: a replica of a space of n origins then keeps no
   * key → PeerId or PeerId → slot map of its own (its slots, and so the order its vectors go out in,
   * stay its own). Like `shareRegisters`, only worth it for a cache many replicas share.
   * @default false
   */
  shareOriginKeys?: boolean;
  /**
   * Share the log entries of verified runs' last facts between the replicas that use this cache
   * (see `SignedEntryCache`). Like `shareRegisters`, only worth it for a cache many replicas share.
   * @default false
   */
  shareEntries?: boolean;
  /**
   * How many origins' public keys stay imported for signature checks. A cache shared by the replicas
   * of a space with more origins than this re-imports a key on nearly every check.
   * @default KEY_CACHE_ENTRIES (4,096)
   */
  keyEntries?: number;
}

export class PeerCache {
  readonly signatures: SignatureCache;
  readonly chains = new ChainCache();
  readonly runs = new RunCodecCache();
  readonly registers: RegisterCache | undefined;
  readonly originKeys: OriginKeyCache | undefined;
  readonly entries: SignedEntryCache | undefined;

  constructor(init: PeerCacheInit = {}) {
    this.signatures = new SignatureCache(init.keyEntries);
    this.registers = init.shareRegisters === true ? new RegisterCache() : undefined;
    this.originKeys = init.shareOriginKeys === true ? new OriginKeyCache() : undefined;
    this.entries = init.shareEntries === true ? new SignedEntryCache() : undefined;
  }
}
