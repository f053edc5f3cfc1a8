import { describe, expect, it } from 'vitest';
import { describeSamples, median, sample, threadSchedstat } from '../../bench/measure.js';

describe('median', () => {
  it('is the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });
});

describe('sample', () => {
  it('warms up, then sets up, runs, checks and disposes each measured run', async () => {
    const calls: string[] = [];
    let n = 0;
    const samples = await sample({
      setup: () => ++n,
      run: (i) => i * 10,
      check: (r) => void calls.push(`check ${r}`),
      dispose: (r) => void calls.push(`dispose ${r}`),
      warmup: () => void calls.push('warmup'),
      minRuns: 3,
      maxRuns: 3,
    });
    expect(samples.runs).toBe(3);
    expect(calls).toEqual(['warmup', 'check 10', 'dispose 10', 'check 20', 'dispose 20', 'check 30', 'dispose 30']);
  });
  it('fails when a check fails', async () => {
    await expect(
      sample({
        setup: () => 0,
        run: () => 1,
        check: () => {
          throw new Error('wrong result');
        },
        minRuns: 1,
        maxRuns: 1,
      }),
    ).rejects.toThrow('wrong result');
  });
});

describe('describeSamples', () => {
  it('gives the run count, the spread and, where known, the time on and waiting for a CPU', () => {
    expect(describeSamples({ medianMs: 500, minMs: 480.4, maxMs: 520.6, runs: 5 })).toBe(
      'median of 5 runs (min–max 480–521 ms)',
    );
    expect(
      describeSamples({ medianMs: 50, minMs: 12.34, maxMs: 56.78, runs: 9, onCpuMedianMs: 40.04, waitShare: 0.2 }),
    ).toBe('median of 9 runs (min–max 12.3–56.8 ms; on CPU 40.0 ms, 20 % waiting for a CPU)');
  });
});

describe('threadSchedstat', () => {
  it.runIf(process.platform === 'linux')('reads this thread’s CPU and run-queue times on Linux', () => {
    const stat = threadSchedstat();
    expect(stat?.cpuNs).toBeGreaterThan(0);
    expect(stat?.waitNs).toBeGreaterThanOrEqual(0);
  });
});
