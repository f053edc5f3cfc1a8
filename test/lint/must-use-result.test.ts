/**
 * The custom lint rule `shoal/must-use-result` (eslint-rules/must-use-result.js) run through ESLint
 * with the project's own config on a fixture: it reports exactly the lines marked `// reported`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/results.ts', import.meta.url));

it('reports dropped Results and ResultAsyncs, and nothing that is handled, passed on or voided', async () => {
  // ignore: false lints the fixture although the config ignores it for `npm run lint`.
  const eslint = new ESLint({ cwd: ROOT, ignore: false });
  const [result] = await eslint.lintFiles([FIXTURE]);
  const reported = result!.messages.filter((m) => m.ruleId === 'shoal/must-use-result').map((m) => m.line);
  const marked = readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .flatMap((line, i) => (line.endsWith('// reported') ? [i + 1] : []));
  expect(marked.length).toBeGreaterThan(0);
  expect(reported.sort((a, b) => a - b)).toEqual(marked);
  expect(result!.messages.filter((m) => m.ruleId === 'shoal/must-use-result')[0]!.message).toMatch(
    /dropped: its error would be ignored/,
  );
}, 60_000);
