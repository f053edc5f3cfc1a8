/**
 * The README's code: every TypeScript block that imports `shoal` type-checks against the sources
 * (its `shoal/…` imports mapped through the package's `exports` map, the project's strict flags),
 * and the simulator example, as written there, converges.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';
import { createPeer, memoryStorage } from '../../engine/index.js';
import { SimNetwork } from '../../transports/memory/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The README's ```ts blocks that import from `shoal`. */
function snippets(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((code) => /from 'shoal/.test(code));
}

it('every README snippet that imports shoal type-checks', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { import: string }>;
  };
  const dir = join(ROOT, '.tmp/readme');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // `shoal/storage/sqlite` → the source file behind the entry, relative to .tmp/readme/.
  const source = (specifier: string): string => {
    const entry = pkg.exports[specifier.replace(/^shoal/, '.')];
    if (entry === undefined || typeof entry === 'string') throw new Error(`README imports ${specifier}: no such entry`);
    return `../../${entry.import.replace(/^\.\/dist\//, '')}`;
  };
  const files = snippets().map((code, i) => {
    const file = join(dir, `snippet-${i}.ts`);
    writeFileSync(
      file,
      code.replace(/from '(shoal(?:\/[\w/-]+)?)'/g, (_m, spec: string) => `from '${source(spec)}'`),
    );
    return file;
  });
  expect(files.length).toBeGreaterThanOrEqual(3);

  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  // Snippets show a call and leave its result unused; everything else is as strict as the project.
  const program = ts.createProgram(files, {
    ...config.options,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
  });
  const problems = files.flatMap((file) =>
    ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      const at = where === undefined ? '' : `:${where.line + 1}`;
      return `${d.file?.fileName.replace(`${dir}/`, '') ?? ''}${at}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    }),
  );
  expect(problems).toEqual([]);
});

it('the README simulator example converges', async () => {
  const net = new SimNetwork({ seed: 7, drop: 0.1, reorder: 0.1 });
  const peer = async () => (await createPeer({ storage: memoryStorage(), ...net.node() }))._unsafeUnwrap();
  const [a, b] = [await peer(), await peer()];
  const spaceA = (await a.space('list'))._unsafeUnwrap();
  const listA = spaceA.collection('items');
  const listB = (await b.space('list'))._unsafeUnwrap().collection('items');

  net.partition([[a.id], [b.id]]);
  (await listA.create({ title: 'milk' }, 'm'))._unsafeUnwrap();
  (await listB.create({ title: 'eggs' }, 'e'))._unsafeUnwrap();
  expect(listA.all()).toHaveLength(1);
  net.heal();
  (await net.until(spaceA.whenSynced({ peers: [b.id] })))._unsafeUnwrap();
  expect(listA.all()).toEqual(listB.all());
  expect(listA.all()).toHaveLength(2);
});
