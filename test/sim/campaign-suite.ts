/**
 * Runs a range of fault-campaign seeds as tests, one `it` per seed. The campaign is split over
 * several files so vitest runs them on every core. A failure names its seed and how to replay it.
 */
import { expect, it } from 'vitest';
import { describeMix, runCampaign } from '../../testing/campaign.js';

/** Seeds per campaign test file; four files make the 100 seeds of `npm test`. */
export const SEEDS_PER_FILE = 25;

export function campaignSeeds(first: number, count = SEEDS_PER_FILE): void {
  campaignSeedList(Array.from({ length: count }, (_, i) => first + i));
}

/** The given seeds, one `it` each. */
export function campaignSeedList(seeds: readonly number[]): void {
  for (const seed of seeds) {
    it(`seed ${seed}: 20 peers × 200 writes under the seed's own fault mix converge once the faults heal`, async () => {
      const result = await runCampaign({ seed });
      const mix = describeMix(result.mix);
      const replay = `seed ${seed} (${mix}) failed; replay it exactly with: npm run sim -- --campaign --seed ${seed}`;
      expect(result.failures, replay).toEqual([]);
      // A campaign in which most writes failed would pass vacuously.
      expect(result.acknowledgedWrites).toBeGreaterThan(3000);
    }, 300_000);
  }
}
