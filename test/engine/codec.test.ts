/**
 * The sync codec: every message round-trips, and decoding never throws — arbitrary bytes and
 * damaged real frames come back as typed errors (or as something well-formed), never as a crash.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeMessage, encodeRun, RunCodecCache } from '../../engine/sync/codec.js';
import { runOf, runsOf, type FactBody, type Run } from '../../engine/facts/run.js';
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

  it('round-trips runs whatever their facts share: clock ticks, collections, field names, base64url ids (property)', () => {
    const id = fc.oneof(
      fc.constantFrom('a', 'items', 'AAAA', 'x_-9', 'é', 'AbCdEfGhIjKlMnOp', 'AbCdEfGhIjKlMnO', '__proto__x'),
      fc.string({ minLength: 1, maxLength: 20 }),
    );
    const field = fc.constantFrom('title', 'n', 'done', 'AAAA', 'é');
    const value = fc.oneof(
      fc.integer(),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
    );
    const body = fc.record({
      type: fc.constantFrom<'create' | 'update' | 'delete'>('create', 'update', 'delete'),
      dWall: fc.oneof(fc.constant(0), fc.integer({ min: -5, max: 5 }), fc.nat({ max: 1_000_000 })),
      logical: fc.oneof(fc.constant(-1), fc.nat({ max: 3 })),
      collection: fc.constantFrom('items', 'lists', 'AAAA'),
      item: id,
      fields: fc.uniqueArray(field, { minLength: 1, maxLength: 3 }),
      values: fc.array(value, { minLength: 3, maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(body, { minLength: 1, maxLength: 30 }), (bodies) => {
        let wall = 1_700_000_000_000;
        let logical = 0;
        const facts: FactBody[] = bodies.map((b) => {
          wall += b.dWall;
          // -1: the next logical counter of the same wall time (what a burst of writes gives).
          logical = b.logical === -1 ? logical + 1 : b.logical;
          const hlc = { wall, logical };
          const base = { type: b.type, hlc, collection: b.collection, item: b.item };
          if (b.type === 'delete') return base;
          const fields = b.type === 'update' ? b.fields.slice(0, 1) : b.fields;
          const data = Object.fromEntries(fields.map((f, i) => [f, Object.is(b.values[i], -0) ? 0 : b.values[i]!]));
          return { ...base, data };
        });
        const run: Run = {
          origin: ORIGIN,
          first: 1,
          prev: null,
          facts,
          hash: new Uint8Array(32).fill(1),
          sig: new Uint8Array(64).fill(2),
        };
        const message = unwrap(decodeFrame(encodeMessage({ type: 'facts', space: 's', runs: [run] })));
        expect(message.type === 'facts' && message.runs.map((r) => ({ ...r, bytes: undefined }))).toEqual([
          { ...run, bytes: undefined },
        ]);
      }),
      { numRuns: 500 },
    );
  });

  it('sends what facts of a run share once: a burst of creates costs its item id and values, and little else', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `AbCdEfGhIjKl${String(i).padStart(4, '0')}`);
    const facts: FactBody[] = ids.map((item, i) => ({
      type: 'create',
      hlc: { wall: 1_700_000_000_000, logical: i },
      collection: 'items',
      item,
      data: { n: i, title: 'x' },
    }));
    const run: Run = { origin: ORIGIN, first: 1, prev: null, facts, hash: new Uint8Array(32), sig: new Uint8Array(64) };
    const bytes = encodeRun(run);
    // Per fact: head 1 · item (tag, length, 12 bytes) 14 · n (tag, ≤ 2-byte varint) ≤ 3 · title 3.
    expect((bytes.length - 200) / facts.length).toBeLessThanOrEqual(21);
  });

  it('refuses a run whose fact head has unknown bits or says "same as before" with nothing before', () => {
    const run: Run = {
      origin: ORIGIN,
      first: 1,
      prev: null,
      facts: [{ type: 'delete', hlc: { wall: 5, logical: 0 }, collection: 'c', item: 'i' }],
      hash: new Uint8Array(32),
      sig: new Uint8Array(64),
    };
    const good = encodeMessage({ type: 'facts', space: 's', runs: [run] });
    // The frame ends with the fact: head · wall delta · logical · collection (new, 1 char) · item (new, 1 char).
    const at = good.length - 9;
    expect(good[at]).toBe(3);
    expect(decodeFrame(good).isOk()).toBe(true);
    for (const head of [3 | 32, 3 | 128, 3 | 8, 3 | 16, 2 | 16, 1 | 16, 0]) {
      const bad = good.slice();
      bad[at] = head;
      const result = decodeFrame(bad);
      expect(result.isErr() && result.error.type, `head ${head}`).toBe('malformed');
    }
  });
});
