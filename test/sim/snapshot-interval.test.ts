/**
 * A snapshot is built from the whole state (canonically, so peers can attest it), so its cost grows
 * with the items in the space. Automatic snapshots wait for max(snapshotEvery, items /
 * SNAPSHOT_STATE_FACTOR) entries, which keeps that cost O(1) per entry however large the space
 * grows. Found by the network bench: a fresh peer catching up 1,000,000 creates (1,000,000 items)
 * rebuilt the whole state every 10,000 entries and took 71 s instead of 25 s.
 */
import { describe, expect, it } from 'vitest';
import { SNAPSHOT_STATE_FACTOR } from '../../engine/limits.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

describe('automatic snapshots in a large space', () => {
  it('come every max(snapshotEvery, items / SNAPSHOT_STATE_FACTOR) entries, so building them costs O(1) per entry', async () => {
    const snapshotEvery = 100;
    const writes = 16_000;
    const net = new SimNetwork({ seed: 401 });
    const p = await simPeer(net, 'large', { snapshotEvery });
    const items = p.space.collection<{ n: number }>('items');
    const snapshots = new Set<string>();
    let itemEncodings = 0; // what building each snapshot costs: one encoding per item in the state
    for (let i = 0; i < writes; i += 100) {
      const batch = [];
      for (let k = i; k < i + 100; k++) batch.push(items.create({ n: k }, `i${k}`));
      for (const written of await net.until(Promise.all(batch))) unwrap(written);
      await net.advance(50);
      const latest = p.space.status().snapshot?.blobId;
      if (latest !== undefined && !snapshots.has(latest)) {
        snapshots.add(latest);
        itemEncodings += items.all().length;
      }
    }
    // At a fixed interval of 100 entries there would be 160 snapshots and ~1.3 million item
    // encodings (~80 per entry written); with the state-scaled interval, a few dozen and at most
    // ~2 × SNAPSHOT_STATE_FACTOR per entry.
    expect(snapshots.size).toBeGreaterThan(10);
    expect(snapshots.size).toBeLessThan(50);
    expect(itemEncodings / writes).toBeLessThanOrEqual(2 * SNAPSHOT_STATE_FACTOR + 1);
  });
});
