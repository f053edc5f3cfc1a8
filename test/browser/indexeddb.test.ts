/**
 * IndexedDB in real Chromium, not fake-indexeddb: the conformance suites every storage backend
 * passes in Node (`runEventLogTests`, `runBlobStoreTests`, `runStorageTests`) run inside a page
 * against `idbStorage`, with vitest's own `expect` (test/browser/page/vitest-shim.ts). Each test's
 * outcome comes back here; one failing test inside the page fails this one, with its name and
 * error. The same page measures what checking a fact's signature costs there, next to Node.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage, ROOT } from '../../examples/browser/build.js';
import { servePage, type PageServer } from '../../examples/browser/server.js';
import type { Outcome } from './page/vitest-shim.js';
import { measureVerifyCost, type VerifyCost } from './page/verify-cost.js';
import { ARTEFACTS, chromiumAvailable, launchChromium, WAIT_MS } from './harness.js';

const PAGE_DIR = join(ROOT, 'test/browser/page');
const TEST_MS = 120_000;

/** Signatures measured per side: enough for a stable mean, a second or so in Chromium. */
const VERIFY_COUNT = 500;

describe.skipIf(!chromiumAvailable)('IndexedDB and crypto in Chromium', () => {
  let dir: string;
  let server: PageServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-conformance-'));
    const build = buildPage({
      root: PAGE_DIR,
      outDir: join(dir, 'page'),
      vite: { resolve: { alias: { vitest: join(PAGE_DIR, 'vitest-shim.ts') } } },
    });
    [, browser] = await Promise.all([build, launchChromium()]);
    server = await servePage(join(dir, 'page'), 'none');
    page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: WAIT_MS });
  }, TEST_MS);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it(
    'idbStorage passes the EventLog, BlobStore and Storage conformance suites in the browser',
    async () => {
      const canFail = await page.evaluate(() =>
        (window as unknown as { conformance: { expectCanFail(): boolean } }).conformance.expectCanFail(),
      );
      expect(canFail).toBe(true);
      const outcomes = await page.evaluate(() =>
        (window as unknown as { conformance: { run(): Promise<Outcome[]> } }).conformance.run(),
      );
      const failed = outcomes.filter((o) => !o.ok).map((o) => `${o.name}: ${o.error ?? ''}`);
      expect(failed).toEqual([]);
      // Every suite registered its tests in the page (a broken shim would run none): in Node the
      // same three suites are 33 tests.
      for (const suite of ['EventLog conformance', 'BlobStore conformance', 'Storage conformance']) {
        expect(outcomes.filter((o) => o.name.startsWith(suite)).length, suite).toBeGreaterThanOrEqual(5);
      }
      expect(outcomes.length).toBeGreaterThanOrEqual(30);
      console.log(`${outcomes.length} conformance tests passed in Chromium's IndexedDB`);
    },
    TEST_MS,
  );

  it(
    'checking a signature: Chromium next to Node (reported, not asserted: costs are for the bench)',
    async () => {
      const browserCost = await page.evaluate(
        (n) =>
          (window as unknown as { conformance: { verifyCost(n: number): Promise<VerifyCost> } }).conformance.verifyCost(
            n,
          ),
        VERIFY_COUNT,
      );
      const nodeCost = await measureVerifyCost(VERIFY_COUNT);
      expect(browserCost.verified).toBe(VERIFY_COUNT);
      expect(nodeCost.verified).toBe(VERIFY_COUNT);
      const report = { chromium: browserCost, node: nodeCost };
      await mkdir(ARTEFACTS, { recursive: true });
      await writeFile(join(ARTEFACTS, 'verify-cost.json'), JSON.stringify(report, null, 2));
      console.log(
        `signature check per fact: Chromium ${browserCost.verifyMicros.toFixed(1)} µs, Node ${nodeCost.verifyMicros.toFixed(1)} µs` +
          ` (signing: ${browserCost.signMicros.toFixed(1)} µs vs ${nodeCost.signMicros.toFixed(1)} µs)`,
      );
    },
    TEST_MS,
  );
});
