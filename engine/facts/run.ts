/**
 * Runs: how facts travel. A run is one origin's consecutive facts, ending in a fact the origin
 * signed. On the wire a run carries the first fact's `prev`, the claimed hash of the last fact and
 * the signature over it; the receiver recomputes every hash along the chain, so a forged or damaged
 * fact anywhere in the run breaks the chain to the signature.
 *
 * `verifyRun` is everything a receiver checks before a fact may touch state.
 */
import { err, ok, type Result } from 'neverthrow';
import { factError, type FactError } from '../errors.js';
import { MAX_RUN_FACTS } from '../limits.js';
import { equalBytes } from './bytes.js';
import { hashFact } from './codec.js';
import type { HlcClock } from './hlc.js';
import type { SignatureVerifier } from './sign.js';
import type { Fact, FactType, Hash, Hlc, JsonObject, PeerId } from './types.js';

/** A fact as it travels inside a run: what the run's origin and position do not already say. */
export interface FactBody {
  readonly type: FactType;
  readonly hlc: Hlc;
  readonly collection: string;
  readonly item: string;
  readonly data?: JsonObject;
}

export interface Run {
  readonly origin: PeerId;
  /** Counter of the first fact. */
  readonly first: number;
  /** `prev` of the first fact. */
  readonly prev: Hash | null;
  readonly facts: readonly FactBody[];
  /** Claimed hash of the last fact. */
  readonly hash: Hash;
  /** The origin's signature over `hash`. */
  readonly sig: Uint8Array;
  /** Its encoded size on the wire, when it came off the wire (what holding it costs). */
  readonly bytes?: number | undefined;
}

/** Where an origin's chain ends on the receiver. */
export interface ChainTip {
  readonly counter: number;
  readonly hash: Hash;
}

/** Proof that an origin signed two different facts for one counter. */
export interface Equivocation {
  readonly origin: PeerId;
  readonly counter: number;
  /** The hash we hold and the conflicting signed one. */
  readonly hashes: readonly [Hash, Hash];
}

export type VerifiedRun =
  { readonly kind: 'new'; readonly facts: readonly Fact[]; readonly sig: Uint8Array } | { readonly kind: 'duplicate' };

export type RunError = FactError & {
  readonly equivocation?: Equivocation;
  /** For `clock-drift`: ms until the run would be accepted. */
  readonly retryAfter?: number;
};

/**
 * Hash chains computed so far, per Run object: a chain is a pure function of (space, run), and
 * identical runs decode to one shared object (see engine/sync/codec.ts), so each is hashed once.
 * Owned by a peer, or shared on purpose between the replicas of one simulated network.
 */
export class ChainCache {
  readonly #chains = new WeakMap<Run, { space: string; result: Result<readonly Fact[], FactError> }>();

  get(space: string, run: Run): Result<readonly Fact[], FactError> | undefined {
    const memo = this.#chains.get(run);
    return memo !== undefined && memo.space === space ? memo.result : undefined;
  }

  set(space: string, run: Run, result: Result<readonly Fact[], FactError>): void {
    this.#chains.set(run, { space, result });
  }
}

/**
 * Every fact of a run with its hash, each linked to the one before; the Fact objects are immutable
 * and may be shared.
 */
export function chainOf(space: string, run: Run, cache?: ChainCache): Result<readonly Fact[], FactError> {
  const memo = cache?.get(space, run);
  if (memo !== undefined) return memo;
  const facts: Fact[] = [];
  let prev = run.prev;
  let result: Result<readonly Fact[], FactError> = ok(facts);
  for (let i = 0; i < run.facts.length; i++) {
    const counter = run.first + i;
    const body = run.facts[i]!;
    // One object literal with every field in a fixed order (a delete's data undefined): a single
    // hidden class for all facts.
    const fact = {
      origin: run.origin,
      counter,
      hlc: body.hlc,
      type: body.type,
      collection: body.collection,
      item: body.item,
      data: body.data,
      prev,
      hash: NO_HASH,
    } as Fact & { hash: Hash };
    const hash = hashFact(space, fact);
    if (!(hash instanceof Uint8Array)) {
      result = err(factError(hash.type, hash.message, { origin: run.origin, counter }));
      break;
    }
    fact.hash = hash;
    // Frozen: the chain is shared by every replica that receives the run, down to their logs.
    facts.push(Object.freeze(fact));
    prev = hash;
  }
  cache?.set(space, run, result);
  return result;
}

const NO_HASH = new Uint8Array(0);

/**
 * Stored entries of one origin, in order, cut into the runs they were signed in (a run ends at each
 * entry that carries a signature; unsigned entries at the end are left out).
 */
export function runsOf(entries: readonly (Fact & { readonly sig?: Uint8Array | undefined })[]): Run[] {
  const runs: Run[] = [];
  let open: Fact[] = [];
  for (const entry of entries) {
    open.push(entry);
    if (entry.sig !== undefined) {
      runs.push(runOf(open, entry.sig));
      open = [];
    }
  }
  return runs;
}

/** The run made from stored facts (consecutive, one origin, the last one signed). */
export function runOf(facts: readonly Fact[], sig: Uint8Array): Run {
  const first = facts[0]!;
  const last = facts[facts.length - 1]!;
  return {
    origin: first.origin,
    first: first.counter,
    prev: first.prev,
    // A Fact is a FactBody with more fields: no copy needed.
    facts,
    hash: last.hash,
    sig,
  };
}

/** Why a run cannot be a run at all (empty, too long, bad counter, origin not a key), or undefined. */
function shapeError(run: Run, verifier: SignatureVerifier): RunError | undefined {
  const at = { origin: run.origin, counter: run.first };
  const n = run.facts.length;
  if (n === 0) return factError('malformed', 'empty run', at);
  if (n > MAX_RUN_FACTS) return factError('too-large', `run longer than ${MAX_RUN_FACTS} facts`, at);
  if (!Number.isSafeInteger(run.first) || run.first < 1) return factError('malformed', 'bad first counter', at);
  if (!verifier.isValidOrigin(run.origin)) return factError('malformed', 'origin is not an Ed25519 PeerId', at);
  return undefined;
}

/** The first fact from position `from` of `run` whose clock is too far ahead of ours, or undefined. */
function driftError(run: Run, from: number, clock: HlcClock): RunError | undefined {
  // One clock check per run: on the fact furthest ahead. Only if that one is refused, find the first.
  const facts = run.facts;
  let latest = from;
  for (let i = from + 1; i < facts.length; i++) if (facts[i]!.hlc.wall > facts[latest]!.hlc.wall) latest = i;
  if (latest >= facts.length || clock.check(facts[latest]!.hlc).isOk()) return undefined;
  for (let i = from; i < run.facts.length; i++) {
    const drift = clock.check(run.facts[i]!.hlc);
    if (drift.isErr()) return { ...drift.error, origin: run.origin, counter: run.first + i };
  }
  return undefined;
}

/** Whether `run` links to `tip` when it starts right after it (a first run has no tip and no prev). */
const linksTo = (run: Run, tip: ChainTip | undefined): boolean =>
  tip === undefined || tip.counter === 0 || (run.prev !== null && equalBytes(run.prev, tip.hash));

/**
 * Check a run against the receiver's chain tip for its origin. Cheap checks first, the signature
 * last. Nothing here touches state: the caller appends what comes back.
 */
export async function verifyRun(
  space: string,
  run: Run,
  tip: ChainTip | undefined,
  clock: HlcClock,
  verifier: SignatureVerifier,
  chains?: ChainCache,
): Promise<Result<VerifiedRun, RunError>> {
  const n = run.facts.length;
  const at = { origin: run.origin, counter: run.first };
  const shape = shapeError(run, verifier);
  if (shape !== undefined) return err(shape);

  const held = tip?.counter ?? 0;
  const last = run.first + n - 1;
  if (run.first > held + 1) {
    return err(factError('out-of-order', `counter ${run.first} follows ${held}: a gap`, at));
  }
  if (last <= held && !(last === held && !equalBytes(run.hash, tip!.hash))) return ok({ kind: 'duplicate' });

  const drift = driftError(run, Math.max(0, held + 1 - run.first), clock);
  if (drift !== undefined) return err(drift);
  // A run that starts right after our tip but names another prev. Signed by its origin, it is
  // proof that the origin signed two facts for counter `held` (the signature vouches for the prev):
  // equivocation, whoever relayed it — refusing it as the sender's fault struck honest relays of a
  // forked origin's other branch. Anything less is the sender's: a broken chain.
  const forked = held === run.first - 1 && !linksTo(run, tip);
  const broken = () => err(factError('broken-chain', `prev does not link to fact ${held}`, at));

  const chain = chainOf(space, run, chains);
  if (chain.isErr()) return forked ? broken() : err(chain.error);
  const all = chain.value;
  if (!equalBytes(all[n - 1]!.hash, run.hash)) {
    if (forked) return broken();
    return err(
      factError('bad-hash', 'the facts do not hash to the signed hash', { origin: run.origin, counter: last }),
    );
  }
  const conflict = forked
    ? run.prev!
    : held >= run.first && !equalBytes(all[held - run.first]!.hash, tip!.hash)
      ? all[held - run.first]!.hash
      : undefined;
  const facts = held >= run.first ? all.slice(held - run.first + 1) : all;
  if (!(await verifier.verify(run.origin, run.hash, run.sig))) {
    if (forked) return broken();
    return err(
      factError('bad-signature', 'signature does not verify against the origin', { origin: run.origin, counter: last }),
    );
  }
  if (conflict !== undefined) {
    return err({
      ...factError('equivocation', `origin signed two different facts for counter ${held}`, {
        origin: run.origin,
        counter: held,
      }),
      equivocation: { origin: run.origin, counter: held, hashes: [tip!.hash, conflict] },
    });
  }
  return ok({ kind: 'new', facts, sig: run.sig });
}

/** Facts of consecutive runs that verified as one chain, vouched for by the last run's signature. */
export interface ChainedRuns {
  readonly facts: readonly Fact[];
  /** The last run's signature, over the last fact's hash. */
  readonly sig: Uint8Array;
}

/**
 * Check consecutive runs of one origin that start right after the receiver's chain tip as one
 * chain, with one signature check: every fact is hashed, each run's claimed hash must be what its
 * facts hash to and the next run's `prev`, and the last run's signature must verify — through the
 * chain it vouches for every fact before it (DESIGN §2). The earlier runs' signatures are not
 * checked, so the caller keeps only the last one (what it stores is one longer signed run, as if
 * the sender had sent it so).
 *
 * Undefined unless all of that holds (and the runs are consecutive, start at the tip and fit in one
 * run): the caller then checks run by run with `verifyRun`, which gives the exact error, the same
 * blame and accepts whatever prefix holds. Nothing here touches state.
 */
export async function verifyChainedRuns(
  space: string,
  runs: readonly Run[],
  tip: ChainTip | undefined,
  clock: HlcClock,
  verifier: SignatureVerifier,
  chains?: ChainCache,
): Promise<ChainedRuns | undefined> {
  const first = runs[0];
  if (first === undefined || first.first !== (tip?.counter ?? 0) + 1 || !linksTo(first, tip)) return undefined;
  const facts: Fact[] = [];
  let previous: Run | undefined;
  for (const run of runs) {
    if (run.origin !== first.origin || shapeError(run, verifier) !== undefined) return undefined;
    if (previous !== undefined) {
      const linked = run.prev !== null && equalBytes(run.prev, previous.hash);
      if (run.first !== previous.first + previous.facts.length || !linked) return undefined;
    }
    if (facts.length + run.facts.length > MAX_RUN_FACTS || driftError(run, 0, clock) !== undefined) return undefined;
    const chain = chainOf(space, run, chains);
    if (chain.isErr() || !equalBytes(chain.value[chain.value.length - 1]!.hash, run.hash)) return undefined;
    for (const fact of chain.value) facts.push(fact);
    previous = run;
  }
  const last = runs[runs.length - 1]!;
  if (!(await verifier.verify(last.origin, last.hash, last.sig))) return undefined;
  return { facts, sig: last.sig };
}
