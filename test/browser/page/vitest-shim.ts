/**
 * Just enough of vitest for Shoal's conformance suites (`shoal/testing`) to run inside a browser
 * page: `describe`, `it` (with a timeout), `afterEach`, and vitest's own `expect` (`@vitest/expect`
 * on chai, the matchers vitest uses). The page's bundle maps `vitest` here; `run()` runs what was
 * registered, one test after the other, and reports every outcome.
 */
import {
  chai,
  GLOBAL_EXPECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  setState,
  type ExpectStatic,
} from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

type Body = () => unknown;

interface Test {
  readonly name: string;
  readonly body: Body;
  readonly timeoutMs: number;
}

/** Longest a test may take, unless it says otherwise, in ms (vitest's default is 5 s; ours is 60). */
const DEFAULT_TIMEOUT_MS = 60_000;

const tests: Test[] = [];
const cleanups: Body[] = [];
const path: string[] = [];

export const expect = ((value: unknown, message?: string) => chai.expect(value, message)) as unknown as ExpectStatic;
Object.assign(expect, chai.expect);
setState({ assertionCalls: 0, isExpectingAssertions: false, expectedAssertionsNumber: null }, expect);
(globalThis as Record<symbol, unknown>)[GLOBAL_EXPECT] = expect;

export function describe(name: string, body: () => void): void {
  path.push(name);
  try {
    body();
  } finally {
    path.pop();
  }
}

export function it(name: string, body: Body, timeout?: number | { timeout?: number }): void {
  const timeoutMs = (typeof timeout === 'number' ? timeout : timeout?.timeout) ?? DEFAULT_TIMEOUT_MS;
  tests.push({ name: [...path, name].join(' > '), body, timeoutMs });
}
export const test = it;

export function afterEach(body: Body): void {
  cleanups.push(body);
}

/** What became of one test. */
export interface Outcome {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

/** Run every registered test in order; `onOutcome` hears of each as it ends. */
export async function run(onOutcome: (o: Outcome) => void = () => undefined): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const t of tests) {
    const started = performance.now();
    let error: string | undefined;
    try {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${t.timeoutMs} ms`)), t.timeoutMs);
      });
      try {
        await Promise.race([Promise.resolve().then(t.body), timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
    }
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (e) {
        error ??= `afterEach: ${String(e)}`;
      }
    }
    const outcome: Outcome = {
      name: t.name,
      ok: error === undefined,
      ms: performance.now() - started,
      ...(error === undefined ? {} : { error }),
    };
    outcomes.push(outcome);
    onOutcome(outcome);
  }
  return outcomes;
}
