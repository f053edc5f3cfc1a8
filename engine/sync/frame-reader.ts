/**
 * Reads what a remote lacks from the local log, a frame at a time: the session asks with what it
 * already sent, gets back one frame of signed runs (oldest first) and the counters it carries.
 * Nothing is held in memory between calls, so a catch-up of a million facts costs one frame of
 * memory at a time.
 */
import type { ChainTip, Run } from '../facts/run.js';
import { runOf } from '../facts/run.js';
import { MAX_RUN_FACTS, MAX_SEGMENT_BYTES } from '../limits.js';
import type { PeerId, Vector } from '../facts/types.js';
import type { EventLog, SequenceId } from '../log/event-log.js';
import type { OriginIndex } from '../log/origin-index.js';
import type { FactEntry } from '../log/fact-entry.js';
import { encodeRun, FactsFrameBuilder, type RunCodecCache } from './codec.js';
import type { OutgoingFrame } from './session.js';

/** Facts read from the log per call (a frame holds at most ~1 MiB of them anyway). */
const FRAME_READ_BUDGET = 8192;
/** Facts of one origin read per round. */
const FRAME_READ_CHUNK = 1024;
/** Two wanted entries this close in the log are read with one query. */
const READ_GAP = 32;

export interface FrameSource {
  readonly spaceId: string;
  readonly origin: PeerId;
  readonly log: EventLog<FactEntry>;
  readonly index: OriginIndex;
  /** Durable chain tips per origin. */
  readonly durable: ReadonlyMap<PeerId, ChainTip>;
  /** When facts of each other origin last arrived (absent: loaded from storage). */
  readonly arrivals: ReadonlyMap<PeerId, number>;
  /** Encoded runs, shared with other sessions (the same run goes to many remotes). */
  readonly codec: RunCodecCache;
  closed(): boolean;
}

/**
 * The next frame for a remote that holds `sent`. Facts of other origins that arrived after
 * `forwardBefore` are held back (reported as `heldBackUntil`); facts no longer in the log (pruned:
 * covered by a snapshot) are reported as `needsSnapshot`. Only origins in `candidates` are looked at;
 * those found fully sent are removed from it.
 */
export async function readFrame(
  src: FrameSource,
  sent: ReadonlyMap<PeerId, number>,
  maxBytes: number,
  forwardBefore: number,
  candidates: Set<PeerId>,
): Promise<OutgoingFrame | undefined> {
  const wanted: { origin: PeerId; from: number; to: number; seq: SequenceId }[] = [];
  let heldBackUntil: number | undefined;
  let needsSnapshot = false;
  for (const origin of candidates) {
    const tip = src.durable.get(origin);
    const from = (sent.get(origin) ?? 0) + 1;
    if (tip === undefined || tip.counter < from) {
      candidates.delete(origin); // the remote has everything of it
      continue;
    }
    // Facts loaded from storage arrived "at 0": forwardable unless everything else is held (-1).
    const arrived = src.arrivals.get(origin) ?? 0;
    if (origin !== src.origin && arrived > forwardBefore) {
      heldBackUntil = Math.min(heldBackUntil ?? arrived, arrived);
      continue;
    }
    const seq = src.index.seqOf(origin, from);
    if (seq === undefined) {
      needsSnapshot = true;
      continue;
    }
    wanted.push({ origin, from, to: tip.counter, seq });
  }
  const nothing = (): OutgoingFrame | undefined =>
    heldBackUntil === undefined && !needsSnapshot ? undefined : { until: new Map(), heldBackUntil, needsSnapshot };
  if (wanted.length === 0) return nothing();
  // Oldest first: a remote that fell behind gets history in the order it was written.
  wanted.sort((a, b) => a.seq - b.seq);

  const builder = new FactsFrameBuilder(src.spaceId, maxBytes, src.codec);
  const until: Vector = new Map();
  const next = new Map<PeerId, number>(wanted.map((w) => [w.origin, w.from]));
  const last = new Map<PeerId, number>(wanted.map((w) => [w.origin, w.to]));
  const open = new Map<PeerId, FactEntry[]>();
  /** Signed runs read, per origin, not in the frame yet: consecutive ones go as one (see #merged). */
  const signed = new Map<PeerId, Run[]>();
  let full = false;
  /** Put `origin`'s signed runs read so far into the frame; false once it is full. */
  const flush = (origin: PeerId): boolean => {
    const runs = signed.get(origin);
    if (runs === undefined) return !full;
    signed.delete(origin);
    if (full) return false;
    const one = merged(runs);
    // No bigger on the wire than a segment an author signs (what ingest checks chained runs against).
    if (one !== undefined && encodeRun(one, src.codec).length <= MAX_SEGMENT_BYTES && builder.add(one)) {
      until.set(origin, one.first + one.facts.length - 1);
      return true;
    }
    for (const run of runs) {
      if (!builder.add(run)) return !(full = true);
      until.set(origin, run.first + run.facts.length - 1);
    }
    return true;
  };
  let budget = FRAME_READ_BUDGET;
  // Rounds: read the next chunk of every wanted origin in one pass over the log (entries of
  // different origins interleave there), until the frame is full or the budget is spent. A run in
  // progress is always finished: it ends at a signed fact at most one append batch away. After each
  // round the runs it completed go into the frame, an origin's consecutive ones as one.
  reading: while (next.size > 0 && (budget > 0 || open.size > 0)) {
    const seqs: SequenceId[] = [];
    for (const [origin, counter] of next) {
      if (budget <= 0 && !open.has(origin)) {
        next.delete(origin);
        continue;
      }
      const to = Math.min(last.get(origin)!, counter + FRAME_READ_CHUNK - 1);
      for (let c = counter; c <= to; c++) {
        const seq = src.index.seqOf(origin, c);
        if (seq !== undefined) seqs.push(seq);
      }
    }
    if (seqs.length === 0) break;
    budget -= seqs.length;
    seqs.sort((a, b) => a - b);
    const entries = await readSeqs(src.log, seqs);
    if (entries === undefined || src.closed()) return undefined;
    for (const entry of entries) {
      const origin = entry.origin;
      const counter = entry.counter;
      if (counter + 1 > last.get(origin)!) next.delete(origin);
      else next.set(origin, counter + 1);
      let run = open.get(origin);
      if (run === undefined) open.set(origin, (run = []));
      run.push(entry);
      if (entry.sig === undefined) continue;
      open.delete(origin);
      let runs = signed.get(origin);
      if (runs === undefined) signed.set(origin, (runs = []));
      runs.push(runOf(run, entry.sig));
    }
    // What this round read goes into the frame before the next round reads more.
    for (const origin of [...signed.keys()]) if (!flush(origin)) break reading;
  }
  // In the order their first runs were read: oldest first.
  for (const origin of [...signed.keys()]) if (!flush(origin)) break;
  if (builder.runs === 0) return nothing();
  return { frame: builder.finish(), until, heldBackUntil, needsSnapshot };
}

/**
 * Consecutive signed runs of one origin as one run, signed by the last one's signature: through
 * the hash chain it vouches for every fact before it (DESIGN §2), so the earlier signatures, hashes
 * and prevs need not travel, and the receiver checks one signature (what it stores is this one run,
 * as when it checks consecutive runs as one chain, engine/sync/ingest.ts). Undefined when there is
 * only one, or when the result would be longer than a run may be (the caller also keeps it within a
 * segment an author signs, so the receiver can forward what it stores unchanged).
 */
function merged(runs: readonly Run[]): Run | undefined {
  if (runs.length < 2) return undefined;
  const facts: FactEntry[] = [];
  for (const run of runs) for (const fact of run.facts as readonly FactEntry[]) facts.push(fact);
  return facts.length > MAX_RUN_FACTS ? undefined : runOf(facts, runs[runs.length - 1]!.sig);
}

/** The entries at `seqs` (ascending), reading nearby ones with one query. */
async function readSeqs(log: EventLog<FactEntry>, seqs: readonly SequenceId[]): Promise<FactEntry[] | undefined> {
  const out: FactEntry[] = [];
  let i = 0;
  while (i < seqs.length) {
    let j = i;
    while (j + 1 < seqs.length && seqs[j + 1]! - seqs[j]! <= READ_GAP) j++;
    let at = seqs[i]!;
    const end = seqs[j]! + 1;
    let k = i;
    while (at < end) {
      const page = await log.query(at, end);
      if (page.isErr() || page.value.entries.length === 0) return undefined;
      for (const entry of page.value.entries) {
        if (at++ === seqs[k]) {
          out.push(entry);
          k++;
        }
      }
    }
    i = j + 1;
  }
  return out;
}
