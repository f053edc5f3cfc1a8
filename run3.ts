import { runCampaign } from './test/sim/campaign.js';
for (const seed of process.argv.slice(2).map(Number)) {
const t = performance.now();
const r = await runCampaign({ seed });
console.log(seed, Math.round(performance.now() - t), r.failures, r.stats.sent, r.stats.bytesSent, r.convergeMs, r.crashes, r.partitions);
}
