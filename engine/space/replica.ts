/**
 * The local replica of one space: its event log and everything derived from it — the LWW registers,
 * the pending overlay, where each origin's hash chain ends, where each fact sits in the log, the
 * origins known and the clock. Every component of a space reads the replica; only the write path,
 * the ingest pipeline, snapshot adoption and pruning change it, through the methods below.
 *
 * Invariants:
 * - the registers (and `stateHash()`) only ever hold durable facts;
 * - `tip(o)` is where origin o's chain ends including facts queued for the log, `durableTip(o)` where
 *   it ends on disk; a failed append resets the queued tips to the durable ones.
 */
import type { Env } from '../env.js';
import type { ChainTip } from '../facts/run.js';
import { HlcClock } from '../facts/hlc.js';
import type { Hash, PeerId, Vector } from '../facts/types.js';
import { RUN_END_HASHES } from '../limits.js';
import { Appender, type AppenderHooks } from '../log/appender.js';
import type { EventLog, SequenceId } from '../log/event-log.js';
import type { FactEntry } from '../log/fact-entry.js';
import { OriginIndex } from '../log/origin-index.js';
import { SlotMap } from '../log/origin-slots.js';
import { LwwState } from '../state/lww.js';
import type { RegisterCache } from '../state/register-cache.js';
import { PendingOverlay } from '../state/overlay.js';
import { CounterVector } from '../sync/counter-vector.js';
import { OriginDirectory, type OriginKeyCache } from '../sync/origin-key.js';

/** Origin slots and counters that `Replica`'s run-end keys pack into one number (2^21 · 2^32 = 2^53). */
const RUN_END_SLOTS = 2 ** 21;
const RUN_END_COUNTERS = 2 ** 32;

export class Replica {
  readonly spaceId: string;
  /** This peer's origin. */
  readonly origin: PeerId;
  readonly log: EventLog<FactEntry>;
  readonly state: LwwState;
  readonly overlay = new PendingOverlay();
  readonly clock: HlcClock;
  /** Where each origin's facts sit in the log. */
  readonly index: OriginIndex;
  /** Every origin this space knows, by wire key. */
  readonly origins: OriginDirectory;
  /**
   * When facts of each other origin last arrived (monotonic ms; 0 or absent: never), to hold back
   * forwarding briefly. Over the space's origin slots, like a session's vectors.
   */
  readonly arrivals: CounterVector;
  /** The log's writer (group commit). */
  readonly appender: Appender;
  /**
   * Hashes of recent run ends (signed facts) below their origin's durable tip, by `#runEndKey`, to
   * recognise a re-signed one (an origin's last run end is its durable tip: not kept twice, so a space
   * of many origins that wrote one run each keeps none here).
   */
  readonly #runEnds = new Map<number | string, Hash>();
  readonly #durable: SlotMap<ChainTip>;
  /**
   * Chain tips of facts queued for the log beyond the durable ones (`tip(o)` falls back to the
   * durable tip): empty while nothing is queued, so a space of many origins keeps one map of tips.
   */
  readonly #tips = new Map<PeerId, ChainTip>();
  #durableVersion = 0;
  #logStart: SequenceId = 0;
  /** Origins whose last entry in the log is not signed (a run still being appended). */
  readonly #unsigned = new Set<PeerId>();
  /** The latest log position before which every origin's last entry is signed: where a snapshot may cut. */
  #cleanHead: SequenceId = 0;
  /** The clean position before that one. */
  #priorClean: SequenceId = 0;

  constructor(
    spaceId: string,
    origin: PeerId,
    log: EventLog<FactEntry>,
    env: Env,
    maxDrift: number,
    appenderHooks: AppenderHooks,
    registers?: RegisterCache,
    originKeys?: OriginKeyCache,
  ) {
    this.origins = new OriginDirectory(originKeys);
    this.index = new OriginIndex(this.origins.slots);
    this.#durable = new SlotMap(this.origins.slots);
    this.arrivals = new CounterVector(this.origins.slots);
    this.state = new LwwState(registers);
    this.spaceId = spaceId;
    this.origin = origin;
    this.log = log;
    this.appender = new Appender(log, 0, appenderHooks);
    this.clock = new HlcClock(env, maxDrift);
    this.origins.add(origin);
  }

  /** Bumped whenever facts become durable: nothing new to send while it stays the same. */
  get durableVersion(): number {
    return this.#durableVersion;
  }

  /** Sequence id of the first entry still in the log. */
  get logStart(): SequenceId {
    return this.#logStart;
  }

  /** Replay found the head of the log at `head`: writes may start. */
  replayed(head: SequenceId): void {
    this.appender.startAt(head);
    this.resetQueued();
  }

  /**
   * The latest log position before which every origin's last entry is a signed run end: a snapshot
   * cut there covers whole runs only, so each of its tips carries its origin's signature.
   */
  get cleanHead(): SequenceId {
    return this.#cleanHead;
  }

  /** The clean position before `cleanHead` (a snapshot's entry must exist: it may cut there). */
  get priorCleanHead(): SequenceId {
    return this.#priorClean;
  }

  /** The next free sequence id. */
  get head(): SequenceId {
    return this.appender.next;
  }

  /** Durable vector. */
  vector(): Vector {
    const vector: Vector = new Map();
    for (const [origin, tip] of this.#durable) vector.set(origin, tip.counter);
    return vector;
  }

  /** Durable counter of one origin (0 when none). */
  counter(origin: PeerId): number {
    return this.#durable.get(origin)?.counter ?? 0;
  }

  /** Where `origin`'s chain ends on disk. */
  durableTip(origin: PeerId): ChainTip | undefined {
    return this.#durable.get(origin);
  }

  /** Durable chain tips of every origin. */
  durableTips(): ReadonlyMap<PeerId, ChainTip> {
    return this.#durable;
  }

  /**
   * The hash of `origin`'s fact `counter`, if we hold it (from memory for recent run ends, else from
   * the log; undefined when pruned or unknown).
   */
  async hashOf(origin: PeerId, counter: number): Promise<Hash | undefined> {
    const tip = this.#durable.get(origin);
    if (tip?.counter === counter) return tip.hash;
    const known = this.#runEnds.get(this.#runEndKey(origin, counter));
    if (known !== undefined) return known;
    const seq = this.index.seqOf(origin, counter);
    if (seq === undefined) return undefined;
    const page = await this.log.query(seq, seq + 1);
    const entry = page.isOk() ? page.value.entries[0] : undefined;
    return entry?.origin === origin && entry.counter === counter ? entry.hash : undefined;
  }

  /** Where `origin`'s chain ends including facts queued for the log. */
  tip(origin: PeerId): ChainTip | undefined {
    return this.#tips.get(origin) ?? this.#durable.get(origin);
  }

  /** Facts up to `tip` are queued for the log. */
  queued(origin: PeerId, tip: ChainTip): void {
    this.#tips.set(origin, tip);
  }

  /** Own facts queued after `tip` were taken back before reaching the log (a transaction rolled back). */
  rewind(origin: PeerId, tip: ChainTip | undefined): void {
    const durable = this.#durable.get(origin);
    if (tip === undefined || (durable !== undefined && tip.counter <= durable.counter)) this.#tips.delete(origin);
    else this.#tips.set(origin, tip);
  }

  /** Queued facts were dropped (a failed append): the chains end where they end on disk. */
  resetQueued(): void {
    this.#tips.clear();
  }

  /**
   * Per origin, the first counter we can still send as facts (older ones come in a snapshot); only
   * origins whose log does not start at 1, to keep hellos small.
   */
  logStarts(): Vector {
    const starts: Vector = new Map();
    for (const [origin, tip] of this.#durable) {
      const first = this.index.first(origin) ?? tip.counter + 1;
      if (first > 1) starts.set(origin, first);
    }
    return starts;
  }

  /** A durable entry at `seq` enters the registers and the indexes. Returns whether a register changed. */
  accept(entry: FactEntry, seq: SequenceId): boolean {
    const held = this.#durable.get(entry.origin);
    if (held === undefined) this.origins.add(entry.origin);
    this.index.add(entry.origin, entry.counter, seq);
    const tip = held === undefined || entry.counter > held.counter;
    if (entry.sig !== undefined) {
      // A run end stays known by its hash: as the durable tip while it is one, then here.
      if (!tip) this.#rememberRunEnd(entry.origin, entry);
      else if (held !== undefined && (held as Partial<FactEntry>).sig !== undefined)
        this.#rememberRunEnd(entry.origin, held);
      this.#unsigned.delete(entry.origin);
    } else this.#unsigned.add(entry.origin);
    if (this.#unsigned.size === 0 && seq + 1 > this.#cleanHead) {
      this.#priorClean = this.#cleanHead;
      this.#cleanHead = seq + 1;
    }
    // A snapshot may already cover it (adopted after it was logged): the registers merge anyway.
    // The entry is its own chain tip (as queued facts are in `#tips`): no object per entry.
    if (tip) {
      this.#durable.set(entry.origin, entry);
      // Queued facts of this origin all durable now: its tip is the durable one again.
      if (this.#tips.size > 0 && (this.#tips.get(entry.origin)?.counter ?? Infinity) <= entry.counter)
        this.#tips.delete(entry.origin);
    }
    return this.state.apply(entry);
  }

  #rememberRunEnd(origin: PeerId, end: ChainTip): void {
    if (this.#runEnds.size >= RUN_END_HASHES) this.#runEnds.delete(this.#runEnds.keys().next().value!);
    this.#runEnds.set(this.#runEndKey(origin, end.counter), end.hash);
  }

  /**
   * The key of (origin, counter) in `#runEnds`: one number (counter · 2^21 + the origin's slot)
   * while both fit in 2^53, which a string built for every accepted run end cost more than the map;
   * `origin:counter` beyond that (a counter past 2^32, a space of over 2 million origins).
   */
  #runEndKey(origin: PeerId, counter: number): number | string {
    const slot = this.origins.slots.find(origin);
    return slot !== undefined && slot < RUN_END_SLOTS && counter < RUN_END_COUNTERS
      ? counter * RUN_END_SLOTS + slot
      : `${origin}:${counter}`;
  }

  /** A batch of entries became durable (after `accept` of each). */
  advanced(): void {
    this.#durableVersion++;
  }

  /** Chain tips covered by a snapshot become ours where they are ahead. Returns the origins moved. */
  adoptTips(tips: ReadonlyMap<PeerId, ChainTip>): PeerId[] {
    const moved: PeerId[] = [];
    for (const [origin, tip] of tips) {
      const held = this.#durable.get(origin);
      if (held !== undefined && held.counter >= tip.counter) continue;
      if (held === undefined) this.origins.add(origin);
      else if ((held as Partial<FactEntry>).sig !== undefined) this.#rememberRunEnd(origin, held);
      this.#durable.set(origin, tip);
      if ((this.#tips.get(origin)?.counter ?? Infinity) <= tip.counter) this.#tips.delete(origin);
      moved.push(origin);
    }
    if (moved.length > 0) this.#durableVersion++;
    return moved;
  }

  /** The log was truncated before `cut`. */
  truncated(cut: SequenceId): void {
    if (cut <= this.#logStart) return;
    this.#logStart = cut;
    this.index.dropBefore(cut);
  }

  /** The log starts at `start` (found when opening). */
  setLogStart(start: SequenceId): void {
    this.#logStart = start;
  }
}
