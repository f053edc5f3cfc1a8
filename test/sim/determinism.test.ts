/**
 * One seed gives one run, whatever ran before it in the process: no engine state outlives a
 * network (caches belong to a peer, or to the network that shares them on purpose). The same seed
 * run twice — once first, once after other seeds — gives the same trace of every delivery and the
 * same final state.
 */
import { describe, expect, it } from 'vitest';
import { runMesh } from '../../examples/simulation/mesh.js';
import { runCampaign, type CampaignOptions } from '../../testing/campaign.js';

const SMALL: Omit<CampaignOptions, 'seed'> = { peers: 10, writes: 80 };

describe('determinism', () => {
  it('a seed replays message for message after other seeds ran in the same process', async () => {
    const first = await runCampaign({ seed: 11, ...SMALL });
    // Other runs warm every cache the engine has, with overlapping content (same workload shape).
    for (const seed of [12, 13]) await runCampaign({ seed, ...SMALL });
    const again = await runCampaign({ seed: 11, ...SMALL });
    expect(first.failures, 'seed 11 must converge').toEqual([]);
    expect(again.stats.trace, 'replay of seed 11: npm run sim -- --campaign --seed 11').toBe(first.stats.trace);
    expect(again.stateHash).toBe(first.stateHash);
    expect(again.stats.sent).toBe(first.stats.sent);
  }, 300_000);

  it('different seeds give different runs (the trace sees the difference)', async () => {
    const a = await runCampaign({ seed: 21, ...SMALL });
    const b = await runCampaign({ seed: 22, ...SMALL });
    expect(a.stats.trace).not.toBe(b.stats.trace);
  }, 300_000);

  it('sharing caches between the replicas changes nothing but time: same trace, messages and state', async () => {
    // Seed 5 of the mesh: npm run sim -- --peers 40 --writes 4 --seed 5
    const mesh = { seed: 5, peers: 40, writes: 4, degree: 4, drop: 0.05 };
    const shared = await runMesh(mesh);
    const alone = await runMesh({ ...mesh, shareCaches: false });
    expect(shared.converged, 'seed 5 must converge').toBe(true);
    expect(alone.stats.trace, 'npm run sim -- --peers 40 --writes 4 --seed 5').toBe(shared.stats.trace);
    expect(alone.stats.sent).toBe(shared.stats.sent);
    expect(alone.stateHash).toBe(shared.stateHash);
  }, 300_000);
});
