/**
 * How much Shoal adds to a browser app: the entries an app imports, bundled by Vite (minified,
 * ES2022) the way the app's own build would, then gzipped. `npm run browser:sizes` prints them.
 *
 * - `engine + idb`: `createPeer` from `shoal` and `idbStorage` from `shoal/storage/idb`, no network.
 * - `libp2p browser transport`: `shoal/transports/libp2p` with `@libp2p/webrtc` and
 *   `@libp2p/circuit-relay-v2`, as the demo page uses it (engine excluded: it is counted above).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Rolldown } from 'vite';
import { ROOT, shoalExports } from './build.js';

/** One bundle's size, and what is in it. */
export interface BundleSize {
  readonly name: string;
  /** Minified bytes (all chunks loaded at start; lazy chunks are not counted). */
  readonly minified: number;
  /** The same, gzipped (level 9). */
  readonly gzipped: number;
  /** Minified bytes per package (or per source folder of Shoal), biggest first. */
  readonly parts: readonly { readonly name: string; readonly bytes: number }[];
  /** Node built-ins the bundle asked for (Vite swaps them for an empty module): must be none. */
  readonly nodeBuiltins: readonly string[];
}

/** What a bundle is made of, as `import`/`export` lines. */
export const BUNDLES: Readonly<Record<string, string>> = {
  'engine + idb': ["export { createPeer } from 'shoal';", "export { idbStorage } from 'shoal/storage/idb';"].join('\n'),
  'libp2p browser transport': [
    "export { libp2pTransport } from 'shoal/transports/libp2p';",
    "export { webRTC } from '@libp2p/webrtc';",
    "export { circuitRelayTransport } from '@libp2p/circuit-relay-v2';",
  ].join('\n'),
};

/** Where a module comes from: its npm package, or its folder in this repository. */
function partOf(id: string): string {
  const inModules = id.split('node_modules/');
  if (inModules.length > 1) {
    const rest = inModules.at(-1)!.split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const local = id.startsWith(ROOT) ? id.slice(ROOT.length + 1) : id;
  return `shoal: ${local.split('/').slice(0, 2).join('/')}`;
}

/** Bundle each of `bundles` and measure it. */
export async function measureBundles(bundles: Readonly<Record<string, string>> = BUNDLES): Promise<BundleSize[]> {
  // Inside the repository, so the entries resolve packages from its node_modules.
  await mkdir(join(ROOT, '.tmp'), { recursive: true });
  const dir = await mkdtemp(join(ROOT, '.tmp', 'sizes-'));
  try {
    const out: BundleSize[] = [];
    let n = 0;
    for (const [name, source] of Object.entries(bundles)) {
      const entry = join(dir, `entry-${n++}.js`);
      await writeFile(entry, source);
      // The engine is a separate bundle: keep it out of the transport's count.
      const external = name === 'engine + idb' ? [] : [/^shoal$/, /\/engine\/(?!storage\/idb)/];
      const result = await build({
        configFile: false,
        logLevel: 'error',
        root: ROOT,
        plugins: [shoalExports()],
        build: {
          write: false,
          minify: true,
          target: 'es2022',
          lib: { entry, formats: ['es'], fileName: 'bundle' },
          rolldownOptions: { external },
        },
      });
      const outputs = (Array.isArray(result) ? result : [result]) as Rolldown.RolldownOutput[];
      const chunks = outputs.flatMap((o) => o.output).filter((c): c is Rolldown.OutputChunk => c.type === 'chunk');
      // What loads at start: the entry and what it imports statically, not `import()`ed chunks.
      const loaded = new Set<string>();
      const visit = (fileName: string): void => {
        if (loaded.has(fileName)) return;
        loaded.add(fileName);
        for (const i of chunks.find((c) => c.fileName === fileName)?.imports ?? []) visit(i);
      };
      for (const c of chunks) if (c.isEntry) visit(c.fileName);
      const started = chunks.filter((c) => loaded.has(c.fileName));
      const code = started.map((c) => c.code).join('\n');
      const parts = new Map<string, number>();
      const nodeBuiltins = new Set<string>();
      for (const chunk of started) {
        for (const [id, info] of Object.entries(chunk.modules)) {
          if (id.includes('__vite-browser-external')) nodeBuiltins.add(id.split(':').pop() ?? id);
          parts.set(partOf(id), (parts.get(partOf(id)) ?? 0) + info.renderedLength);
        }
      }
      out.push({
        name,
        minified: Buffer.byteLength(code),
        gzipped: gzipSync(code, { level: 9 }).length,
        parts: [...parts].map(([part, bytes]) => ({ name: part, bytes })).sort((a, b) => b.bytes - a.bytes),
        nodeBuiltins: [...nodeBuiltins],
      });
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line per bundle, then its five biggest parts. */
export function formatSizes(sizes: readonly BundleSize[]): string {
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
  return sizes
    .map((s) => {
      const total = s.parts.reduce((sum, p) => sum + p.bytes, 0);
      const top = s.parts
        .slice(0, 5)
        .map((p) => `${p.name} ${((100 * p.bytes) / total).toFixed(0)}%`)
        .join(', ');
      return `${s.name}: ${kb(s.minified)} minified, ${kb(s.gzipped)} gzipped (${top})`;
    })
    .join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatSizes(await measureBundles()));
}
