/** Command-line flags of `npm run bench`. */
import { parseArgs } from 'node:util';
import { err, ok, type Result } from 'neverthrow';

/** Scale of `--quick` runs. */
export const QUICK_SCALE = 0.1;
/** Where the JSON goes unless `--json` says otherwise (relative to the project root). */
export const DEFAULT_JSON = 'bench/results/latest.json';

export const USAGE = `usage: npm run bench -- [--only <suite,...>] [--quick] [--json <path>]
  --only   run only these suites (names = file names in bench/suites, without .ts)
  --quick  scale every workload by ${QUICK_SCALE} (a smoke run, not numbers to quote)
  --json   where to write rows + metadata (default ${DEFAULT_JSON})`;

/** Parsed flags. */
export interface BenchOptions {
  /** Suite names to run; undefined = all. */
  readonly only?: readonly string[];
  readonly scale: number;
  readonly json: string;
  readonly help: boolean;
}

/** Parses `argv` (without node and the script); an unknown flag or a missing value is an error. */
export function parseBenchArgs(argv: readonly string[]): Result<BenchOptions, string> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        only: { type: 'string' },
        quick: { type: 'boolean', default: false },
        json: { type: 'string', default: DEFAULT_JSON },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    // parseArgs reports bad flags by throwing; this is the edge where that becomes a value.
    return err(e instanceof Error ? e.message : String(e));
  }
  const only = values.only
    ?.split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (only !== undefined && only.length === 0) return err('--only needs at least one suite name');
  return ok({
    ...(only === undefined ? {} : { only }),
    scale: values.quick ? QUICK_SCALE : 1,
    json: values.json,
    help: values.help,
  });
}
