/**
 * The layering rules of eslint.config.js (`no-restricted-imports`, per folder) run through ESLint
 * with the project's own config on a fixture: a file of engine/ that imports from transports/ or
 * testing/ is reported on exactly the lines marked `// reported`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/layering.ts', import.meta.url));
/**
 * Where the fixture is linted as if it were: a file of engine/ three folders deep, like the fixture
 * itself. It must exist (typed linting only knows files of the project); its content is replaced.
 */
const AS_IF = fileURLToPath(new URL('../../engine/storage/sqlite/index.ts', import.meta.url));

it('reports imports from transports/ and testing/ in engine/, and nothing else', async () => {
  const eslint = new ESLint({ cwd: ROOT });
  const source = readFileSync(FIXTURE, 'utf8');
  const [result] = await eslint.lintText(source, { filePath: AS_IF });
  expect(result!.messages.filter((m) => m.fatal === true)).toEqual([]);
  const layering = result!.messages.filter((m) => m.ruleId === 'no-restricted-imports');
  const marked = source.split('\n').flatMap((line, i) => (line.endsWith('// reported') ? [i + 1] : []));
  expect(marked.length).toBeGreaterThan(0);
  expect(layering.map((m) => m.line).sort((a, b) => a - b)).toEqual(marked);
  expect(layering[0]!.message).toMatch(/engine\/ must not import from transports\//);
}, 60_000);
