import { describe, expect, it } from 'vitest';
import { DEFAULT_JSON, parseBenchArgs, QUICK_SCALE } from '../../bench/runner/args.js';
import { isRowsMessage } from '../../bench/runner/protocol.js';
import { selectSuites } from '../../bench/runner/suites.js';

describe('parseBenchArgs', () => {
  it('defaults to every suite at full scale and the default JSON path', () => {
    expect(parseBenchArgs([])._unsafeUnwrap()).toEqual({ scale: 1, json: DEFAULT_JSON, help: false });
  });
  it('reads --only, --quick and --json', () => {
    expect(parseBenchArgs(['--only', 'merge, sync,', '--quick', '--json', 'out.json'])._unsafeUnwrap()).toEqual({
      only: ['merge', 'sync'],
      scale: QUICK_SCALE,
      json: 'out.json',
      help: false,
    });
  });
  it('rejects unknown flags, missing values and an empty --only', () => {
    expect(parseBenchArgs(['--fast']).isErr()).toBe(true);
    expect(parseBenchArgs(['--json']).isErr()).toBe(true);
    expect(parseBenchArgs(['--only', ',']).isErr()).toBe(true);
  });
});

describe('selectSuites', () => {
  const available = [
    { name: 'merge', path: '/s/merge.ts' },
    { name: 'sync', path: '/s/sync.ts' },
  ];
  it('selects all without --only, else the named ones in the order given, once each', () => {
    expect(selectSuites(available, undefined)._unsafeUnwrap()).toEqual(available);
    expect(
      selectSuites(available, ['sync', 'merge', 'sync'])
        ._unsafeUnwrap()
        .map((s) => s.name),
    ).toEqual(['sync', 'merge']);
  });
  it('names the available suites when one is unknown', () => {
    expect(selectSuites(available, ['storage'])._unsafeUnwrapErr()).toContain('have: merge, sync');
  });
});

describe('isRowsMessage', () => {
  const good = { workload: 'w', system: 'yjs', metric: 'm', value: 1, unit: 'ms', better: 'lower' };
  it('accepts well-formed rows and rejects malformed ones', () => {
    expect(isRowsMessage({ type: 'rows', rows: [good, { ...good, goal: 2, note: 'n' }] })).toBe(true);
    expect(isRowsMessage({ type: 'rows', rows: [{ ...good, value: '1' }] })).toBe(false);
    expect(isRowsMessage({ type: 'rows', rows: [{ ...good, better: 'more' }] })).toBe(false);
    expect(isRowsMessage({ type: 'log' })).toBe(false);
  });
});
