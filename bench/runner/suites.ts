/**
 * Finding suites. Every `.ts` file in `bench/suites/` is a suite whose default export is a
 * `BenchSuite` named like the file: adding a suite is adding its file, and a suite that is not
 * written yet is simply not there. Helpers that are not suites live outside that folder.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result } from 'neverthrow';

/** A suite file found on disk. */
export interface SuiteFile {
  /** File name without `.ts`; also the suite's `name`. */
  readonly name: string;
  readonly path: string;
}

/** The suite files in `dir`, by name. */
export function findSuites(dir: string): SuiteFile[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .sort()
    .map((file) => ({ name: file.slice(0, -'.ts'.length), path: join(dir, file) }));
}

/** The suites `only` names (all when undefined), in the order given; an unknown name is an error. */
export function selectSuites(
  available: readonly SuiteFile[],
  only: readonly string[] | undefined,
): Result<SuiteFile[], string> {
  if (only === undefined) return ok([...available]);
  const selected: SuiteFile[] = [];
  for (const name of only) {
    const suite = available.find((s) => s.name === name);
    if (!suite) {
      return err(`no suite "${name}" in bench/suites (have: ${available.map((s) => s.name).join(', ') || 'none'})`);
    }
    if (!selected.includes(suite)) selected.push(suite);
  }
  return ok(selected);
}
