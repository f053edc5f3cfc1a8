/**
 * The sync codec: every message round-trips, and decoding never throws — arbitrary bytes and
 * damaged real frames come back as typed errors (or as something well-formed), never as a crash.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeMessage, encodeRun, RunCodecCache } from '../../engine/sync/codec.js';
import { runOf, runsOf } from '../../engine/facts/run.js';
import type { Message } from '../../engine/sync/messages.js';
import { toWire } from '../../engine/sync/origin-key.js';
import type { PeerId } from '../../engine/facts/types.js';
import { createPeer, memoryStorage } from '../../engine/index.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { unwrap } from '../support/peers.js';

const ORIGIN = '12D3KooWRawPbxPtP1eZaJpumGnyWX2DcUyd3RQnydr3eAto4Az7' as PeerId;

async function realFactsFrame(): Promise<Uint8Array> {
  const net = new SimNetwork({ seed: 3 });
  const storage = memoryStorage();
  const peer = unwrap(await createPeer({ storage, env: net.env }));
  const items = unwrap(await peer.space('s')).collection('items');
  unwrap(await items.create({ title: 'milk', tags: ['a', 1, null], nested: { x: 1.5 } }, 'm'));
  unwrap(await items.update('m', 'title', 'oat milk'));
  unwrap(await items.delete('m'));
  await peer.close();
  const entries = unwrap(await unwrap(await storage.openLog('s')).query('start', 'end')).entries;
  return encodeMessage({ type: 'facts', space: 's', runs: runsOf(entries) });
}

describe('sync codec', () => {
  it('round-trips every message type', async () => {
    const vector = toWire(new Map([[ORIGIN, 7]]));
    const messages: Message[] = [
      { type: 'hello', space: 's', version: 1, reply: true, vector, more: true },
      { type: 'have', space: 's', vector, more: false },
      { type: 'ack', space: 's', vector },
      { type: 'gossip', space: 's', statements: [{ peer: ORIGIN, seq: 123, vector, sig: new Uint8Array(64).fill(7) }] },
      { type: 'error', space: 's', code: 'bad-hash', message: 'nope', retryAfter: undefined },
      { type: 'error', space: 's', code: 'clock-drift', message: 'later', retryAfter: 5_000 },
      { type: 'gone', space: 's', ids: ['ab'.repeat(32)] },
      {
        type: 'snapshot-offer',
        space: 's',
        blobId: 'cd'.repeat(32),
        vector,
        attestations: [{ attester: ORIGIN, sig: new Uint8Array(64).fill(3) }],
        history: [],
      },
      {
        type: 'attest-request',
        space: 's',
        root: 'cd'.repeat(32),
        attestation: { attester: ORIGIN, sig: new Uint8Array(64).fill(4) },
      },
      {
        type: 'attestation',
        space: 's',
        root: 'cd'.repeat(32),
        attestation: { attester: ORIGIN, sig: new Uint8Array(64).fill(5) },
      },
      { type: 'blob-request', space: 's', ids: ['ef'.repeat(32)] },
      { type: 'blob', space: 's', id: '01'.repeat(32), bytes: Uint8Array.from([1, 2, 3]) },
      { type: 'prune', space: 's' },
      { type: 'graft', space: 's' },
    ];
    for (const message of messages) expect(unwrap(decodeFrame(encodeMessage(message)))).toEqual(message);
    const facts = unwrap(decodeFrame(await realFactsFrame()));
    // Each awaited write was its own durable batch, so its own signed run.
    expect(facts.type === 'facts' && facts.runs.map((r) => r.facts.map((f) => f.type))).toEqual([
      ['create'],
      ['update'],
      ['delete'],
    ]);
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const result = decodeFrame(bytes);
        expect(result.isOk() || result.isErr()).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws on damaged real frames: flipped, cut or extended (property)', async () => {
    const frame = await realFactsFrame();
    fc.assert(
      fc.property(
        fc.nat({ max: frame.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.nat({ max: frame.length }),
        fc.uint8Array({ maxLength: 8 }),
        (at, xor, cut, extra) => {
          const damaged = frame.slice();
          damaged[at]! ^= xor;
          for (const bytes of [damaged, frame.subarray(0, cut), Uint8Array.from([...frame, ...extra])]) {
            const result = decodeFrame(bytes);
            expect(result.isOk() || result.isErr()).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('takes a prune or graft of exactly its header, and refuses one with trailing bytes', () => {
    for (const type of ['prune', 'graft'] as const) {
      const frame = encodeMessage({ type, space: 's' });
      expect(unwrap(decodeFrame(frame))).toEqual({ type, space: 's' });
      const result = decodeFrame(Uint8Array.from([...frame, 0]));
      expect(result.isErr() && result.error.type).toBe('malformed');
    }
  });

  it('refuses a frame over the limit before reading it', () => {
    const result = decodeFrame(new Uint8Array((1 << 20) + 1));
    expect(result.isErr() && result.error.type).toBe('too-large');
  });

  it('a run cache gives the bytes of a fresh encoding, for runs that share a signature but not their start', async () => {
    const net = new SimNetwork({ seed: 4 });
    const storage = memoryStorage();
    const peer = unwrap(await createPeer({ storage, env: net.env }));
    const space = unwrap(await peer.space('s'));
    const items = space.collection('items');
    unwrap(
      await space.transact(() => {
        for (let i = 0; i < 5; i++) void items.create({ i }, `i${i}`);
      }),
    );
    unwrap(await items.create({ i: 9 }, 'last'));
    await peer.close();
    const entries = unwrap(await unwrap(await storage.openLog('s')).query('start', 'end')).entries;
    const signed = entries.filter((e) => e.sig !== undefined);
    expect(signed.length).toBeGreaterThan(0);
    const cache = new RunCodecCache();
    // Every suffix of the log that ends at a signed entry: one signature object, many starts.
    for (let round = 0; round < 2; round++) {
      for (const end of signed) {
        const upTo = entries.indexOf(end);
        for (let from = 0; from <= upTo; from++) {
          const run = runOf(entries.slice(from, upTo + 1), end.sig!);
          expect(encodeRun(run, cache)).toEqual(encodeRun(run));
        }
      }
    }
  });
});
