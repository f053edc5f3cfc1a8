// Print `N passed, N failed` from vitest's JSON reporter output. A test file that failed to load
// (no tests ran in it) counts as one failure; when vitest never ran (typecheck or lint failed
// first) that counts as one failure too, so a red build never reads as green.
import { existsSync, readFileSync } from 'node:fs';

const [file, status] = process.argv.slice(2);
if (!existsSync(file)) {
  console.log(`0 passed, ${status === '0' ? 0 : 1} failed`);
} else {
  const results = JSON.parse(readFileSync(file, 'utf8'));
  const brokenFiles = (results.testResults ?? []).filter(
    (r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0,
  ).length;
  console.log(`${results.numPassedTests ?? 0} passed, ${(results.numFailedTests ?? 0) + brokenFiles} failed`);
}
