/**
 * What each entry of the package can reach. An app bundles only the entries it imports, and
 * installs only the optional peers of those: the core (`shoal`) must reach no native module, no
 * node built-in, no libp2p node, no automerge-repo; the IndexedDB backend nothing but `idb`; the
 * Node-only backends load better-sqlite3 and node:fs lazily at first use, so even they are safe to
 * bundle. This walks the static imports each entry's modules compile to (type-only imports are
 * gone by then), from the `exports` map of package.json back to the sources.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Imports {
  /** Specifiers imported at module top (`import … from`, `export … from`, `import '…'`). */
  readonly static: string[];
  /** Specifiers of `import('…')` with a literal argument: loaded lazily, when first used. */
  readonly lazy: string[];
}

/** What `source` imports once compiled (type-only imports are gone), read from the syntax tree. */
function importsOf(source: string): Imports {
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  }).outputText;
  const file = ts.createSourceFile('module.js', js, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  const statics: string[] = [];
  const lazy: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) {
      if (ts.isStringLiteral(node.moduleSpecifier)) statics.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg !== undefined && ts.isStringLiteral(arg)) lazy.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return { static: statics, lazy };
}

interface Graph {
  /** Source files reached, relative to the repository root. */
  readonly files: string[];
  /** Bare specifiers (packages, node built-ins) imported at module top by any file reached. */
  readonly external: string[];
  /** Bare specifiers imported lazily by any file reached. */
  readonly lazy: string[];
}

/** Imports per source file (entries share most of their modules). */
const parsed = new Map<string, Imports>();

/** Follow the static relative imports from `entry` (a .ts file under ROOT). */
function graphOf(entry: string): Graph {
  const files = new Set<string>();
  const external = new Set<string>();
  const lazy = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    let imports = parsed.get(file);
    if (imports === undefined) parsed.set(file, (imports = importsOf(readFileSync(file, 'utf8'))));
    for (const spec of imports.static) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else external.add(spec);
    }
    for (const spec of imports.lazy) if (!spec.startsWith('.')) lazy.add(spec);
  };
  visit(entry);
  return {
    files: [...files].map((f) => relative(ROOT, f)).sort(),
    external: [...external].sort(),
    lazy: [...lazy].sort(),
  };
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; import: string }>;
};

/** The source file behind an entry of the `exports` map (`./dist/engine/index.js` → engine/index.ts). */
function sourceOf(subpath: string): string {
  const target = pkg.exports[subpath];
  if (target === undefined || typeof target === 'string') throw new Error(`no code entry ${subpath}`);
  return join(ROOT, target.import.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
}

/** The package a bare specifier names (`@libp2p/crypto/keys` → `@libp2p/crypto`). */
const packageOf = (spec: string): string =>
  spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);

/**
 * What the core may import: base58 for PeerIds (multiformats), hashing, Result. Not libp2p's key
 * stack (@libp2p/crypto, @libp2p/peer-id): it carries every key type libp2p knows into a browser
 * bundle, and the core's identities are Ed25519 only (engine/facts/ed25519.ts).
 */
const CORE = ['multiformats', '@noble/hashes', 'neverthrow'];
/** What libp2p's key stack adds, for the entries that work with libp2p keys and PeerIds. */
const LIBP2P_KEYS = ['@libp2p/crypto', '@libp2p/peer-id'];
/** The core's only lazy import: pure-JS Ed25519, for a browser whose WebCrypto lacks Ed25519. */
const CORE_LAZY = ['@noble/curves'];

/** Per entry, the packages its modules may import at module top (beyond what their own code is). */
const ALLOWED: Record<string, readonly string[]> = {
  '.': CORE,
  './storage/sqlite': CORE,
  './storage/idb': [...CORE, 'idb'],
  './storage/fs': CORE,
  './storage/automerge': CORE,
  './transports/memory': [...CORE, 'pure-rand'],
  './transports/automerge': [...CORE, ...LIBP2P_KEYS],
  './transports/libp2p': [
    ...CORE,
    ...LIBP2P_KEYS,
    '@chainsafe/libp2p-noise',
    '@chainsafe/libp2p-yamux',
    '@libp2p/identify',
    '@libp2p/mdns',
    '@libp2p/pnet',
    '@libp2p/tcp',
    '@libp2p/utils',
    '@libp2p/websockets',
    '@multiformats/multiaddr',
    'libp2p',
  ],
  './testing': [...CORE, ...LIBP2P_KEYS, 'fast-check', 'pure-rand', 'vitest'],
};

describe('what each package entry reaches', () => {
  it('every code entry of package.json is checked here', () => {
    const entries = Object.keys(pkg.exports).filter((k) => k !== './package.json');
    expect(entries.sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  for (const [subpath, allowed] of Object.entries(ALLOWED)) {
    it(`${subpath} imports only ${allowed.length === CORE.length ? 'the core packages' : 'its own stack'}`, () => {
      const graph = graphOf(sourceOf(subpath));
      const packages = [...new Set(graph.external.map(packageOf))];
      expect(packages.filter((p) => !allowed.includes(p))).toEqual([]);
      // Node built-ins never at module top, even in the Node-only backends (they load them lazily).
      expect(graph.external.filter((s) => s.startsWith('node:'))).toEqual([]);
    });
  }

  it('the core reaches no backend, transport or testing module', () => {
    const graph = graphOf(sourceOf('.'));
    expect(graph.files.filter((f) => /^engine\/storage\/(sqlite|idb|fs-blobs|automerge-blobs|faulty)/.test(f))).toEqual(
      [],
    );
    expect(graph.files.filter((f) => !f.startsWith('engine/'))).toEqual([]);
    expect([...new Set(graph.lazy.map(packageOf))]).toEqual(CORE_LAZY);
  });

  it('only the libp2p transport loads anything lazily beyond the core Ed25519 fallback (TCP and mDNS only when used, so browsers never run them; ws for WebSocket dials on Node 20; gossipsub only when its announcements are on)', () => {
    for (const subpath of Object.keys(ALLOWED)) {
      const own = subpath === './transports/libp2p' ? ['@libp2p/gossipsub', '@libp2p/mdns', '@libp2p/tcp', 'ws'] : [];
      const lazy = [...new Set(graphOf(sourceOf(subpath)).lazy.map(packageOf))];
      expect(lazy.filter((p) => !CORE_LAZY.includes(p)).sort()).toEqual(own);
    }
  });

  it('the check keeps value imports and drops type-only ones', () => {
    const source = [
      "import { readFile } from 'node:fs/promises';",
      "import type Database from 'better-sqlite3';",
      "import 'fake-indexeddb/auto';",
      "const later = () => import('ws');",
      "const code = `import('not-an-import')`;",
      'export const r: typeof readFile | Database | typeof later | string | undefined = code;',
    ].join('\n');
    expect(importsOf(source)).toEqual({ static: ['node:fs/promises', 'fake-indexeddb/auto'], lazy: ['ws'] });
  });
});
