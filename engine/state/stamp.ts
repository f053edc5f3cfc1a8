/**
 * Stamps order facts for last-writer-wins: `(hlc.wall, hlc.logical, origin, counter)`.
 *
 * The origin breaks ties between peers that wrote in the same millisecond with the same logical
 * count. The counter only matters for a misbehaving origin that stamps two of its facts alike; it
 * keeps the order total, so merge stays a pure function of the set of facts.
 */
import type { Fact, PeerId } from '../facts/types.js';

export interface Stamp {
  readonly wall: number;
  readonly logical: number;
  readonly origin: PeerId;
  readonly counter: number;
}

/** Negative, zero or positive as `a` is older than, the same as, or newer than `b`. */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.wall !== b.wall) return a.wall - b.wall;
  if (a.logical !== b.logical) return a.logical - b.logical;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  return a.counter - b.counter;
}

/** `compareStamps(a, stampOf(fact))` without making the fact's stamp. */
export function compareToFact(a: Stamp, fact: Fact): number {
  const { wall, logical } = fact.hlc;
  if (a.wall !== wall) return a.wall - wall;
  if (a.logical !== logical) return a.logical - logical;
  if (a.origin !== fact.origin) return a.origin < fact.origin ? -1 : 1;
  return a.counter - fact.counter;
}

/** The stamp of a fact. */
export const stampOf = (fact: Fact): Stamp => ({
  wall: fact.hlc.wall,
  logical: fact.hlc.logical,
  origin: fact.origin,
  counter: fact.counter,
});
