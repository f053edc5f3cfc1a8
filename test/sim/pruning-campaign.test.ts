/**
 * The fault campaign with snapshots and pruning on: logs stay short, nothing acknowledged is lost.
 */
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../testing/campaign.js';

describe('fault campaign with periodic snapshots and pruning', () => {
  for (const seed of [1001, 1002, 1003, 1004]) {
    it(`seed ${seed}: converge, logs stay within 3 × snapshotEvery, history keeps every acknowledged fact`, async () => {
      const result = await runCampaign({ seed, peer: { snapshotEvery: 300, pruneWindow: 3_000 } });
      expect(
        result.failures,
        `seed ${seed} failed; replay it exactly with: npm run sim -- --campaign --seed ${seed} --prune`,
      ).toEqual([]);
      expect(result.acknowledgedWrites).toBeGreaterThan(3000);
    }, 600_000);
  }
});
