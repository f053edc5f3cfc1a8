/**
 * `engine/index.ts` exports every storage backend, so a browser bundle of the package root pulls in
 * whatever these modules import statically. Node-only dependencies (better-sqlite3, node:fs…) must
 * be reached lazily at first use; this checks the JavaScript each module compiles to.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const NODE_ONLY = /^(node:|better-sqlite3$|fs$|path$|crypto$|@automerge\/automerge-repo-storage-nodefs)/;

/** Module specifiers `source` imports statically once compiled (type-only imports are gone). */
function importsOf(source: string): string[] {
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  }).outputText;
  return [...js.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)].map(
    (m) => m[1] ?? m[2]!,
  );
}

const staticImports = (file: string) =>
  importsOf(readFileSync(new URL(`../../engine/storage/${file}`, import.meta.url), 'utf8'));

describe('storage backends are safe to bundle for browsers', () => {
  for (const file of [
    'sqlite/index.ts',
    'sqlite/database.ts',
    'sqlite/event-log.ts',
    'sqlite/blob-store.ts',
    'sqlite/errors.ts',
    'fs-blobs.ts',
    'automerge-blobs.ts',
    'idb/index.ts',
    'idb/database.ts',
    'idb/event-log.ts',
    'idb/blob-store.ts',
    'idb/errors.ts',
    'faulty.ts',
    'storable.ts',
  ]) {
    it(`${file} imports nothing Node-only at module top`, () => {
      const imports = staticImports(file);
      expect(imports.length).toBeGreaterThan(0);
      expect(imports.filter((i) => NODE_ONLY.test(i))).toEqual([]);
    });
  }

  it('the check keeps value imports and drops type-only ones', () => {
    const source = [
      "import { readFile } from 'node:fs/promises';",
      "import type Database from 'better-sqlite3';",
      "import 'fake-indexeddb/auto';",
      'export const r: typeof readFile | Database | undefined = readFile;',
    ].join('\n');
    expect(importsOf(source)).toEqual(['node:fs/promises', 'fake-indexeddb/auto']);
  });
});
