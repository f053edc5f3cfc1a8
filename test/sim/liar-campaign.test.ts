/**
 * The fault campaign with a lying member (test/support/liar.ts): a peer with a valid key that
 * writes real facts and lies with them — re-signs counters of its own chain, claims tips it does
 * not have, relays real snapshot offers with junk history heads, offers snapshots nobody made,
 * attests in honest peers' names. The seed's fault mix and workload are those of the same seed
 * without it (the liar draws from its own stream). Honest peers must converge as ever, lose
 * nothing they wrote, and never blame each other.
 *
 * Smaller than the main campaign (8 peers × 200 writes), with ackQuorum 2: a liar's ack is a lie
 * about storage nobody can check, so a write counts as acknowledged only once an honest peer
 * acknowledged it too. Replay a seed: `npx vitest run test/sim/liar-campaign.test.ts -t "seed N:"`.
 */
import { describe, expect, it } from 'vitest';
import { describeMix } from '../../testing/campaign.js';
import { liarCampaign } from '../support/liar.js';

/** Seeds of the CI slice; `LIAR_SEEDS=from-to` runs others. */
const range = (process.env.LIAR_SEEDS ?? '1-10').split('-').map(Number);
/**
 * Seeds that once failed, kept: 29 and 99 had honest peers blame each other for a snapshot (a peer
 * whose own snapshot had folded in an adopted one rebuilt an asker's cut from a log without the
 * adopted facts, engine/snapshot/attest.ts).
 */
const FOUND = process.env.LIAR_SEEDS === undefined ? [29, 99] : [];
const seeds = [...Array.from({ length: range[1]! - range[0]! + 1 }, (_, i) => range[0]! + i), ...FOUND];

describe('fault campaign with a lying member', () => {
  for (const seed of seeds) {
    it(`seed ${seed}: 8 honest peers × 200 writes converge whatever the liar does`, async () => {
      const { result, lies } = await liarCampaign(seed);
      const replay = `liar seed ${seed} (${describeMix(result.mix)}; lies ${JSON.stringify(lies)}) failed; replay: LIAR_SEEDS=${seed}-${seed} npx vitest run test/sim/liar-campaign.test.ts`;
      expect(result.failures, replay).toEqual([]);
      expect(result.acknowledgedWrites).toBeGreaterThan(1200);
      expect(
        Object.values(lies).reduce((a, b) => a + b, 0),
        'the liar never lied',
      ).toBeGreaterThan(10);
    }, 300_000);
  }
});
