/**
 * The ingest pipeline of one space: runs received from remotes are verified (engine/facts/run.ts:
 * limits, hash chain, link to the chain tip, signature, clock drift) and queued for the log. Runs
 * that arrive ahead of a gap (reordering) wait in a stash until the gap fills.
 *
 * Blame the link that sent the bytes: a stashed run remembers who sent it, and if it turns out bad
 * when its gap fills, its sender is struck — never the peer whose fact filled the gap. Each link may
 * keep at most MAX_STASH_BYTES_PER_LINK waiting, for STASH_TTL_MS at most, so one link cannot
 * disable reorder tolerance for the others. Each link may introduce at most
 * MAX_NEW_ORIGINS_PER_MINUTE origins we never held; beyond that its runs are refused with a typed
 * `budget` error (not its fault: it offers them again later).
 *
 * One ingest at a time per space: each run is checked against the chain tips the previous one left.
 * Consecutive runs of one origin from one link (a catch-up frame of an origin that signed often)
 * are checked as one chain with one signature check, the last run's; what is stored is then one
 * signed run. If that check fails they are checked run by run, as if they had come one by one.
 */
import type { Env } from '../env.js';
import { equalBytes } from '../facts/bytes.js';
import { verifyChainedRuns, verifyRun, type ChainCache, type Run, type RunError } from '../facts/run.js';
import type { SignedEntryCache } from '../log/fact-entry.js';
import type { SignatureVerifier } from '../facts/sign.js';
import type { Fact, PeerId } from '../facts/types.js';
import {
  MAX_NEW_ORIGINS_PER_MINUTE,
  MAX_RUN_FACTS,
  MAX_SEGMENT_BYTES,
  MAX_STASH_BYTES_PER_LINK,
  STASH_TTL_MS,
} from '../limits.js';
import type { Replica } from '../space/replica.js';
import { TokenBuckets } from './budget.js';

/** Outcome of handing runs to the space. */
export interface IngestOutcome {
  /** Runs refused for a reason that is the sender's fault (the sender was complained to). */
  readonly errors: readonly RunError[];
  /** Origins of runs that were valid (new or already held), with the last counter each run covered. */
  readonly covered: ReadonlyMap<PeerId, number>;
  /** Resolves once the accepted facts are durable (false if storage failed). */
  readonly durable: Promise<boolean>;
  /**
   * Runs refused for a reason that is not the sender's fault, to be offered again later: its clock
   * is ahead of ours (`clock-drift`), or it introduced more new origins than its budget
   * (`budget`). With the ms until they could be taken.
   */
  readonly refused: ReadonlyMap<'clock-drift' | 'budget', number>;
}

/** Where an equivocation (an origin signing two facts for one counter) is reported. */
export type EquivocationSink = (from: PeerId, origin: PeerId, counter: number, message: string) => void;

export interface IngestDeps {
  readonly replica: Replica;
  readonly verifier: SignatureVerifier;
  readonly chains: ChainCache;
  /** Shared on purpose by replicas of one process (see engine/peer/cache.ts); else each entry is made here. */
  readonly entries?: SignedEntryCache | undefined;
  readonly env: Env;
  readonly monotonic: () => number;
  readonly equivocation: EquivocationSink;
  /** `peer` sent a run that is its fault: a typed error and a strike. */
  readonly complain: (peer: PeerId, code: string, message: string) => void;
  readonly closed: () => boolean;
}

/** A run waiting for its gap to fill, with who sent it and when. */
interface Stashed {
  readonly run: Run;
  readonly from: PeerId;
  readonly at: number;
  readonly bytes: number;
}

/** What holding a run costs, when it did not come off the wire with its size. */
const estimatedBytes = (run: Run): number => run.bytes ?? 128 + 64 * run.facts.length;

export class Ingest {
  readonly #deps: IngestDeps;
  /** Waiting runs by origin. */
  readonly #stash = new Map<PeerId, Stashed[]>();
  /** Bytes waiting, per link that sent them. */
  readonly #stashed = new Map<PeerId, number>();
  readonly #newOrigins: TokenBuckets;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(deps: IngestDeps) {
    this.#deps = deps;
    this.#newOrigins = new TokenBuckets(MAX_NEW_ORIGINS_PER_MINUTE, 60_000, deps.monotonic);
  }

  /** Verify and queue runs received from `from`. */
  ingest(runs: readonly Run[], from: PeerId): Promise<IngestOutcome> {
    const result = this.#chain.then(() => this.#ingest(runs.map((run) => ({ run, from }))));
    this.#chain = result;
    return result;
  }

  /** Chains of `origins` moved without runs (a snapshot was adopted): stashed runs may fit now. */
  chainsMoved(origins: Iterable<PeerId>): void {
    const replica = this.#deps.replica;
    const ready: { run: Run; from: PeerId }[] = [];
    for (const origin of origins) ready.push(...this.#unstash(origin, replica.counter(origin)));
    if (ready.length > 0) this.#chain = this.#chain.then(() => this.#ingest(ready));
  }

  /** The link to `peer` is gone: what it left waiting goes (it can send it again). */
  forget(peer: PeerId): void {
    for (const [origin, list] of this.#stash) {
      const kept = list.filter((s) => s.from !== peer);
      if (kept.length === 0) this.#stash.delete(origin);
      else this.#stash.set(origin, kept);
    }
    this.#stashed.delete(peer);
  }

  async #ingest(queue: { run: Run; from: PeerId }[]): Promise<IngestOutcome> {
    const { replica, verifier, chains } = this.#deps;
    const errors: RunError[] = [];
    const covered = new Map<PeerId, number>();
    const refused = new Map<'clock-drift' | 'budget', number>();
    const refuse = (code: 'clock-drift' | 'budget', ms: number) =>
      refused.set(code, Math.max(refused.get(code) ?? 0, ms));
    let last: Promise<boolean> = Promise.resolve(true);
    this.#expire();
    /** Runs before this index are checked one by one (a chained check of them failed). */
    let single = 0;
    for (let i = 0; i < queue.length; i++) {
      const { run, from } = queue[i]!;
      if (replica.tip(run.origin) === undefined && !this.#newOrigins.take(from)) {
        // An origin we never held: admitting it costs every peer for ever. Within budget only.
        refuse('budget', this.#newOrigins.waitFor(from));
        continue;
      }
      const chained = i >= single ? this.#chainedAt(queue, i) : 1;
      if (chained > 1) {
        const runs = queue.slice(i, i + chained).map((q) => q.run);
        const verified = await verifyChainedRuns(
          replica.spaceId,
          runs,
          replica.tip(run.origin),
          replica.clock,
          verifier,
          chains,
        );
        if (this.#deps.closed()) break;
        if (verified !== undefined) {
          last = this.#accept(verified.facts, verified.sig, covered);
          queue.push(...this.#unstash(run.origin, replica.tip(run.origin)!.counter));
          i += chained - 1;
          continue;
        }
        single = i + chained;
      }
      const verified = await verifyRun(replica.spaceId, run, replica.tip(run.origin), replica.clock, verifier, chains);
      if (this.#deps.closed()) break;
      if (verified.isErr()) {
        const e = verified.error;
        if (e.type === 'out-of-order') this.#stashRun(run, from);
        else if (e.type === 'equivocation' && e.equivocation !== undefined) {
          this.#deps.equivocation(from, run.origin, e.equivocation.counter, e.message);
        } else if (e.type === 'clock-drift') refuse('clock-drift', e.retryAfter ?? 0);
        else {
          errors.push(e);
          this.#deps.complain(from, e.type, e.message);
        }
        continue;
      }
      if (verified.value.kind === 'duplicate') {
        const end = run.first + run.facts.length - 1;
        covered.set(run.origin, Math.max(covered.get(run.origin) ?? 0, end));
        await this.#checkBelowTip(run, from);
        continue;
      }
      last = this.#accept(verified.value.facts, verified.value.sig, covered);
      queue.push(...this.#unstash(run.origin, replica.tip(run.origin)!.counter));
    }
    return { errors, covered, durable: last, refused };
  }

  /**
   * How many runs from `queue[i]` on can be checked as one chain: consecutive runs of one origin
   * from one link, the first right after our tip, together no longer than one run may be and no
   * bigger than a segment an author signs (so the run we store still fits in a frame when forwarded).
   */
  #chainedAt(queue: readonly { run: Run; from: PeerId }[], i: number): number {
    const { run, from } = queue[i]!;
    if (run.first !== (this.#deps.replica.tip(run.origin)?.counter ?? 0) + 1) return 1;
    let facts = run.facts.length;
    let bytes = estimatedBytes(run);
    let j = i + 1;
    for (; j < queue.length; j++) {
      const next = queue[j]!.run;
      if (queue[j]!.from !== from || next.origin !== run.origin || next.first !== run.first + facts) break;
      facts += next.facts.length;
      bytes += estimatedBytes(next);
      if (facts > MAX_RUN_FACTS || bytes > MAX_SEGMENT_BYTES) break;
    }
    return j - i;
  }

  /**
   * Queue verified facts of one origin for the log, the signature on the last one. Returns when
   * they are durable.
   */
  #accept(facts: readonly Fact[], sig: Uint8Array, covered: Map<PeerId, number>): Promise<boolean> {
    const replica = this.#deps.replica;
    const tail = facts[facts.length - 1]!;
    covered.set(tail.origin, Math.max(covered.get(tail.origin) ?? 0, tail.counter));
    replica.queued(tail.origin, tail); // a fact is its own chain tip: no object per run
    replica.clock.observe(tail.hlc);
    for (let k = 0; k < facts.length - 1; k++) void replica.appender.append(facts[k]!);
    const entry = this.#deps.entries?.signed(tail, sig) ?? { ...tail, sig };
    return replica.appender.append(entry).then((r) => r.isOk());
  }

  /**
   * A run we already hold (it ends at or below the chain tip): if its signed end differs from the
   * fact we hold for that counter, its origin signed two facts for one counter — equivocation,
   * recorded with the proof, whoever relayed it.
   */
  async #checkBelowTip(run: Run, from: PeerId): Promise<void> {
    const { replica, verifier } = this.#deps;
    const end = run.first + run.facts.length - 1;
    if (end >= replica.counter(run.origin)) return; // at the tip, verifyRun compared the hashes
    const held = await replica.hashOf(run.origin, end);
    if (held === undefined || equalBytes(held, run.hash)) return;
    if (!(await verifier.verify(run.origin, run.hash, run.sig))) {
      this.#deps.complain(from, 'bad-signature', 'signature does not verify against the origin');
      return;
    }
    this.#deps.equivocation(from, run.origin, end, `origin signed two different facts for counter ${end}`);
  }

  #stashRun(run: Run, from: PeerId): void {
    // Runs that arrive ahead of a gap (reordering) wait here, within the sender's bound, for the gap.
    const bytes = estimatedBytes(run);
    const held = this.#stashed.get(from) ?? 0;
    if (held + bytes > MAX_STASH_BYTES_PER_LINK) return; // dropped: the sender retransmits later
    const list = this.#stash.get(run.origin) ?? [];
    list.push({ run, from, at: this.#deps.monotonic(), bytes });
    this.#stash.set(run.origin, list);
    this.#stashed.set(from, held + bytes);
  }

  #unstash(origin: PeerId, counter: number): { run: Run; from: PeerId }[] {
    const list = this.#stash.get(origin);
    if (list === undefined) return [];
    const ready = list.filter((s) => s.run.first <= counter + 1);
    const waiting = list.filter((s) => s.run.first > counter + 1);
    for (const s of ready) this.#release(s);
    if (waiting.length === 0) this.#stash.delete(origin);
    else this.#stash.set(origin, waiting);
    return ready.sort((a, b) => a.run.first - b.run.first).map((s) => ({ run: s.run, from: s.from }));
  }

  /** Drop runs that waited longer than STASH_TTL_MS. */
  #expire(): void {
    const oldest = this.#deps.monotonic() - STASH_TTL_MS;
    for (const [origin, list] of this.#stash) {
      const kept = list.filter((s) => s.at >= oldest);
      if (kept.length === list.length) continue;
      for (const s of list) if (s.at < oldest) this.#release(s);
      if (kept.length === 0) this.#stash.delete(origin);
      else this.#stash.set(origin, kept);
    }
  }

  #release(s: Stashed): void {
    const left = (this.#stashed.get(s.from) ?? 0) - s.bytes;
    if (left <= 0) this.#stashed.delete(s.from);
    else this.#stashed.set(s.from, left);
  }
}
