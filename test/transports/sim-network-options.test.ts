/**
 * Every SimNetwork option is checked, since plain JavaScript (a config file, a command line) may
 * pass anything: `SimNetwork.create` gives a typed `invalid-input` error naming the option, the
 * constructor throws a TypeError with the same message. `latency: [1, 80]` (an array) used to be
 * accepted and made every delay NaN: the network then delivered nothing, for ever.
 */
import { describe, expect, it } from 'vitest';
import { SimNetwork, type SimNetworkInit } from '../../transports/memory/index.js';

const bad: [string, unknown, RegExp][] = [
  ['a latency given as an array', { seed: 1, latency: [1, 80] }, /latency must be .* \(got \[1,80\]\)/],
  ['a latency range upside down', { seed: 1, latency: { min: 80, max: 1 } }, /latency .*min ≤ max/],
  ['a negative latency', { seed: 1, latency: -5 }, /latency/],
  ['a fractional latency', { seed: 1, latency: 2.5 }, /latency must be a whole number/],
  ['a latency as text', { seed: 1, latency: '20' }, /latency .*\(got "20"\)/],
  ['a missing seed', {}, /seed must be an integer \(got undefined\)/],
  ['a fractional seed', { seed: 1.5 }, /seed must be an integer/],
  ['a seed as text', { seed: '7' }, /seed must be an integer \(got "7"\)/],
  ['a drop probability over 1', { seed: 1, drop: 10 }, /drop must be a probability in \[0, 1\] \(got 10\)/],
  ['a NaN duplicate probability', { seed: 1, duplicate: Number.NaN }, /duplicate must be a probability .*NaN/],
  ['a reorder probability as text', { seed: 1, reorder: '0.1' }, /reorder must be a probability/],
  ['mesh as text', { seed: 1, mesh: 'yes' }, /mesh must be true or false/],
  ['a fractional start', { seed: 1, start: 0.5 }, /start must be a whole number of ms/],
  ['an unknown option', { seed: 1, dropRate: 0.1 }, /unknown option "dropRate"/],
  ['no options at all', undefined, /options must be an object/],
];

describe('SimNetwork options', () => {
  it.each(bad)('refuses %s, naming it', (_what, init, message) => {
    const created = SimNetwork.create(init as SimNetworkInit);
    expect(created.isErr() && created.error.type).toBe('invalid-input');
    expect(created.isErr() && created.error.message).toMatch(message);
    expect(created.isErr() && created.error.message).toMatch(/^SimNetwork: /);
    expect(() => new SimNetwork(init as SimNetworkInit)).toThrow(TypeError);
    expect(() => new SimNetwork(init as SimNetworkInit)).toThrow(message);
  });

  it('takes every valid form', async () => {
    for (const init of [
      { seed: 0 },
      { seed: -3, latency: 0 },
      { seed: 2, latency: { min: 1, max: 80 }, drop: 0, duplicate: 1, reorder: 0.5, mesh: false, start: 0 },
    ]) {
      const net = SimNetwork.create(init)._unsafeUnwrap();
      expect(await net.runUntilQuiet()).toBe(true);
      expect(new SimNetwork(init)).toBeInstanceOf(SimNetwork);
    }
  });
});
