/**
 * The browser demo (examples/browser) in real Chromium: tabs over a BroadcastChannel, two browsers
 * over WebRTC with the relay only signalling, IndexedDB across a reload, offline edits on both sides
 * converging with pending shadowing visible, and a screenshot of the page.
 *
 * Each browser context is one browser profile (its own IndexedDB): two contexts are two browsers.
 * Every wait is on the page's own state (`window.shoalDemo.state()`), never a sleep.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  act,
  ARTEFACTS,
  attach,
  chromiumAvailable,
  launchChromium,
  openDemo,
  startStack,
  type DemoPage,
  type Stack,
} from './harness.js';

const TEST_MS = 90_000;

describe.skipIf(!chromiumAvailable)('the browser demo in Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  const newContext = async (): Promise<BrowserContext> => {
    const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
    contexts.push(context);
    return context;
  };

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchChromium()]);
  }, TEST_MS);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await stack?.close();
  });

  it(
    'two tabs of one browser sync over the BroadcastChannel (no libp2p at all)',
    async () => {
      const context = await newContext();
      const one = await openDemo(context, stack.server.url, '?relay=off');
      const two = await openDemo(context, stack.server.url, '?relay=off');
      const [a, b] = [await one.state(), await two.state()];
      expect(a.id).not.toBe(b.id); // one peer per tab: its own IndexedDB database

      // Through the page's form, as a user would.
      await one.page.fill('#title', 'oat milk');
      await one.page.press('#title', 'Enter');
      await two.until(`s.items.some((i) => i.title === 'oat milk')`, 'the item in the other tab');
      const linked = await two.until(`s.peers.some((p) => p.id === '${a.id}' && p.link === 'tab')`, 'the tab link');
      expect(linked.peers.every((p) => p.link === 'tab')).toBe(true);

      await two.page.locator('#items li', { hasText: 'oat milk' }).locator('input[type=checkbox]').check();
      await one.until(`s.items.some((i) => i.title === 'oat milk' && i.done)`, 'the tick in the first tab');
      expect(await one.page.locator('#peers li').first().textContent()).toContain('another tab (BroadcastChannel)');
      expect([...one.errors, ...two.errors]).toEqual([]);
    },
    TEST_MS,
  );

  let alice: DemoPage;
  let bob: DemoPage;

  it(
    'two browsers sync over WebRTC; the relay only signals: stopped, they keep syncing directly',
    async () => {
      alice = await openDemo(await newContext(), stack.server.url);
      bob = await openDemo(await newContext(), stack.server.url);
      // Both hold a slot on the relay: reachable for the WebRTC handshake.
      const a = await alice.until('s.webrtcAddress !== undefined && s.peers.some((p) => p.relay)', 'a relay slot');
      await bob.until('s.webrtcAddress !== undefined && s.peers.some((p) => p.relay)', 'a relay slot');
      const b = await bob.state();
      expect(a.peers.find((p) => p.relay)?.link).toBe('websockets');

      await act(bob, 'dial', a.id);
      await alice.until(`s.peers.some((p) => p.id === '${b.id}' && p.link === 'webrtc')`, 'the WebRTC link');
      await bob.until(`s.peers.some((p) => p.id === '${a.id}' && p.link === 'webrtc')`, 'the WebRTC link');
      expect(await bob.page.locator(`#peers li[data-peer="${a.id}"]`).textContent()).toContain('WebRTC, direct');

      await act(alice, 'add', 'apples');
      await bob.until(`s.items.some((i) => i.title === 'apples')`, 'apples on Bob');

      // No relay from now on: nothing but the direct link can carry what follows.
      await stack.stopRelay();
      await alice.until('!s.peers.some((p) => p.relay)', 'the relay gone');
      await bob.until('!s.peers.some((p) => p.relay)', 'the relay gone');

      await act(bob, 'add', 'bananas');
      const applesId = (await alice.state()).items.find((i) => i.title === 'apples')!.id;
      await act(alice, 'rename', applesId, 'green apples');
      await alice.until(`s.items.some((i) => i.title === 'bananas')`, 'bananas on Alice');
      await bob.until(`s.items.some((i) => i.title === 'green apples')`, 'the rename on Bob');
      const [sa, sb] = [
        await alice.until('s.pending === 0', 'Alice acknowledged'),
        await bob.until('s.pending === 0', 'Bob acknowledged'),
      ];
      expect(sa.stateHash).toBe(sb.stateHash);
      expect(sa.peers).toEqual([{ id: b.id, link: 'webrtc', relay: false }]);
      expect(sb.peers).toEqual([{ id: a.id, link: 'webrtc', relay: false }]);
    },
    TEST_MS,
  );

  it(
    'a reload keeps everything (IndexedDB): same PeerId, same items, a write made just before',
    async () => {
      const before = await alice.state();
      await act(alice, 'add', 'written just before the reload');
      const page = alice.page;
      await page.reload();
      const again = await attach(page, stack.server.url); // same tab: same database
      const after = await again.until(`s.items.length === ${before.items.length + 1}`, 'the items back');
      expect(after.id).toBe(before.id);
      expect(after.items.map((i) => i.title)).toEqual([
        ...before.items.map((i) => i.title),
        'written just before the reload',
      ]);
      alice = again;
    },
    TEST_MS,
  );

  it(
    'offline edits on both sides converge after reconnecting, and pending shadowing shows meanwhile',
    async () => {
      await stack.restartRelay();
      // A write waits for two acknowledgements (the relay's and the other page's), so the pending
      // count and the shadowing last long enough to be seen.
      const carol = await openDemo(await newContext(), stack.server.url, '?quorum=2');
      const dave = await openDemo(await newContext(), stack.server.url, '?quorum=2');
      const c = await carol.until('s.webrtcAddress !== undefined && s.peers.some((p) => p.relay)', 'a relay slot');
      const d = await dave.until('s.webrtcAddress !== undefined && s.peers.some((p) => p.relay)', 'a relay slot');
      await act(dave, 'dial', c.id);
      await carol.until(`s.peers.some((p) => p.id === '${d.id}' && p.link === 'webrtc')`, 'the WebRTC link');

      const bread = await act<string>(carol, 'add', 'bread');
      await dave.until(`s.items.some((i) => i.title === 'bread')`, 'bread on Dave');
      await carol.until('s.pending === 0', 'bread acknowledged by both');

      // Both go offline with the page's toggle, and edit the same field: Dave first, Carol later.
      await carol.page.check('#offline');
      await dave.page.check('#offline');
      await carol.until('!s.online', 'Carol offline');
      await dave.until('!s.online', 'Dave offline');
      await act(dave, 'rename', bread, 'rye bread');
      await dave.page.waitForFunction(() => true); // a turn of Dave's page, so Carol's stamp is later
      await act(carol, 'rename', bread, 'sourdough');
      const carolOffline = await carol.until('s.pending === 1', 'Carol: one pending edit');
      await dave.until('s.pending === 1', 'Dave: one pending edit');
      expect(carolOffline.items.find((i) => i.id === bread)?.title).toBe('sourdough');
      expect(await carol.page.locator('#pending').textContent()).toBe('1');
      expect(await dave.page.locator('#items').textContent()).toContain('rye bread');
      expect(await dave.page.locator('#network').textContent()).toBe('offline');

      // Carol comes back first: the relay holds her edit, but it waits for Dave's acknowledgement.
      await carol.page.uncheck('#offline');
      await carol.until('s.online && s.peers.some((p) => p.relay)', 'Carol back on the relay');
      const carolCounter = (await carol.state()).vector[c.id]!;

      // Dave comes back: Carol's newer edit reaches him through the relay while his own is pending,
      // and his page keeps showing his edit until it is acknowledged (Figma's rule).
      await dave.page.uncheck('#offline');
      await dave.until(`(s.vector['${c.id}'] ?? 0) >= ${carolCounter}`, "Carol's edit on Dave");
      await act(dave, 'dial', c.id);
      const [cs, ds] = await Promise.all([
        carol.until(`s.pending === 0 && s.items.some((i) => i.title === 'sourdough')`, 'Carol settled'),
        dave.until(`s.pending === 0 && s.items.some((i) => i.title === 'sourdough')`, 'Dave settled'),
      ]);
      expect(cs.stateHash).toBe(ds.stateHash);
      expect(ds.items.map((i) => i.title)).toEqual(cs.items.map((i) => i.title));

      type Moment = { titles: Record<string, string>; pending: number; vector: Record<string, number> };
      const timeline = await dave.page.evaluate(
        () => (window as unknown as { shoalDemo: { timeline: Moment[] } }).shoalDemo.timeline,
      );
      const shadowed = timeline.filter(
        (m) => m.titles[bread] === 'rye bread' && m.pending > 0 && (m.vector[c.id] ?? 0) >= carolCounter,
      );
      expect(shadowed.length).toBeGreaterThan(0); // Dave held Carol's edit and still showed his own
      expect(timeline.at(-1)?.titles[bread]).toBe('sourdough');

      // The page as a person sees it: a screenshot, kept as an artefact, of the very items.
      await mkdir(ARTEFACTS, { recursive: true });
      const png = await carol.page.screenshot({ fullPage: true });
      await writeFile(join(ARTEFACTS, 'shopping-list.png'), png);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      for (const item of cs.items) {
        const row = carol.page.locator(`#items li[data-id="${item.id}"] .title`);
        expect(await row.textContent()).toBe(item.title);
        // The row's pixels are the text's: the same text drawn alone in the page's own style
        // looks the same, and another text does not.
        const shot = await row.screenshot();
        const drawn = await drawText(carol, item.id, item.title);
        const other = await drawText(carol, item.id, `${item.title}!`);
        expect(shot.equals(drawn)).toBe(true);
        expect(shot.equals(other)).toBe(false);
      }
      expect([...carol.errors, ...dave.errors]).toEqual([]);
    },
    TEST_MS,
  );
});

/**
 * Screenshot of `text` drawn alone in the page's font, in a box of the size of the row of `id`, at
 * the same x and the same fraction of a pixel in y, below the page: same text, same pixels.
 */
async function drawText(demo: DemoPage, id: string, text: string): Promise<Buffer> {
  await demo.page.evaluate(
    ([id, t]) => {
      const row = document.querySelector(`#items li[data-id="${id}"] .title`)!.getBoundingClientRect();
      const span = document.createElement('span');
      span.id = 'scratch';
      span.textContent = t;
      // Below everything else on the page (nothing else may paint into the box), same fraction of a pixel.
      const rowTop = row.top + window.scrollY;
      const top = Math.ceil(document.documentElement.scrollHeight) + 50 + (rowTop - Math.floor(rowTop));
      span.style.cssText = `position:absolute;display:block;z-index:1;background:#fff;left:${row.left + window.scrollX}px;top:${top}px;width:${row.width}px;height:${row.height}px`;
      document.body.append(span);
    },
    [id, text] as const,
  );
  const shot = await demo.page.locator('#scratch').screenshot();
  await demo.page.evaluate(() => document.getElementById('scratch')?.remove());
  return shot;
}
