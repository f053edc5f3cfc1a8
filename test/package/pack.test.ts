/**
 * The package as an app gets it: `npm pack` (which builds dist/ through `prepare`), then two fresh
 * apps install the tarball offline and use it without a build of their own beyond `tsc`:
 *
 * - `shoal` alone: none of the optional peers gets installed; the core, the simulator and the
 *   storage entries that need nothing more load and sync; SQLite without better-sqlite3 is a typed
 *   error (fixtures/minimal.ts);
 * - a Node app with every optional peer: every entry of the `exports` map is imported, two
 *   in-memory peers and a SQLite peer sync, the SQLite file reopens (fixtures/full.ts).
 *
 * Each app's code type-checks under strict flags (`strict`, `exactOptionalPropertyTypes`,
 * `noUncheckedIndexedAccess`, `moduleResolution: NodeNext`, no `skipLibCheck`) against the
 * declarations in the tarball, then runs on Node.
 *
 * Offline: the apps install with `npm ci --offline` from a lock file cut out of this repository's
 * own (consumer-lock.ts says why not `npm install --offline`), with `--ignore-scripts`: the only
 * install script that matters, better-sqlite3's, would compile SQLite again (no prebuilt binary
 * can be downloaded offline), so the app gets the binary this repository's install built for this
 * very Node.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerLock, type Lock, type PackedManifest } from './consumer-lock.js';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = join(ROOT, 'test/package/fixtures');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Packing builds the package (tsc) first; installing and type-checking take a while on 2 cores. */
const PACK_TIMEOUT_MS = 120_000;
const APP_TIMEOUT_MS = 120_000;

/** The optional peers a Node app with every feature installs. */
const ALL_PEERS = [
  '@automerge/automerge-repo',
  '@chainsafe/libp2p-noise',
  '@chainsafe/libp2p-yamux',
  '@libp2p/identify',
  '@libp2p/mdns',
  '@libp2p/pnet',
  '@libp2p/tcp',
  '@libp2p/utils',
  '@libp2p/websockets',
  '@multiformats/multiaddr',
  'better-sqlite3',
  'fast-check',
  'libp2p',
  'vitest',
  'ws',
  // The app's own: its code uses node:fs, node:os, node:path.
  '@types/node',
];

/** The app's tsconfig: what a careful app would use (`types`: its own, e.g. ['node']). */
const appTsconfig = (types: readonly string[]) => ({
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2023', 'DOM'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    types,
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    outDir: 'build',
    rootDir: 'src',
  },
  include: ['src'],
});

/** npm's environment for the apps: ours minus what `npm test` set about this package. */
const npmEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !/^npm_(package_|lifecycle_|command$|config_local_prefix$|config_call$)/i.test(k),
  ),
);

let work: string;
let tarball: string;
let integrity: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'shoal-pack-'));
  await run('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: ROOT, env: npmEnv });
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackedManifest;
  tarball = `${manifest.name}-${manifest.version}.tgz`;
  integrity = `sha512-${createHash('sha512')
    .update(readFileSync(join(work, tarball)))
    .digest('base64')}`;
}, PACK_TIMEOUT_MS);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

interface App {
  readonly dir: string;
  /** Packages installed (the lock file's view). */
  readonly packages: readonly string[];
  /** Bytes of every file under node_modules. */
  readonly bytes: number;
  /** The JSON the app printed last. */
  readonly output: unknown;
}

function sizeOf(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
}

interface AppInit {
  /** Packages the app installs next to the tarball (at this repository's versions). */
  readonly peers: readonly string[];
  /** The app's code, in fixtures/. */
  readonly fixture: string;
  /** The app's `overrides`. */
  readonly overrides?: Readonly<Record<string, string>>;
}

/** A fresh app: install the tarball and its peers offline, type-check its code and run it. */
async function app(name: string, init: AppInit): Promise<App> {
  const { peers, fixture } = init;
  const types = peers.includes('@types/node') ? ['node'] : [];
  const dir = join(work, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  copyFileSync(join(work, tarball), join(dir, tarball));
  const repoLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const packed = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackedManifest;
  const consumer = consumerLock({
    repoLock,
    packed,
    tarball,
    integrity,
    peers,
    ...(init.overrides === undefined ? {} : { overrides: init.overrides }),
  });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(consumer.packageJson, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(consumer.lock, null, 2));
  await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    env: npmEnv,
  });
  if (peers.includes('better-sqlite3')) {
    const binary = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
    mkdirSync(dirname(join(dir, binary)), { recursive: true });
    copyFileSync(join(ROOT, binary), join(dir, binary));
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(appTsconfig(types), null, 2));
  copyFileSync(join(FIXTURES, fixture), join(dir, 'src/main.ts'));
  // tsc exits with 2 on errors; either way its report is on stdout.
  const typecheck: { stdout?: string } = await run(process.execPath, [TSC, '-p', dir]).catch(
    (e: { stdout?: string }) => e,
  );
  const errors = (typecheck.stdout ?? '').split('\n').filter((line) => line.trim() !== '');
  // Without @types/node, the one error is upstream's (README, Troubleshooting): @libp2p/interface,
  // whose PrivateKey is the peer's identity type, re-exports main-event, whose declarations import
  // node:events. tsc still emits; every other error fails the test.
  const upstream = /node_modules\/main-event\/.*error TS2307: Cannot find module 'node:events'/;
  expect(errors.filter((line) => types.length > 0 || !upstream.test(line))).toEqual([]);
  const { stdout } = await run(process.execPath, [join(dir, 'build/main.js')], { cwd: dir });
  return {
    dir,
    packages: consumer.packages,
    bytes: sizeOf(join(dir, 'node_modules')),
    output: JSON.parse(stdout.trim().split('\n').pop()!) as unknown,
  };
}

/** The optional peers and what only they pull in. */
const OPTIONAL =
  /^(libp2p|better-sqlite3|ws|vitest|vite|fast-check|@types\/node)$|^@automerge\/|^@chainsafe\/libp2p-|^@libp2p\/(tcp|websockets|mdns|pnet|identify|utils)$/;

const names = (packages: readonly string[]) => packages.map((p) => p.slice(p.lastIndexOf('node_modules/') + 13));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

describe('the packed package in a fresh app', () => {
  it(
    'shoal alone: no optional peer installed, the core syncs, SQLite says what is missing',
    async () => {
      const minimal = await app('minimal', { peers: [], fixture: 'minimal.ts' });
      console.info(`shoal alone: ${minimal.packages.length} packages, ${mb(minimal.bytes)} in node_modules`);
      const installed = names(minimal.packages);
      expect(installed.filter((p) => OPTIONAL.test(p))).toEqual([]);
      expect(installed).toContain('shoal');
      console.info(`shoal alone installs: ${installed.sort().join(' ')}`);
      expect(minimal.output).toEqual({
        synced: true,
        seen: 'hello',
        sqlite: expect.stringMatching(/^storage: .*better-sqlite3/) as unknown,
        entries: { idb: 'function', fs: 'function' },
      });
    },
    APP_TIMEOUT_MS,
  );

  it(
    'a Node app with every optional peer: every entry imports, memory and SQLite peers sync',
    async () => {
      // The overrides the README asks of an app that installs libp2p and automerge-repo.
      const { overrides } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        overrides: Record<string, string>;
      };
      const full = await app('full', { peers: ALL_PEERS, fixture: 'full.ts', overrides });
      console.info(`with every optional peer: ${full.packages.length} packages, ${mb(full.bytes)} in node_modules`);
      expect(full.output).toEqual({
        synced: true,
        states: 1,
        titles: ['item 0', 'item 1', 'item 2'],
        pending: [0, 0, 0],
        reopened: 3,
        entries: {
          limits: 1024 * 1024,
          sqliteBusyTimeout: expect.any(Number) as unknown,
          idb: 'function',
          automerge: 'shoal-blobs',
          automergeTransport: 'shoal',
          libp2p: '/shoal/sync/1.1.0',
          swarmKey: 95,
          testing: 'function',
        },
      });
    },
    APP_TIMEOUT_MS,
  );
});
