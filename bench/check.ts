/** Correctness checks run outside the timed region: a benchmark of a wrong result is worthless. */

/** Throws unless `actual` is `expected` (`Object.is`). */
export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  if (!Object.is(actual, expected)) {
    throw new Error(`${what}: expected ${String(expected)}, got ${String(actual)}`);
  }
}

/** Throws unless two flat records hold the same keys and values, in any order. */
export function assertSameFields(
  actual: Record<string, unknown>,
  expected: Record<string, unknown>,
  what: string,
): void {
  const keys = Object.keys(expected);
  assertEqual(Object.keys(actual).length, keys.length, `${what}: number of fields`);
  for (const key of keys) assertEqual(actual[key], expected[key], `${what}: field ${key}`);
}
