/**
 * Building browser bundles of Shoal with Vite, the way an app that installed `shoal` would: every
 * `shoal` and `shoal/…` import goes through package.json's `exports` map (an entry that is not there
 * fails, as it would for a user). The map points at `dist/`; this build takes the TypeScript source
 * each `dist/` file is compiled from instead, so the page always runs the code in the work tree and
 * needs no `npm run build` first.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type InlineConfig, type Plugin } from 'vite';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** This folder: the page's sources. */
export const PAGE_DIR = join(ROOT, 'examples/browser');

interface PackageJson {
  readonly name: string;
  readonly exports: Record<string, string | { readonly types?: string; readonly import?: string }>;
}

/** The Vite plugin that resolves `shoal` imports through the `exports` map, onto the sources. */
export function shoalExports(): Plugin {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  return {
    name: 'shoal-exports',
    enforce: 'pre',
    resolveId(source) {
      if (source !== pkg.name && !source.startsWith(`${pkg.name}/`)) return null;
      const entry = pkg.exports[`.${source.slice(pkg.name.length)}`];
      const target = typeof entry === 'string' ? entry : entry?.import;
      if (target === undefined) throw new Error(`${source} is not exported by ${pkg.name} (package.json "exports")`);
      return join(ROOT, target.replace(/^\.\/dist\//, './').replace(/\.js$/, '.ts'));
    },
  };
}

/** Options of {@link buildPage}. */
export interface BuildInit {
  /** Where the built files go (emptied first). */
  readonly outDir: string;
  /** The folder holding `index.html`. @default this folder (the demo page) */
  readonly root?: string;
  /** Extra Vite options (merged on top). */
  readonly vite?: InlineConfig;
}

/** Build a page (the demo by default) into `outDir`, minified, with source maps. */
export async function buildPage(init: BuildInit): Promise<void> {
  await build({
    configFile: false,
    root: init.root ?? PAGE_DIR,
    // 'warn' would list the Node built-ins of @libp2p/mdns, which the transport loads only when asked
    // for mDNS (never in a browser): its chunk is built, never fetched.
    logLevel: 'error',
    plugins: [shoalExports()],
    build: {
      outDir: init.outDir,
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: true,
      reportCompressedSize: false,
      chunkSizeWarningLimit: 2048,
    },
    ...init.vite,
  });
}
