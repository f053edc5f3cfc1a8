/**
 * Real Chromium for the browser tests: Debian's `chromium` driven by playwright-core (no browser
 * download), headless, on loopback only. WebRTC gathers host candidates only (the pages configure
 * no STUN or TURN server); Chromium is told to keep loopback candidates and to show real addresses
 * instead of mDNS names, so two pages reach each other on 127.0.0.1 without multicast.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildPage, ROOT } from '../../examples/browser/build.js';
import { startRelay, type Relay } from '../../examples/browser/relay.js';
import { servePage, type PageServer } from '../../examples/browser/server.js';

/** Where Chromium is (`CHROMIUM` overrides). `.ci/run` installs Debian's package there. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Longest wait for any one page state, in ms. */
export const WAIT_MS = 30_000;

/** Artefacts the browser tests leave (screenshots), for a human to look at. */
export const ARTEFACTS = join(ROOT, '.tmp/browser-artefacts');

/**
 * Whether the browser tests run: always in CI (`.ci/run` installs Chromium, so a missing one fails
 * them), and wherever Chromium is installed; elsewhere they are skipped with a note.
 */
export const chromiumAvailable = existsSync(CHROMIUM) || process.env.CI === 'true';
if (!chromiumAvailable) console.warn(`${CHROMIUM} is missing: browser tests skipped (apt-get install chromium)`);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
}

/** The relay, the built page and its server: what `npm run browser` runs. */
export interface Stack {
  relay: Relay;
  readonly server: PageServer;
  readonly dir: string;
  readonly dbPath: string;
  /** Stop the relay (the pages keep running). */
  stopRelay(): Promise<void>;
  /** Start it again: same SQLite file (so the same PeerId), same port, so pages find it again. */
  restartRelay(): Promise<void>;
  close(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-browser-test-'));
  const dbPath = join(dir, 'relay.db');
  const relay = await startRelay({ dbPath });
  const outDir = join(dir, 'page');
  await buildPage({ outDir });
  const server = await servePage(outDir, relay.address);
  let relayUp = true;
  const stack: Stack = {
    relay,
    server,
    dir,
    dbPath,
    async stopRelay() {
      if (!relayUp) return;
      relayUp = false;
      await stack.relay.close();
    },
    async restartRelay() {
      if (relayUp) return;
      const port = Number(/\/tcp\/(\d+)\//.exec(relay.address)?.[1]);
      stack.relay = await startRelay({ dbPath, port });
      relayUp = true;
    },
    async close() {
      await server.close();
      if (relayUp) await stack.relay.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** What `window.shoalDemo.state()` returns (examples/browser/main.ts). */
export interface PageState {
  id: string;
  online: boolean;
  relayId: string;
  webrtcAddress: string | undefined;
  items: { id: string; title: string; done: boolean; addedAt: number }[];
  pending: number;
  peers: { id: string; link: string; relay: boolean }[];
  vector: Record<string, number>;
  stateHash: string;
}

/** A page of the demo, with what it logged to the console (errors fail the tests that check). */
export interface DemoPage {
  readonly page: Page;
  readonly errors: string[];
  state(): Promise<PageState>;
  /** Wait until `predicate(state)` holds in the page (it runs there: no closures). */
  until(predicate: string, what: string): Promise<PageState>;
}

/** Open the demo in `context` and wait until it has started. */
export async function openDemo(context: BrowserContext, url: string, query = ''): Promise<DemoPage> {
  const page = await context.newPage();
  return attach(page, url, query);
}

export async function attach(page: Page, url: string, query = ''): Promise<DemoPage> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${url}${query}`);
  const demo: DemoPage = {
    page,
    errors,
    state: () => page.evaluate(() => (window as unknown as { shoalDemo: { state(): PageState } }).shoalDemo.state()),
    async until(predicate, what) {
      try {
        await page.waitForFunction(
          (source) => {
            const demo = (window as unknown as { shoalDemo?: { state(): unknown } }).shoalDemo;
            if (demo === undefined) return false;
            let state: unknown;
            try {
              state = demo.state();
            } catch {
              return false; // restarting (going offline or online): ask again
            }
            // eslint-disable-next-line @typescript-eslint/no-implied-eval
            return (new Function('s', `return (${source});`) as (s: unknown) => boolean)(state);
          },
          predicate,
          { timeout: WAIT_MS, polling: 50 },
        );
      } catch (e) {
        const text = await page
          .locator('#error')
          .textContent()
          .catch(() => '');
        throw new Error(
          `waiting for ${what} (${predicate}): ${String(e)}\npage error: ${text}\nstate: ${JSON.stringify(await demo.state().catch(() => null))}\nconsole: ${errors.join('\n')}`,
        );
      }
      return demo.state();
    },
  };
  await page.waitForFunction(
    () => document.body.dataset.ready === 'true' || document.getElementById('error')?.textContent !== '',
    undefined,
    {
      timeout: WAIT_MS,
    },
  );
  const failed = await page.locator('#error').textContent();
  if (failed !== null && failed !== '') throw new Error(failed);
  return demo;
}

/** Call one of `window.shoalDemo`'s actions in the page. */
export function act<T>(demo: DemoPage, action: string, ...args: unknown[]): Promise<T> {
  return demo.page.evaluate(
    ([name, rest]) =>
      (window as unknown as { shoalDemo: Record<string, (...a: unknown[]) => unknown> }).shoalDemo[name]!(...rest),
    [action, args] as const,
  ) as Promise<T>;
}
