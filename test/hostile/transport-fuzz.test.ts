/**
 * Fuzz over the real transports: a live Shoal peer, reachable over libp2p on 127.0.0.1 and over an
 * automerge-repo MessageChannel adapter, takes a seeded stream of mutated and garbage frames from
 * attackers that passed authentication (a libp2p node with its own key; a signed handshake on the
 * adapter), while an honest peer keeps writing to it and reading from it.
 *
 * Checks: nothing throws and no promise is left rejected; the honest peer is served all along (a
 * write on either side during the fuzz reaches the other); the heap stays bounded; every attacker
 * ends disconnected by its strikes. The frames are real traffic recorded from a seeded simulation
 * of two peers (hellos, runs of facts, acks, gossip), mutated: bits flipped, truncated, spliced, bytes set to
 * boundary values, slices inserted or dropped, and random bytes up to the frame limit.
 *
 * `SHOAL_FUZZ_FRAMES` (default 2,000 per transport) and `SHOAL_FUZZ_SEED` set the run;
 * `npm run fuzz` sends 100,000 per transport. An attacker is disconnected after its strikes, so the
 * frames are sent by a series of attackers, each a fresh identity (strikes and bans follow an
 * identity, so one identity would be cut off at its first bad frame after the first ban).
 */
import { MessageChannelNetworkAdapter } from '@automerge/automerge-repo-network-messagechannel';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { createPeer, memoryStorage, type Peer, type Space } from '../../engine/index.js';
import type { PeerId } from '../../engine/facts/types.js';
import { MAX_FRAME_BYTES } from '../../engine/limits.js';
import type { TransportHandler } from '../../engine/transport.js';
import { Tag, type SealedLink } from '../../transports/automerge/handshake.js';
import { automergeTransport } from '../../transports/automerge/index.js';
import { libp2pTransport } from '../../transports/libp2p/index.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { identity, startTransport } from '../../testing/index.js';
import { simPeer, unwrap } from '../support/peers.js';
import { handshakeAs, rawPort } from '../transports/automerge-raw.js';
import { eventually, FAST_BACKOFF } from '../transports/network-peers.js';

const FRAMES = Number(process.env.SHOAL_FUZZ_FRAMES ?? 2000);
const SEED = Number(process.env.SHOAL_FUZZ_SEED ?? 20261203);
/** Heap growth allowed over a whole run (after a full GC at both ends): caches fill, nothing grows with the frames. */
const HEAP_GROWTH_BOUND = 96 * 1024 * 1024; // 96 MiB

interface Item {
  title: string;
  n: number;
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** mulberry32: small, fast, seeded. */
class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const x = (this.next() * 4294967296) >>> 0;
      out[i] = x;
      if (i + 1 < n) out[i + 1] = x >>> 8;
      if (i + 2 < n) out[i + 2] = x >>> 16;
      if (i + 3 < n) out[i + 3] = x >>> 24;
    }
    return out;
  }
}

const BOUNDARY_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x3f, 0x40];

/** One hostile frame: a real one mutated, now and then raw garbage up to the frame limit. */
function mutate(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
  const pick = () => corpus[rng.int(corpus.length)]!;
  const base = pick();
  switch (rng.int(9)) {
    case 0:
      return base.slice(); // as it was: a replay
    case 1: {
      const out = base.slice();
      for (let k = 1 + rng.int(8); k > 0 && out.length > 0; k--) {
        const i = rng.int(out.length);
        out[i] = out[i]! ^ (1 << rng.int(8));
      }
      return out;
    }
    case 2:
      return base.slice(0, rng.int(base.length + 1));
    case 3: {
      const other = pick();
      return Uint8Array.from([
        ...base.subarray(0, rng.int(base.length + 1)),
        ...other.subarray(rng.int(other.length + 1)),
      ]);
    }
    case 4: {
      const out = base.slice();
      for (let k = 1 + rng.int(4); k > 0 && out.length > 0; k--) {
        out[rng.int(out.length)] = BOUNDARY_BYTES[rng.int(BOUNDARY_BYTES.length)]!;
      }
      return out;
    }
    case 5: {
      const at = rng.int(base.length + 1);
      return Uint8Array.from([...base.subarray(0, at), ...rng.bytes(1 + rng.int(64)), ...base.subarray(at)]);
    }
    case 6: {
      const at = rng.int(base.length + 1);
      return Uint8Array.from([...base.subarray(0, at), ...base.subarray(Math.min(base.length, at + 1 + rng.int(64)))]);
    }
    case 7:
      return rng.bytes(rng.int(256));
    default: {
      // Garbage of any length up to the limit, log-uniform: mostly small, now and then a full MiB.
      const length = Math.min(MAX_FRAME_BYTES, Math.floor(2 ** (rng.next() * 20.0001)));
      return rng.bytes(length);
    }
  }
}

/**
 * The corpus: every frame of a warm-up between two peers on a SimNetwork of seed `SEED` (so the
 * same seed gives the same frames), in rounds that each settle before the next, so each gives its
 * own hellos, runs of facts, acks and gossip.
 */
async function recordCorpus(): Promise<Uint8Array[]> {
  const corpus: Uint8Array[] = [];
  const net = new SimNetwork({ seed: SEED });
  net.intercept((_from, _to, frame) => {
    corpus.push(frame.slice());
    return true;
  });
  const a = await simPeer(net, 'list');
  const b = await simPeer(net, 'list');
  const mine = a.space.collection<Item>('items');
  const ids: string[] = [];
  for (let round = 0; round < 8; round++) {
    for (let k = 0; k < 8; k++) ids.push(unwrap(await mine.create({ title: `item ${round}.${k}`, n: k })));
    unwrap(await mine.update(ids[round * 4]!, 'n', round));
    if (round > 2) unwrap(await mine.delete(ids[round * 8 - 1]!));
    await net.runUntilQuiet();
    unwrap(await b.space.collection<Item>('items').create({ title: `b ${round}`, n: round }));
    await net.runUntilQuiet();
  }
  await Promise.all([a.peer.close(), b.peer.close()]);
  return corpus;
}

/** A full GC (vitest runs without --expose-gc), then the heap in use. */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface Pair {
  victim: { peer: Peer; space: Space };
  honest: { peer: Peer; space: Space };
}

/** The live pair is linked and in step before the fuzz starts. */
async function warmUp(pair: Pair): Promise<void> {
  unwrap(await pair.honest.space.collection<Item>('items').create({ title: 'honest', n: 0 }));
  unwrap(await pair.victim.space.collection<Item>('items').create({ title: 'victim', n: 0 }));
  await eventually(
    () => converged(pair) && pair.victim.space.collection('items').all().length === 2,
    'the honest pair to converge',
  );
}

function converged(pair: Pair): boolean {
  return (
    pair.victim.space.stateHash() === pair.honest.space.stateHash() &&
    pair.victim.space.status().pending === 0 &&
    pair.honest.space.status().pending === 0
  );
}

/** One attacker identity: linked to the victim, it sends frames until the victim hangs up. */
interface Attacker {
  readonly id: string;
  /** Send one frame; false once the link is gone. */
  send(frame: Uint8Array): Promise<boolean>;
  /** The victim hung up on it. */
  disconnected(): boolean;
  close(): Promise<void>;
}

interface FuzzResult {
  frames: number;
  attackers: number;
  cutOff: number;
  heapGrowth: number;
  checkpoints: number;
  seconds: number;
}

/**
 * Send `FRAMES` hostile frames through a series of attackers, with honest writes both ways at
 * checkpoints (each must arrive while the fuzz goes on), and check what the file comment says.
 */
async function fuzz(pair: Pair, corpus: readonly Uint8Array[], attack: () => Promise<Attacker>): Promise<FuzzResult> {
  const rng = new Rng(SEED);
  const failures: unknown[] = [];
  const onFailure = (e: unknown) => failures.push(e);
  process.on('unhandledRejection', onFailure);
  process.on('uncaughtException', onFailure);
  cleanup.push(() => {
    process.off('unhandledRejection', onFailure);
    process.off('uncaughtException', onFailure);
  });

  const started = Date.now();
  const heapBefore = heapAfterGc();
  const checkpointEvery = Math.max(1, Math.floor(FRAMES / 4));
  let pending: Array<() => boolean> = [];
  let checkpoints = 0;
  let sent = 0;
  let attackers = 0;
  let cutOff = 0;
  let attacker: Attacker | undefined;

  const checkpoint = async () => {
    // What the last checkpoint wrote must have arrived by now (it had the fuzz since to do so).
    for (const arrived of pending) await eventually(arrived, `checkpoint ${checkpoints} writes to arrive`);
    checkpoints += 1;
    const k = checkpoints;
    const fromVictim = unwrap(await pair.victim.space.collection<Item>('notes').create({ title: `victim ${k}`, n: k }));
    const fromHonest = unwrap(await pair.honest.space.collection<Item>('notes').create({ title: `honest ${k}`, n: k }));
    pending = [
      () => pair.honest.space.collection<Item>('notes').get(fromVictim) !== undefined,
      () => pair.victim.space.collection<Item>('notes').get(fromHonest) !== undefined,
    ];
  };

  while (sent < FRAMES) {
    if (sent % checkpointEvery === 0 && sent / checkpointEvery === checkpoints) await checkpoint();
    if (attacker === undefined || attacker.disconnected()) {
      if (attacker !== undefined) {
        cutOff += 1;
        await attacker.close();
      }
      attacker = await attack();
      attackers += 1;
    }
    if (await attacker.send(mutate(rng, corpus))) sent += 1;
    // Let the victim read what came: a frame it could not queue is dropped, not judged.
    if (sent % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  // The last attacker too ends cut off: it goes on with garbage until the victim hangs up.
  for (let extra = 0; extra < 1000 && !attacker!.disconnected(); extra++) {
    await attacker!.send(rng.bytes(1 + rng.int(64)));
    if (extra % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await eventually(() => attacker!.disconnected(), 'the last attacker to be cut off', 10_000);
  cutOff += 1;
  await attacker!.close();

  for (const arrived of pending) await eventually(arrived, 'the last checkpoint writes to arrive');
  await eventually(() => converged(pair), 'the honest pair to converge after the fuzz');
  const heapGrowth = heapAfterGc() - heapBefore;
  const result = { frames: sent, attackers, cutOff, heapGrowth, checkpoints, seconds: (Date.now() - started) / 1000 };
  console.log(`fuzz (seed ${SEED}, corpus of ${corpus.length} frames): ${JSON.stringify(result)}`);

  expect(failures).toEqual([]);
  expect(cutOff).toBe(attackers);
  expect(heapGrowth).toBeLessThan(HEAP_GROWTH_BOUND);
  expect(pair.victim.space.status().peers).toEqual([pair.honest.peer.id]);
  return result;
}

const timeout = 120_000 + FRAMES * 20;

describe(`fuzz over the real transports (${FRAMES} frames each, seed ${SEED})`, () => {
  it(
    'libp2p on 127.0.0.1',
    async () => {
      const corpus = await recordCorpus();
      const victimPeer = unwrap(
        await createPeer({
          storage: memoryStorage(),
          transports: [libp2pTransport({ ...FAST_BACKOFF, listen: ['/ip4/127.0.0.1/tcp/0'] })],
        }),
      );
      cleanup.push(() => victimPeer.close());
      const address = victimPeer.addresses()[0]!;
      const honestPeer = unwrap(
        await createPeer({
          storage: memoryStorage(),
          transports: [libp2pTransport({ ...FAST_BACKOFF, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [address] })],
        }),
      );
      cleanup.push(() => honestPeer.close());
      const pair: Pair = {
        victim: { peer: victimPeer, space: unwrap(await victimPeer.space('list')) },
        honest: { peer: honestPeer, space: unwrap(await honestPeer.space('list')) },
      };
      await warmUp(pair);
      expect(corpus.length).toBeGreaterThan(30);

      const attack = async (): Promise<Attacker> => {
        const who = await identity();
        let up = false;
        let down = false;
        const handler: TransportHandler = {
          peerUp: () => void (up = true),
          peerDown: () => void (down = true),
          message: () => undefined,
        };
        const transport = libp2pTransport({ ...FAST_BACKOFF, listen: [], bootstrap: [address] });
        await startTransport(transport, who.key, handler);
        // libp2p takes at most five new connections a second from one host: the dial may need a retry.
        await eventually(() => up, 'an attacker link', 15_000);
        return {
          id: who.id,
          send: async (frame) => !down && (await transport.send(victimPeer.id as PeerId, frame)).isOk(),
          disconnected: () => down,
          close: () => transport.stop(),
        };
      };
      await fuzz(pair, corpus, attack);
    },
    timeout,
  );

  it(
    'automerge-repo MessageChannel adapters',
    async () => {
      const corpus = await recordCorpus();
      const toHonest = new MessageChannel();
      const toAttackers = new MessageChannel();
      cleanup.push(() => {
        for (const port of [toHonest.port1, toHonest.port2, toAttackers.port1, toAttackers.port2]) port.close();
      });
      const victimPeer = unwrap(
        await createPeer({
          storage: memoryStorage(),
          transports: [
            automergeTransport(new MessageChannelNetworkAdapter(toHonest.port1)),
            automergeTransport(new MessageChannelNetworkAdapter(toAttackers.port1)),
          ],
        }),
      );
      cleanup.push(() => victimPeer.close());
      const honestPeer = unwrap(
        await createPeer({
          storage: memoryStorage(),
          transports: [automergeTransport(new MessageChannelNetworkAdapter(toHonest.port2))],
        }),
      );
      cleanup.push(() => honestPeer.close());
      const pair: Pair = {
        victim: { peer: victimPeer, space: unwrap(await victimPeer.space('list')) },
        honest: { peer: honestPeer, space: unwrap(await honestPeer.space('list')) },
      };
      await warmUp(pair);
      expect(corpus.length).toBeGreaterThan(30);

      // Every attacker is a fresh identity on the same port, linked by the signed handshake.
      const raw = rawPort(toAttackers.port2);
      const attack = async (): Promise<Attacker> => {
        raw.received.splice(0); // what the victim sent the last one (its catch-up) is of no interest
        // The victim answers a bounded number of handshakes a second and ignores the rest, as any
        // peer would: try again a little later, as an honest peer does.
        let attempt: { who: Awaited<ReturnType<typeof identity>>; link: SealedLink } | undefined;
        for (let tries = 0; attempt === undefined; tries++) {
          const who = await identity();
          try {
            attempt = { who, link: await handshakeAs(raw, who.key, victimPeer.id, who.id, 1000) };
          } catch (e) {
            if (tries >= 30) throw e;
          }
        }
        const { who, link } = attempt;
        const down = () => raw.received.some((m) => m.targetId === who.id && m.data[0] === Tag.BYE);
        return {
          id: who.id,
          send: (frame) => {
            if (down()) return Promise.resolve(false);
            raw.send(who.id, victimPeer.id, link.seal(Tag.FRAME, frame)!);
            return Promise.resolve(true);
          },
          disconnected: down,
          close: () => {
            raw.received.splice(0);
            return Promise.resolve();
          },
        };
      };
      await fuzz(pair, corpus, attack);
    },
    timeout,
  );
});
