/**
 * The Transport conformance suite: every transport (SimNetwork, libp2p over TCP and WebSockets,
 * automerge-repo adapters) runs these same tests, so "a Transport" means one thing.
 *
 * ## The `makePair` contract
 *
 * `runTransportTests(name, makePair, options)` calls `makePair(handlers)` once per test. It must:
 *
 * 1. create two transports `a` and `b` with distinct identities, on the same network, that will link
 *    to each other on their own (b bootstraps to a's address, both join one SimNetwork, both ends of
 *    one MessageChannel…);
 * 2. start each with its handler from `handlers` (a context built by {@link startTransport} is fine)
 *    and resolve with `{ a, b, settle, close, restartB? }` once both `start`s have resolved;
 * 3. `settle()`: give the network a chance to deliver what is in flight, then resolve. The suite
 *    calls it in a loop until what it waits for has happened (or `options.timeoutMs` of real time
 *    passes, and the test fails). A simulator resolves after `runUntilQuiet()`; a real network after
 *    a short real wait ({@link realSettle});
 * 4. `restartB(handler)` (optional): after the suite stopped `b`, start a new transport with b's
 *    identity that links to `a` again, and resolve with it. Omit it where a restart means nothing
 *    (the two ends of one MessageChannel), and the restart test is skipped;
 * 5. `close()`: stop whatever is still running and release ports, servers and channels.
 *
 * The suite never looks at addresses and never assumes real time, so the simulator passes it on its
 * virtual clock. Options relax what a transport does not promise (an unreliable simulator need not
 * keep order).
 *
 * A transport author calls it from a vitest test file:
 *
 * @example
 * ```ts
 * import { identity, realSettle, runTransportTests, startTransport } from 'shoal/testing';
 * import { myTransport } from '../src/index.js';
 *
 * runTransportTests('my-transport', async (handlers) => {
 *   const [ka, kb] = [await identity(), await identity()];
 *   const hub = new MyHub(); // whatever links the two ends
 *   const a = await startTransport(myTransport(hub), ka.key, handlers.a);
 *   const b = await startTransport(myTransport(hub), kb.key, handlers.b);
 *   return {
 *     a,
 *     b,
 *     settle: () => realSettle(),
 *     restartB: (handler) => startTransport(myTransport(hub), kb.key, handler),
 *     close: async () => void (await Promise.all([a.transport.stop(), b.transport.stop()])),
 *   };
 * });
 * ```
 */
import type { PrivateKey } from '@libp2p/interface';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import { realEnv, type Env } from '../engine/env.js';
import { equalBytes } from '../engine/facts/bytes.js';
import type { PeerId } from '../engine/facts/types.js';
import { MAX_FRAME_BYTES } from '../engine/limits.js';
import type { Transport, TransportHandler } from '../engine/transport.js';

/** One started end of a pair. */
export interface TransportEnd {
  readonly id: PeerId;
  readonly transport: Transport;
}

export interface TransportPair {
  readonly a: TransportEnd;
  readonly b: TransportEnd;
  /** Let in-flight deliveries happen (see the file comment). */
  settle(): Promise<void>;
  /** Start b again (same identity) after the suite stopped it; it links to a on its own. */
  restartB?(handler: TransportHandler): Promise<TransportEnd>;
  /** Stop everything still running; release ports and channels. */
  close(): Promise<void>;
}

export type MakePair = (handlers: { a: TransportHandler; b: TransportHandler }) => Promise<TransportPair>;

export interface TransportSuiteOptions {
  /**
   * Frames on one link arrive in send order, exactly once (true for every reliable transport; a
   * simulator with drop/duplicate/reorder turned on is not).
   *
   * @default true
   */
  readonly ordered?: boolean;
  /**
   * Longest real time one wait may take before the test fails, in milliseconds.
   *
   * @default 15000
   */
  readonly timeoutMs?: number;
}

/** A fresh Ed25519 identity and its PeerId. */
export async function identity(): Promise<{ key: PrivateKey; id: PeerId }> {
  const key = await generateKeyPair('Ed25519');
  return { key, id: peerIdFromPrivateKey(key).toString() as PeerId };
}

/** Start `transport` as the peer with `key` would; throws (test setup) if it fails. */
export async function startTransport(
  transport: Transport,
  key: PrivateKey,
  handler: TransportHandler,
  env: Env = realEnv(),
): Promise<TransportEnd> {
  const id = peerIdFromPrivateKey(key).toString() as PeerId;
  const started = await transport.start({ peerId: id, privateKey: key, env }, handler);
  if (started.isErr()) throw new Error(`transport did not start: ${started.error.message}`);
  return { id, transport };
}

/** `settle` for real networks: a short real wait. */
export const realSettle = (ms = 10): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Everything a transport told one peer, in order, with the contract's invariants checked. */
export class Recorder implements TransportHandler {
  readonly events: Array<{ kind: 'up' | 'down'; peer: string } | { kind: 'message'; peer: string; frame: Uint8Array }> =
    [];
  /** Contract breaches seen (a message from a peer that is not up, a double up…). */
  readonly violations: string[] = [];
  readonly #up = new Set<string>();

  peerUp(peer: PeerId): void {
    if (this.#up.has(peer)) this.violations.push(`peerUp(${peer}) while already up`);
    this.#up.add(peer);
    this.events.push({ kind: 'up', peer });
  }

  peerDown(peer: PeerId): void {
    if (!this.#up.delete(peer)) this.violations.push(`peerDown(${peer}) while not up`);
    this.events.push({ kind: 'down', peer });
  }

  message(from: PeerId, frame: Uint8Array): void {
    if (!this.#up.has(from)) this.violations.push(`message from ${from} while it is not up`);
    this.events.push({ kind: 'message', peer: from, frame });
  }

  isUp(peer: string): boolean {
    return this.#up.has(peer);
  }

  count(kind: 'up' | 'down', peer: string): number {
    return this.events.filter((e) => e.kind === kind && e.peer === peer).length;
  }

  frames(from: string): Uint8Array[] {
    return this.events.flatMap((e) => (e.kind === 'message' && e.peer === from ? [e.frame] : []));
  }
}

/** Deterministic pseudo-random bytes (fast, for big frames); `seed` tells frames apart. */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A frame that says which one it is: a 4-byte index, then `size - 4` pattern bytes. */
function numbered(index: number, size: number): Uint8Array {
  const frame = pattern(Math.max(4, size), index + 1);
  new DataView(frame.buffer).setUint32(0, index);
  return frame;
}

const indexOf = (frame: Uint8Array): number =>
  new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);

/** Run the conformance suite against the transport `makePair` builds. */
export function runTransportTests(name: string, makePair: MakePair, options: TransportSuiteOptions = {}): void {
  const ordered = options.ordered ?? true;
  const timeoutMs = options.timeoutMs ?? 15_000;

  describe(`Transport conformance: ${name}`, () => {
    let pair: TransportPair | undefined;
    let ra: Recorder;
    let rb: Recorder;

    afterEach(async () => {
      await pair?.close();
      pair = undefined;
    });

    /** A started pair whose link is up on both ends. */
    async function linked(): Promise<TransportPair> {
      ra = new Recorder();
      rb = new Recorder();
      pair = await makePair({ a: ra, b: rb });
      const p = pair;
      await until(p, () => ra.isUp(p.b.id) && rb.isUp(p.a.id), 'the link to come up on both ends');
      return p;
    }

    async function until(p: TransportPair, done: () => boolean, what: string): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await p.settle();
      }
    }

    function expectNoViolations(): void {
      expect(ra.violations).toEqual([]);
      expect(rb.violations).toEqual([]);
    }

    it('both ends see the link come up once, and nobody else', async () => {
      const p = await linked();
      for (let i = 0; i < 5; i++) await p.settle();
      expect(ra.count('up', p.b.id)).toBe(1);
      expect(rb.count('up', p.a.id)).toBe(1);
      expect(ra.events.every((e) => e.peer === p.b.id)).toBe(true);
      expect(rb.events.every((e) => e.peer === p.a.id)).toBe(true);
      expect(ra.count('down', p.b.id) + rb.count('down', p.a.id)).toBe(0);
      expectNoViolations();
    });

    it('a frame arrives whole and byte-identical, both ways', async () => {
      const p = await linked();
      const toB = pattern(10_000, 1);
      const toA = pattern(777, 2);
      expect((await p.a.transport.send(p.b.id, toB)).isOk()).toBe(true);
      expect((await p.b.transport.send(p.a.id, toA)).isOk()).toBe(true);
      await until(p, () => rb.frames(p.a.id).length >= 1 && ra.frames(p.b.id).length >= 1, 'one frame each way');
      for (let i = 0; i < 3; i++) await p.settle();
      expect(rb.frames(p.a.id)).toHaveLength(1);
      expect(ra.frames(p.b.id)).toHaveLength(1);
      expect(equalBytes(rb.frames(p.a.id)[0]!, toB)).toBe(true);
      expect(equalBytes(ra.frames(p.b.id)[0]!, toA)).toBe(true);
      expectNoViolations();
    });

    it(`many frames sent at once arrive ${ordered ? 'in order, exactly once' : 'all'}, both ways at the same time`, async () => {
      const p = await linked();
      const count = 300;
      // Sizes from 4 bytes to ~64 KiB, so frames straddle every internal chunk boundary.
      const sizes = Array.from({ length: count }, (_, i) => (i * 7919) % 65_536);
      const toB = sizes.map((size, i) => numbered(i, size));
      const toA = sizes.map((size, i) => numbered(i, (size * 3) % 20_000));
      const sent = await Promise.all([
        ...toB.map((f) => p.a.transport.send(p.b.id, f)),
        ...toA.map((f) => p.b.transport.send(p.a.id, f)),
      ]);
      expect(sent.every((r) => r.isOk())).toBe(true);
      await until(
        p,
        () => rb.frames(p.a.id).length >= count && ra.frames(p.b.id).length >= count,
        `${count} frames each way`,
      );
      for (let i = 0; i < 3; i++) await p.settle();
      for (const [got, want] of [
        [rb.frames(p.a.id), toB],
        [ra.frames(p.b.id), toA],
      ] as const) {
        if (ordered) {
          expect(got.map(indexOf)).toEqual(want.map((_, i) => i));
        } else {
          expect(new Set(got.map(indexOf)).size).toBe(count);
        }
        for (const frame of got) expect(equalBytes(frame, want[indexOf(frame)]!)).toBe(true);
      }
      expectNoViolations();
    });

    it('an empty frame arrives as an empty frame', async () => {
      const p = await linked();
      expect((await p.a.transport.send(p.b.id, new Uint8Array(0))).isOk()).toBe(true);
      expect((await p.a.transport.send(p.b.id, pattern(5, 9))).isOk()).toBe(true);
      await until(p, () => rb.frames(p.a.id).length >= 2, 'two frames');
      const lengths = rb.frames(p.a.id).map((f) => f.byteLength);
      expect(ordered ? lengths : [...lengths].sort((x, y) => x - y)).toEqual([0, 5]);
      expectNoViolations();
    });

    it('a frame of exactly MAX_FRAME_BYTES arrives whole', async () => {
      const p = await linked();
      const big = pattern(MAX_FRAME_BYTES, 3);
      expect((await p.a.transport.send(p.b.id, big)).isOk()).toBe(true);
      await until(p, () => rb.frames(p.a.id).length >= 1, 'the 1 MiB frame');
      expect(rb.frames(p.a.id)).toHaveLength(1);
      expect(equalBytes(rb.frames(p.a.id)[0]!, big)).toBe(true);
      expectNoViolations();
    });

    it('a frame over MAX_FRAME_BYTES is refused with a transport error, and the link goes on', async () => {
      const p = await linked();
      const refused = await p.a.transport.send(p.b.id, new Uint8Array(MAX_FRAME_BYTES + 1));
      expect(refused.isErr() && refused.error.type).toBe('transport');
      const marker = pattern(16, 4);
      expect((await p.a.transport.send(p.b.id, marker)).isOk()).toBe(true);
      await until(p, () => rb.frames(p.a.id).length >= 1, 'the marker frame');
      for (let i = 0; i < 3; i++) await p.settle();
      // Only the marker: nothing of the refused frame went out.
      expect(rb.frames(p.a.id)).toHaveLength(1);
      expect(equalBytes(rb.frames(p.a.id)[0]!, marker)).toBe(true);
      expect(rb.isUp(p.a.id) && ra.isUp(p.b.id)).toBe(true);
      expectNoViolations();
    });

    it('sending to a peer without a link is refused with a transport error', async () => {
      const p = await linked();
      const stranger = (await identity()).id;
      const result = await p.a.transport.send(stranger, pattern(8, 5));
      expect(result.isErr() && result.error.type).toBe('transport');
    });

    it('disconnect(peer) drops the link on both ends', async () => {
      const p = await linked();
      p.a.transport.disconnect(p.b.id);
      // From the moment disconnect returns, the link is gone on this end.
      const after = await p.a.transport.send(p.b.id, pattern(8, 6));
      expect(after.isErr() && after.error.type).toBe('transport');
      await until(p, () => ra.count('down', p.b.id) >= 1 && rb.count('down', p.a.id) >= 1, 'peer-down on both ends');
      expectNoViolations();
    });

    it('stop() on one end: the other sees the link go down and can no longer send', async () => {
      const p = await linked();
      await p.b.transport.stop();
      await until(p, () => ra.count('down', p.b.id) >= 1, 'peer-down at a');
      const result = await p.a.transport.send(p.b.id, pattern(8, 7));
      expect(result.isErr() && result.error.type).toBe('transport');
      expectNoViolations();
    });

    it('a restarted peer (same identity) links again and frames flow both ways', async (ctx) => {
      ra = new Recorder();
      rb = new Recorder();
      pair = await makePair({ a: ra, b: rb });
      const p = pair;
      if (p.restartB === undefined) {
        ctx.skip();
        return;
      }
      await until(p, () => ra.isUp(p.b.id) && rb.isUp(p.a.id), 'the first link');
      await p.b.transport.stop();
      await until(p, () => !ra.isUp(p.b.id), 'peer-down at a');
      const rb2 = new Recorder();
      const b2 = await p.restartB(rb2);
      expect(b2.id).toBe(p.b.id);
      await until(p, () => ra.isUp(p.b.id) && rb2.isUp(p.a.id), 'the link to come back');
      expect(ra.count('up', p.b.id)).toBe(2);
      const toB = pattern(3000, 8);
      const toA = pattern(4000, 9);
      expect((await p.a.transport.send(b2.id, toB)).isOk()).toBe(true);
      expect((await b2.transport.send(p.a.id, toA)).isOk()).toBe(true);
      await until(p, () => rb2.frames(p.a.id).length >= 1 && ra.frames(b2.id).length >= 1, 'a frame each way');
      expect(equalBytes(rb2.frames(p.a.id)[0]!, toB)).toBe(true);
      expect(equalBytes(ra.frames(b2.id)[0]!, toA)).toBe(true);
      expect(ra.violations).toEqual([]);
      expect(rb2.violations).toEqual([]);
    });
  });
}
