/**
 * The log is the truth: a peer reopened on its storage (replaying the whole log, no snapshot) has
 * exactly the state it had live — registers, views with the pending overlay, vector, pending count.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPeer, type Space } from '../../engine/index.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

type Op = { peer: 0 | 1; kind: 'create' | 'update' | 'delete'; item: number; value: number; advance: number };

const opArb: fc.Arbitrary<Op> = fc.record({
  peer: fc.constantFrom<0 | 1>(0, 1),
  kind: fc.constantFrom<Op['kind']>('create', 'update', 'update', 'delete'),
  item: fc.integer({ min: 0, max: 4 }),
  value: fc.integer({ min: 0, max: 9 }),
  advance: fc.constantFrom(0, 0, 10, 100),
});

const observe = (space: Space) => ({
  hash: space.stateHash(),
  items: space.collection('items').all(),
  vector: space.status().vector,
  pending: space.status().pending,
});

describe('replay', () => {
  it('state after snapshot-free replay from the log equals the live state (property, 1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(opArb, { maxLength: 25 }),
        async (seed, ops) => {
          const net = new SimNetwork({ seed, drop: 0.2 });
          const peers = [await simPeer(net), await simPeer(net)];
          for (const op of ops) {
            const items = peers[op.peer]!.space.collection<{ v: number }>('items');
            const id = `i${op.item}`;
            // Errors (exists / not-found) are part of the workload; no other error may happen.
            const result =
              op.kind === 'create'
                ? await items.create({ v: op.value }, id)
                : op.kind === 'update'
                  ? await items.update(id, 'v', op.value)
                  : await items.delete(id);
            if (result.isErr()) expect(['exists', 'not-found']).toContain(result.error.type);
            if (op.advance > 0) await net.advance(op.advance);
          }
          for (const p of peers) {
            const live = observe(p.space);
            await p.peer.close();
            const reopened = unwrap(await createPeer({ storage: p.storage, env: net.env }));
            expect(reopened.id).toBe(p.peer.id);
            expect(observe(unwrap(await reopened.space('space')))).toEqual(live);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
