/**
 * The ingest pipeline of one space: runs received from remotes are verified (engine/facts/run.ts:
 * limits, hash chain, link to the chain tip, signature, clock drift) and queued for the log. Runs
 * that arrive ahead of a gap (reordering) wait in a bounded stash until the gap fills.
 *
 * One ingest at a time per space: each run is checked against the chain tips the previous one left.
 */
import type { Env } from '../env.js';
import { verifyRun, type ChainCache, type Run, type RunError } from '../facts/run.js';
import type { SignatureVerifier } from '../facts/sign.js';
import type { PeerId } from '../facts/types.js';
import { MAX_STASHED_FACTS } from '../limits.js';
import type { Replica } from '../space/replica.js';

/** Outcome of handing runs to the space. */
export interface IngestOutcome {
  /** Runs refused for a reason that is the sender's fault. */
  readonly errors: readonly RunError[];
  /** Origins of runs that were valid (new or already held), with the last counter each run covered. */
  readonly covered: ReadonlyMap<PeerId, number>;
  /** Resolves once the accepted facts are durable (false if storage failed). */
  readonly durable: Promise<boolean>;
  /**
   * Runs were refused because the sender's clock is ahead of ours (not its fault, no strike): ms
   * until they could be accepted. Undefined when none was.
   */
  readonly driftRetryAfter?: number | undefined;
}

/** Where an equivocation (an origin signing two facts for one counter) is reported. */
export type EquivocationSink = (from: PeerId, origin: PeerId, counter: number, message: string) => void;

export interface IngestDeps {
  readonly replica: Replica;
  readonly verifier: SignatureVerifier;
  readonly chains: ChainCache;
  readonly env: Env;
  readonly equivocation: EquivocationSink;
  readonly closed: () => boolean;
}

export class Ingest {
  readonly #deps: IngestDeps;
  readonly #stash = new Map<PeerId, Run[]>();
  #stashedFacts = 0;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(deps: IngestDeps) {
    this.#deps = deps;
  }

  /** Verify and queue runs received from `from`. */
  ingest(runs: readonly Run[], from: PeerId): Promise<IngestOutcome> {
    const result = this.#chain.then(() => this.#ingest(runs, from));
    this.#chain = result;
    return result;
  }

  /** Chains of `origins` moved without runs (a snapshot was adopted): stashed runs may fit now. */
  chainsMoved(origins: Iterable<PeerId>): void {
    const replica = this.#deps.replica;
    for (const origin of origins) {
      const ready = this.#unstash(origin, replica.counter(origin));
      if (ready.length > 0) void this.ingest(ready, replica.origin);
    }
  }

  async #ingest(runs: readonly Run[], from: PeerId): Promise<IngestOutcome> {
    const { replica, verifier, chains } = this.#deps;
    const errors: RunError[] = [];
    const covered = new Map<PeerId, number>();
    let driftRetryAfter: number | undefined;
    let last: Promise<boolean> = Promise.resolve(true);
    const queue = [...runs];
    for (let i = 0; i < queue.length; i++) {
      const run = queue[i]!;
      const verified = await verifyRun(replica.spaceId, run, replica.tip(run.origin), replica.clock, verifier, chains);
      if (this.#deps.closed()) break;
      if (verified.isErr()) {
        const e = verified.error;
        if (e.type === 'out-of-order') this.#stashRun(run);
        else if (e.type === 'equivocation' && e.equivocation !== undefined) {
          this.#deps.equivocation(from, run.origin, e.equivocation.counter, e.message);
        } else if (e.type === 'clock-drift') driftRetryAfter = Math.max(driftRetryAfter ?? 0, e.retryAfter ?? 0);
        else errors.push(e);
        continue;
      }
      const end = run.first + run.facts.length - 1;
      covered.set(run.origin, Math.max(covered.get(run.origin) ?? 0, end));
      if (verified.value.kind === 'duplicate') continue;
      const facts = verified.value.facts;
      const tail = facts[facts.length - 1]!;
      replica.queued(run.origin, { counter: tail.counter, hash: tail.hash });
      replica.clock.observe(tail.hlc);
      for (let k = 0; k < facts.length - 1; k++) void replica.appender.append(facts[k]!);
      last = replica.appender.append({ ...tail, sig: verified.value.sig }).then((r) => r.isOk());
      queue.push(...this.#unstash(run.origin, tail.counter));
    }
    return { errors, covered, durable: last, driftRetryAfter };
  }

  #stashRun(run: Run): void {
    // Runs that arrive ahead of a gap (reordering) wait here, within a bound, for the gap to fill.
    if (this.#stashedFacts + run.facts.length > MAX_STASHED_FACTS) return;
    const list = this.#stash.get(run.origin) ?? [];
    list.push(run);
    this.#stash.set(run.origin, list);
    this.#stashedFacts += run.facts.length;
  }

  #unstash(origin: PeerId, counter: number): Run[] {
    const list = this.#stash.get(origin);
    if (list === undefined) return [];
    const ready = list.filter((r) => r.first <= counter + 1);
    const waiting = list.filter((r) => r.first > counter + 1);
    for (const r of ready) this.#stashedFacts -= r.facts.length;
    if (waiting.length === 0) this.#stash.delete(origin);
    else this.#stash.set(origin, waiting);
    return ready.sort((a, b) => a.first - b.first);
  }
}
