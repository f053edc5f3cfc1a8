/**
 * SimNetwork: a deterministic in-memory network for testing many peers and their offline
 * behaviour. One seed gives one run, message for message:
 *
 * - one virtual clock and seeded randomness, shared by every peer through `net.env`;
 * - per-message latency, drop, duplicate and reorder probabilities;
 * - partitions (messages between groups vanish silently, as on a real network) and heal;
 * - links down and up (peers see peer-down / peer-up), crash and restart of a peer on its storage.
 *
 * Peers' asynchronous work (storage, hashing, signing) runs on microtasks; the network drains them
 * after each instant of virtual time, so nothing depends on the host's timing.
 *
 * @example
 * ```ts
 * const net = new SimNetwork({ seed: 7, drop: 0.1 });
 * const a = (await createPeer({ storage: memoryStorage(), ...net.node() }))._unsafeUnwrap();
 * const b = (await createPeer({ storage: memoryStorage(), ...net.node() }))._unsafeUnwrap();
 * // … write on both …
 * await net.runUntilQuiet();
 * ```
 */
import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from 'neverthrow';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import type { Env, Timer } from '../../engine/env.js';
import { invalidInput, transportError, type InvalidInputError, type TransportError } from '../../engine/errors.js';
import { sha256 } from '../../engine/facts/hash.js';
import { toHex } from '../../engine/facts/bytes.js';
import type { PeerId } from '../../engine/facts/types.js';
import { MAX_FRAME_BYTES } from '../../engine/limits.js';
import { PeerCache } from '../../engine/peer/cache.js';
import type { Transport, TransportContext, TransportHandler } from '../../engine/transport.js';
import { Scheduler } from './scheduler.js';

export interface SimNetworkInit {
  /** Everything random in the run derives from it (a safe integer). */
  seed: number;
  /** One-way latency in whole ms: fixed, or uniform in a range (min ≤ max). @default { min: 5, max: 50 } */
  latency?: number | { min: number; max: number };
  /** Probability that a message is lost. @default 0 */
  drop?: number;
  /** Probability that a message is delivered twice. @default 0 */
  duplicate?: number;
  /** Probability that a message is held back so later ones overtake it. @default 0 */
  reorder?: number;
  /** Link every pair of peers automatically; with false, only `linkUp` links them. @default true */
  mesh?: boolean;
  /** Virtual time at the start, ms since the epoch. @default 1_700_000_000_000 */
  start?: number;
}

export interface SimStats {
  /** Frames handed to the network. */
  readonly sent: number;
  readonly delivered: number;
  /** Lost to `drop`, partitions, links going down or crashes. */
  readonly dropped: number;
  readonly duplicated: number;
  readonly bytesSent: number;
  readonly bytesDelivered: number;
  /** Virtual time now, ms since the start. */
  readonly elapsed: number;
  /** Most bytes ever in flight (sent, not yet delivered) on one directed link. */
  readonly maxInFlightBytes: number;
  /** SHA-256 over every delivery (time, from, to, bytes): equal traces ⇒ identical runs. */
  readonly trace: string;
}

/** How long a peer cut off by `disconnect` (misbehaviour) stays cut off. */
const DISCONNECT_BAN_MS = 60_000;
const DEFAULT_START = 1_700_000_000_000;
const DEFAULT_MAX_TIME = 24 * 60 * 60 * 1000;
/** Origins whose imported keys the network's shared signature cache keeps (`npm run sim` goes up to 100,000 peers). */
const SHARED_KEY_ENTRIES = 131_072;

interface Endpoint {
  readonly id: PeerId;
  readonly handler: TransportHandler;
  readonly transport: SimTransport;
  /** Stops the peer's process (aborts the signal its `createPeer` got); absent for bare transports. */
  readonly kill: (() => void) | undefined;
}

/**
 * A peer's wall clock: `offset` ms off the network's virtual time (+3_600_000: an hour fast), running
 * `drift` faster from then on (0.001: 0.1 % fast; negative: slow). Timers still run on virtual time.
 */
export interface SimClock {
  readonly offset?: number;
  readonly drift?: number;
}

/** How one simulated peer differs from the others. */
export interface SimNodeOptions {
  readonly clock?: SimClock;
}

/**
 * What one simulated peer needs from its network, to spread into `createPeer`:
 * `createPeer({ storage, ...net.node() })`.
 */
export interface SimNode {
  /** The network's virtual clock, timers and seeded randomness. */
  readonly env: Env;
  readonly transports: Transport[];
  /** Aborted by `net.crash(peerId)`: the peer's process dies. */
  readonly signal: AbortSignal;
  /** Set the peer's clock (skew it, or correct it as NTP would). Not part of what `createPeer` takes. */
  readonly setClock: (clock: SimClock) => void;
  /**
   * Memo tables shared on purpose by the replicas of this network (decoded runs, hash chains,
   * verified signatures; see `PeerCache`): made with the network, gone with it.
   */
  readonly cache: PeerCache;
}

/** One direction of a link: when its last message is due (FIFO unless reordering), bytes in flight. */
interface DirectedLink {
  lastDelivery: number;
  inFlight: number;
}

const pairKey = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);

/** Resolves after every microtask queued so far (and those they queue) has run. */
const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SimNetwork {
  /** The environment every peer on this network must use. */
  readonly env: Env;
  readonly #scheduler: Scheduler;
  readonly #start: number;
  readonly #envRng: RandomGenerator;
  readonly #netRng: RandomGenerator;
  readonly #latency: { min: number; max: number };
  readonly #drop: number;
  readonly #duplicate: number;
  readonly #reorder: number;
  readonly #mesh: boolean;
  readonly #endpoints = new Map<PeerId, Endpoint>();
  /** Links explicitly up (used when mesh is off). */
  readonly #up = new Set<string>();
  /** Links explicitly down. */
  readonly #down = new Set<string>();
  /** Pairs whose peers were told peer-up, with the link's incarnation. */
  readonly #connected = new Map<string, number>();
  #linkIncarnation = 0;
  /** What the network tracks per directed link, by sender then receiver (no key string per message). */
  readonly #directed = new Map<PeerId, Map<PeerId, DirectedLink>>();
  #groups: Map<string, number> | undefined;
  /** Rolling hash of every delivery. */
  #trace: Uint8Array = new Uint8Array(32);
  /** Where each delivery's trace record is built (grown to the largest frame seen). */
  #traceBuffer = new Uint8Array(4096);
  readonly #utf8 = new TextEncoder();
  #stats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, bytesSent: 0, bytesDelivered: 0, maxInFlightBytes: 0 };
  readonly #cache = new PeerCache({
    shareRegisters: true,
    shareOriginKeys: true,
    shareEntries: true,
    // Every origin of the network's spaces (a mesh of up to 100,000 peers): shared, the cache sees them all.
    keyEntries: SHARED_KEY_ENTRIES,
  });
  #filter: ((from: string, to: string, frame: Uint8Array) => boolean) | undefined;

  /**
   * A network, or an `invalid-input` error naming the first option that is wrong (for options that
   * come from outside the program: a config file, a command line).
   *
   * @example
   * ```ts
   * const net = SimNetwork.create({ seed: 7, latency: { min: 1, max: 80 }, drop: 0.05 });
   * if (net.isErr()) throw new Error(net.error.message);
   * ```
   */
  static create(init: SimNetworkInit): Result<SimNetwork, InvalidInputError> {
    return checkInit(init).map((checked) => new SimNetwork(checked));
  }

  /** Throws a TypeError naming the option when one is wrong (see `SimNetwork.create`). */
  constructor(init: SimNetworkInit) {
    const checked = checkInit(init);
    if (checked.isErr()) throw new TypeError(checked.error.message);
    const options = checked.value;
    this.#start = options.start;
    this.#scheduler = new Scheduler(this.#start);
    this.#envRng = xoroshiro128plus(options.seed);
    this.#netRng = xoroshiro128plus(options.seed ^ 0x5eed_1e55);
    this.#latency = options.latency;
    this.#drop = options.drop;
    this.#duplicate = options.duplicate;
    this.#reorder = options.reorder;
    this.#mesh = options.mesh;
    this.env = this.#makeEnv();
  }

  /**
   * Everything one peer needs to join this network: `createPeer({ storage, ...net.node() })`. Peers
   * made this way can be crashed (`crash`); give each peer (and each restart) its own node.
   */
  node(options: SimNodeOptions = {}): SimNode {
    const process = new AbortController();
    const clock = { offset: 0, drift: 0, since: this.#scheduler.now };
    const setClock = (next: SimClock): void => {
      const offset = next.offset ?? 0;
      const drift = next.drift ?? 0;
      if (!Number.isFinite(offset)) throw new TypeError('SimNetwork.node: clock.offset must be a finite number of ms');
      if (!(drift > -1 && drift < 1)) throw new TypeError('SimNetwork.node: clock.drift must be in (-1, 1)');
      Object.assign(clock, { offset, drift, since: this.#scheduler.now });
    };
    setClock(options.clock ?? {});
    return {
      env: this.#clockEnv(clock),
      setClock,
      transports: [new SimTransport(this, () => process.abort())],
      signal: process.signal,
      cache: this.#cache,
    };
  }

  /** A bare transport for one peer (give each peer its own); `node()` also lets `crash` stop it. */
  transport(): Transport {
    return new SimTransport(this, undefined);
  }

  /** PeerIds of the peers currently on the network (started, not crashed). */
  peers(): string[] {
    return [...this.#endpoints.keys()];
  }

  /**
   * Split the network: messages between different groups are silently lost (no peer-down, as on a
   * real network). Peers in no group form one more group together.
   */
  partition(groups: string[][]): void {
    this.#groups = new Map();
    groups.forEach((group, i) => {
      for (const peer of group) this.#groups!.set(peer, i);
    });
  }

  /** Undo `partition`. */
  heal(): void {
    this.#groups = undefined;
  }

  /** Take the link between two peers down: both see peer-down, messages in flight are lost. */
  linkDown(a: string, b: string): void {
    const key = pairKey(a, b);
    this.#up.delete(key);
    this.#down.add(key);
    this.#disconnectPair(a as PeerId, b as PeerId);
  }

  /** Bring the link between two peers (back) up: both see peer-up when both are running. */
  linkUp(a: string, b: string): void {
    const key = pairKey(a, b);
    this.#down.delete(key);
    this.#up.add(key);
    this.#connectPair(a as PeerId, b as PeerId);
  }

  /**
   * The peer's process dies: its links go down (the others see peer-down), its timers stop, writes
   * not yet durable are lost and the old Peer object turns inert. Restart it with `createPeer` on the
   * same storage and a new `net.transport()`.
   */
  crash(peerId: string): void {
    const endpoint = this.#endpoints.get(peerId as PeerId);
    if (endpoint === undefined) return;
    if (endpoint.kill === undefined) {
      // A programmer error: the network has no way to stop a peer it did not start.
      throw new TypeError('SimNetwork.crash: the peer was not created with net.node(), so it cannot be stopped');
    }
    this.#remove(endpoint);
    endpoint.kill();
  }

  /** Run the network for `ms` of virtual time. */
  async advance(ms: number): Promise<void> {
    const target = this.#scheduler.now + ms;
    await drainMicrotasks();
    while (this.#scheduler.runNext(target)) await drainMicrotasks();
    this.#scheduler.advanceTo(target);
    await drainMicrotasks();
  }

  /**
   * Run until nothing is left to do: no message in flight, no timer pending. Returns false if that
   * did not happen within `maxTime` ms of virtual time (e.g. a partition that never heals).
   */
  async runUntilQuiet(options: { maxTime?: number } = {}): Promise<boolean> {
    const limit = this.#scheduler.now + (options.maxTime ?? DEFAULT_MAX_TIME);
    await drainMicrotasks();
    while (this.#scheduler.runNext(limit)) await drainMicrotasks();
    return this.#scheduler.peekTime() === undefined;
  }

  /**
   * Run the simulation until `promise` settles, and return its value. Anything a peer does that
   * waits on virtual time (sync, retransmission, a snapshot job yielding) only progresses while the
   * network runs: `await net.until(space.snapshot())` rather than `await space.snapshot()`.
   */
  async until<T>(promise: PromiseLike<T>, options: { maxTime?: number } = {}): Promise<T> {
    let settled = false;
    const watched = Promise.resolve(promise).finally(() => {
      settled = true;
    });
    const limit = this.#scheduler.now + (options.maxTime ?? DEFAULT_MAX_TIME);
    await drainMicrotasks();
    while (!settled && this.#scheduler.runNext(limit)) await drainMicrotasks();
    return watched;
  }

  stats(): SimStats {
    return {
      ...this.#stats,
      elapsed: this.#scheduler.now - this.#start,
      trace: toHex(this.#trace),
    };
  }

  // ------------------------------------------------------------------------------------------
  // Used by SimTransport

  register(endpoint: Endpoint): ResultAsync<void, TransportError> {
    if (this.#endpoints.has(endpoint.id)) return errAsync(transportError(`${endpoint.id} is already on the network`));
    this.#endpoints.set(endpoint.id, endpoint);
    for (const other of this.#endpoints.keys()) if (other !== endpoint.id) this.#connectPair(endpoint.id, other);
    return okAsync(undefined);
  }

  unregister(endpoint: Endpoint): void {
    if (this.#endpoints.get(endpoint.id) === endpoint) this.#remove(endpoint);
  }

  send(from: PeerId, to: PeerId, frame: Uint8Array): ResultAsync<void, TransportError> {
    if (frame.length > MAX_FRAME_BYTES)
      return errAsync(transportError(`frame of ${frame.length} bytes exceeds ${MAX_FRAME_BYTES}`));
    const key = pairKey(from, to);
    const incarnation = this.#connected.get(key);
    if (incarnation === undefined) return errAsync(transportError(`no link from ${from} to ${to}`));
    this.#stats.sent++;
    this.#stats.bytesSent += frame.length;
    if (this.#partitioned(from, to) || this.#chance(this.#drop) || this.#filter?.(from, to, frame) === false) {
      this.#stats.dropped++;
      return okAsync(undefined);
    }
    const copy = frame.slice();
    const link = this.#link(from, to);
    const when = this.#deliveryTime(link);
    this.#scheduler.at(when, () => this.#deliver(key, incarnation, from, to, link, copy));
    this.#flight(link, copy.length);
    if (this.#chance(this.#duplicate)) {
      this.#stats.duplicated++;
      this.#scheduler.at(when + this.#sampleLatency(), () => this.#deliver(key, incarnation, from, to, link, copy));
      this.#flight(link, copy.length);
    }
    return okAsync(undefined);
  }

  disconnect(from: PeerId, peer: PeerId): void {
    const key = pairKey(from, peer);
    if (!this.#connected.has(key)) return;
    this.#disconnectPair(from, peer);
    this.#scheduler.at(this.#scheduler.now + DISCONNECT_BAN_MS, () => this.#connectPair(from, peer));
  }

  // ------------------------------------------------------------------------------------------

  /**
   * An Env whose clock reads `offset` ms off the network's, running `drift` faster (0.01 = 1 % fast)
   * since it was last set. With no skew, the network's own Env.
   */
  #clockEnv(clock: { readonly offset: number; readonly drift: number; readonly since: number }): Env {
    const base = this.env;
    return {
      now: () => {
        const now = this.#scheduler.now;
        return Math.floor(now + clock.offset + clock.drift * (now - clock.since));
      },
      monotonic: () => this.#scheduler.now,
      setTimer: (ms, fn) => base.setTimer(ms, fn),
      randomBytes: (length) => base.randomBytes(length),
      random: () => base.random(),
    };
  }

  /**
   * Let `filter` decide the fate of every frame handed to the network from now on (false: lost, as a
   * drop). For tests that need one particular message lost. `undefined` removes the filter.
   */
  intercept(filter: ((from: string, to: string, frame: Uint8Array) => boolean) | undefined): void {
    this.#filter = filter;
  }

  #makeEnv(): Env {
    const rng = this.#envRng;
    return {
      now: () => this.#scheduler.now,
      monotonic: () => this.#scheduler.now,
      setTimer: (ms, fn): Timer => this.#scheduler.at(this.#scheduler.now + Math.max(0, ms), fn),
      randomBytes: (length) => {
        const out = new Uint8Array(length);
        for (let i = 0; i < length; i += 4) {
          const n = rng.next();
          for (let k = 0; k < 4 && i + k < length; k++) out[i + k] = (n >>> (8 * k)) & 0xff;
        }
        return out;
      },
      random: () => uniformFloat64(rng),
    };
  }

  #chance(p: number): boolean {
    return p > 0 && uniformFloat64(this.#netRng) < p;
  }

  #sampleLatency(): number {
    const { min, max } = this.#latency;
    return min === max ? min : min + Math.floor(uniformFloat64(this.#netRng) * (max - min + 1));
  }

  #link(from: PeerId, to: PeerId): DirectedLink {
    let links = this.#directed.get(from);
    if (links === undefined) {
      links = new Map();
      this.#directed.set(from, links);
    }
    let link = links.get(to);
    if (link === undefined) {
      link = { lastDelivery: 0, inFlight: 0 };
      links.set(to, link);
    }
    return link;
  }

  #deliveryTime(link: DirectedLink): number {
    const now = this.#scheduler.now;
    if (this.#chance(this.#reorder)) {
      // Held back: later messages on this link may overtake it.
      return now + this.#sampleLatency() + Math.floor(uniformFloat64(this.#netRng) * 2 * this.#latency.max);
    }
    const when = Math.max(now + this.#sampleLatency(), link.lastDelivery);
    link.lastDelivery = when;
    return when;
  }

  #partitioned(a: PeerId, b: PeerId): boolean {
    if (this.#groups === undefined) return false;
    return (this.#groups.get(a) ?? -1) !== (this.#groups.get(b) ?? -1);
  }

  #flight(link: DirectedLink, bytes: number): void {
    link.inFlight += bytes;
    if (link.inFlight > this.#stats.maxInFlightBytes) this.#stats.maxInFlightBytes = link.inFlight;
  }

  #deliver(key: string, incarnation: number, from: PeerId, to: PeerId, link: DirectedLink, frame: Uint8Array): void {
    this.#flight(link, -frame.length);
    const endpoint = this.#endpoints.get(to);
    if (this.#connected.get(key) !== incarnation || endpoint === undefined) {
      this.#stats.dropped++;
      return;
    }
    this.#stats.delivered++;
    this.#stats.bytesDelivered += frame.length;
    this.#traceDelivery(from, to, frame);
    endpoint.handler.message(from, frame);
  }

  /** trace = SHA-256(trace ‖ "time|from|to|" ‖ frame), built in one reused buffer. */
  #traceDelivery(from: PeerId, to: PeerId, frame: Uint8Array): void {
    const header = `${this.#scheduler.now}|${from}|${to}|`;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const most = 32 + header.length * 3 + frame.length;
    if (this.#traceBuffer.length < most)
      this.#traceBuffer = new Uint8Array(Math.max(most, this.#traceBuffer.length * 2));
    const buffer = this.#traceBuffer;
    buffer.set(this.#trace);
    const { written } = this.#utf8.encodeInto(header, buffer.subarray(32));
    buffer.set(frame, 32 + written);
    this.#trace = sha256(buffer.subarray(0, 32 + written + frame.length));
  }

  #linkAllowed(a: PeerId, b: PeerId): boolean {
    const key = pairKey(a, b);
    if (this.#down.has(key)) return false;
    return this.#mesh || this.#up.has(key);
  }

  #connectPair(a: PeerId, b: PeerId): void {
    const key = pairKey(a, b);
    const ea = this.#endpoints.get(a);
    const eb = this.#endpoints.get(b);
    if (ea === undefined || eb === undefined || this.#connected.has(key) || !this.#linkAllowed(a, b)) return;
    this.#connected.set(key, ++this.#linkIncarnation);
    // Both sides learn of the link in the same instant, before any message can cross it.
    this.#scheduler.at(this.#scheduler.now, () => {
      if (!this.#connected.has(key)) return;
      ea.handler.peerUp(b);
      eb.handler.peerUp(a);
    });
  }

  #disconnectPair(a: PeerId, b: PeerId): void {
    const key = pairKey(a, b);
    if (!this.#connected.delete(key)) return;
    this.#endpoints.get(a)?.handler.peerDown(b);
    this.#endpoints.get(b)?.handler.peerDown(a);
  }

  #remove(endpoint: Endpoint): void {
    this.#endpoints.delete(endpoint.id);
    for (const other of this.#endpoints.keys()) {
      const key = pairKey(endpoint.id, other);
      if (this.#connected.delete(key)) this.#endpoints.get(other)?.handler.peerDown(endpoint.id);
    }
  }
}

/** Every option of SimNetworkInit, with its default filled in. */
interface CheckedInit {
  readonly seed: number;
  readonly latency: { readonly min: number; readonly max: number };
  readonly drop: number;
  readonly duplicate: number;
  readonly reorder: number;
  readonly mesh: boolean;
  readonly start: number;
}

const INIT_KEYS: ReadonlySet<string> = new Set(['seed', 'latency', 'drop', 'duplicate', 'reorder', 'mesh', 'start']);
const DEFAULT_LATENCY = { min: 5, max: 50 };

/** `value` as text for a message (`[1,80]`, `"5"`, `NaN`). */
const shown = (value: unknown): string => {
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) return String(value);
  if (typeof value === 'function' || typeof value === 'symbol') return `a ${typeof value}`;
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return `an unprintable ${typeof value}`;
  }
};

const wholeMs = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * Options checked one by one, as plain JavaScript may pass anything: a latency `[1, 80]` (an
 * array, not `{ min, max }`) would make every delay NaN and the network never deliver anything.
 */
function checkInit(init: SimNetworkInit): Result<CheckedInit, InvalidInputError> {
  const bad = (message: string) => err(invalidInput(`SimNetwork: ${message}`));
  if (typeof init !== 'object' || init === null)
    return bad(`options must be an object with a seed (got ${shown(init)})`);
  for (const key of Object.keys(init)) {
    if (!INIT_KEYS.has(key))
      return bad(`unknown option ${JSON.stringify(key)} (options: ${[...INIT_KEYS].join(', ')})`);
  }
  if (typeof init.seed !== 'number' || !Number.isSafeInteger(init.seed)) {
    return bad(`seed must be an integer (got ${shown(init.seed)})`);
  }
  let latency = DEFAULT_LATENCY;
  const given: unknown = init.latency;
  if (wholeMs(given)) latency = { min: given, max: given };
  else if (
    typeof given === 'object' &&
    given !== null &&
    !Array.isArray(given) &&
    wholeMs((given as { min?: unknown }).min) &&
    wholeMs((given as { max?: unknown }).max) &&
    (given as { min: number }).min <= (given as { max: number }).max
  ) {
    latency = { min: (given as { min: number }).min, max: (given as { max: number }).max };
  } else if (given !== undefined) {
    return bad(`latency must be a whole number of ms ≥ 0, or { min, max } with 0 ≤ min ≤ max (got ${shown(given)})`);
  }
  const probabilities: Record<'drop' | 'duplicate' | 'reorder', number> = { drop: 0, duplicate: 0, reorder: 0 };
  for (const name of ['drop', 'duplicate', 'reorder'] as const) {
    const p: unknown = init[name];
    if (p === undefined) continue;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1))
      return bad(`${name} must be a probability in [0, 1] (got ${shown(p)})`);
    probabilities[name] = p;
  }
  const mesh: unknown = init.mesh ?? true;
  if (typeof mesh !== 'boolean') return bad(`mesh must be true or false (got ${shown(mesh)})`);
  const start: unknown = init.start ?? DEFAULT_START;
  if (!wholeMs(start)) return bad(`start must be a whole number of ms since the epoch (got ${shown(start)})`);
  return ok({ seed: init.seed, latency, ...probabilities, mesh, start });
}

/** One peer's attachment to a SimNetwork. */
class SimTransport implements Transport {
  readonly #net: SimNetwork;
  readonly #kill: (() => void) | undefined;
  #endpoint: Endpoint | undefined;

  constructor(net: SimNetwork, kill: (() => void) | undefined) {
    this.#net = net;
    this.#kill = kill;
  }

  start(context: TransportContext, handler: TransportHandler): ResultAsync<void, TransportError> {
    if (this.#endpoint !== undefined) return errAsync(transportError('transport already started'));
    this.#endpoint = { id: context.peerId, handler, transport: this, kill: this.#kill };
    return this.#net.register(this.#endpoint);
  }

  send(to: PeerId, frame: Uint8Array): ResultAsync<void, TransportError> {
    if (this.#endpoint === undefined) return errAsync(transportError('transport not started'));
    return this.#net.send(this.#endpoint.id, to, frame);
  }

  disconnect(peer: PeerId): void {
    if (this.#endpoint !== undefined) this.#net.disconnect(this.#endpoint.id, peer);
  }

  addresses(): string[] {
    return this.#endpoint === undefined ? [] : [`/memory/${this.#endpoint.id}`];
  }

  stop(): Promise<void> {
    if (this.#endpoint !== undefined) this.#net.unregister(this.#endpoint);
    this.#endpoint = undefined;
    return Promise.resolve();
  }
}
