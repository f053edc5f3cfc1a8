import { describe, expect, it } from 'vitest';
import type { BenchContext } from '../../bench/harness.js';
import { runWorkloads, type MetricSpec, type Workload } from '../../bench/workload.js';

const ctx: BenchContext = { scale: 1, log: () => {} };

describe('runWorkloads', () => {
  it('turns each system’s values into rows carrying the shared metric specs, goals and notes', async () => {
    const metrics = {
      time: { metric: 'time', unit: 'ms', better: 'lower', goal: 5 },
      size: { metric: 'size', unit: 'B', better: 'lower' },
    } satisfies Record<string, MetricSpec>;
    const w: Workload<keyof typeof metrics> = {
      name: 'w',
      metrics,
      systems: {
        yjs: () => Promise.resolve({ values: { time: 1, size: 2 }, notes: { size: 'payload only' } }),
        automerge: () => Promise.resolve({ values: { time: 3 } }),
      },
    };
    expect(await runWorkloads([w], ctx)).toEqual([
      { workload: 'w', system: 'yjs', metric: 'time', value: 1, unit: 'ms', better: 'lower', goal: 5 },
      { workload: 'w', system: 'yjs', metric: 'size', value: 2, unit: 'B', better: 'lower', note: 'payload only' },
      { workload: 'w', system: 'automerge', metric: 'time', value: 3, unit: 'ms', better: 'lower', goal: 5 },
    ]);
  });
});
