/**
 * A lock file for a fresh app that depends on the packed `shoal` tarball and some of its optional
 * peers, cut out of this repository's own package-lock.json: the same versions our tests run, at
 * the same places in node_modules. With it, `npm ci --offline` installs the app from the npm cache
 * that installing this repository filled (tarballs and the abbreviated packuments `npm ci` reads).
 *
 * Why not `npm install --offline <tarball> <peers…>`: npm 11 resolves new dependencies from *full*
 * packuments (arborist's buildIdealTree asks with `fullMetadata: true`), while installing from a
 * lock file caches only abbreviated ones, so on a machine set up by `npm ci` (CI) every
 * packument is a cache miss: `ENOTCACHED … cache mode is 'only-if-cached' but no cached response
 * is available`.
 */

/** One package in a lock file (lockfileVersion 3), as far as this needs. */
interface LockEntry {
  readonly version?: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>;
  readonly [field: string]: unknown;
}

export interface Lock {
  readonly name?: string;
  readonly lockfileVersion: number;
  readonly requires?: boolean;
  readonly packages: Readonly<Record<string, LockEntry>>;
}

/** The manifest fields of the packed package the lock file needs. */
export interface PackedManifest {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>;
  readonly engines?: Readonly<Record<string, string>>;
  readonly license?: string;
}

export interface ConsumerInit {
  /** This repository's lock file. */
  readonly repoLock: Lock;
  /** The packed package, its tarball's file name (next to the app's package.json) and integrity. */
  readonly packed: PackedManifest;
  readonly tarball: string;
  readonly integrity: string;
  /** Optional peers the app installs too, at the versions this repository's lock file has. */
  readonly peers: readonly string[];
  /**
   * The app's `overrides`: the ones this repository's lock file was resolved with, for an app that
   * installs the packages they touch (the README says why an app wants them).
   */
  readonly overrides?: Readonly<Record<string, string>>;
}

export interface Consumer {
  readonly packageJson: {
    name: string;
    private: true;
    type: 'module';
    dependencies: Record<string, string>;
    overrides?: Readonly<Record<string, string>>;
  };
  readonly lock: Lock;
  /** Packages in the app's node_modules (shoal included). */
  readonly packages: readonly string[];
}

/** Flags npm computes for the repository's tree (dev, peer…); the app's are computed below. */
const TREE_FLAGS = ['dev', 'devOptional', 'optional', 'peer'];

/** The lock-file path `name` resolves to from the package at `from`, as Node would find it. */
function resolveFrom(packages: Readonly<Record<string, LockEntry>>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    if (base === '') return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

export function consumerLock(init: ConsumerInit): Consumer {
  const repo = init.repoLock.packages;
  const self = `node_modules/${init.packed.name}`;
  const dependencies: Record<string, string> = { [init.packed.name]: `file:${init.tarball}` };
  for (const peer of init.peers) {
    const version = repo[`node_modules/${peer}`]?.version;
    if (version === undefined) throw new Error(`${peer} is not in this repository's lock file`);
    dependencies[peer] = version;
  }
  const packed: LockEntry = {
    version: init.packed.version,
    resolved: `file:${init.tarball}`,
    integrity: init.integrity,
    license: init.packed.license,
    ...(init.packed.dependencies === undefined ? {} : { dependencies: init.packed.dependencies }),
    ...(init.packed.peerDependencies === undefined ? {} : { peerDependencies: init.packed.peerDependencies }),
    ...(init.packed.peerDependenciesMeta === undefined
      ? {}
      : { peerDependenciesMeta: init.packed.peerDependenciesMeta }),
    ...(init.packed.engines === undefined ? {} : { engines: init.packed.engines }),
  };
  const root: LockEntry = { name: 'app', dependencies };
  // The app's tree: the repository's entries, plus the root and the packed package.
  const tree: Record<string, LockEntry> = { ...repo, '': root, [self]: packed };

  /** Edges of one package: [dependency, optional]; optional peers are not installed for it. */
  const edges = (entry: LockEntry): [string, boolean][] => [
    ...Object.keys(entry.dependencies ?? {}).map((d): [string, boolean] => [d, false]),
    ...Object.keys(entry.optionalDependencies ?? {}).map((d): [string, boolean] => [d, true]),
    ...Object.keys(entry.peerDependencies ?? {})
      .filter((d) => entry.peerDependenciesMeta?.[d]?.optional !== true)
      .map((d): [string, boolean] => [d, false]),
  ];

  /** Every package reachable from the root; with `required`, only through non-optional edges. */
  const reach = (required: boolean): Set<string> => {
    const seen = new Set<string>(['']);
    const queue = [''];
    for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
      for (const [name, optional] of edges(tree[path]!)) {
        if (required && optional) continue;
        const target = resolveFrom(tree, path, name);
        if (target === undefined) {
          // An optional dependency npm could not install for the repository (another platform's
          // binary, a version that was never published) is skipped for the app too.
          if (optional) continue;
          throw new Error(`${path || 'the app'} needs ${name}, which this repository's lock file lacks`);
        }
        if (!seen.has(target)) {
          seen.add(target);
          queue.push(target);
        }
      }
    }
    return seen;
  };
  const all = reach(false);
  const required = reach(true);

  const packages: Record<string, LockEntry> = {};
  for (const path of [...all].sort()) {
    const entry = Object.fromEntries(Object.entries(tree[path]!).filter(([k]) => !TREE_FLAGS.includes(k)));
    packages[path] = required.has(path) ? entry : { ...entry, optional: true };
  }
  return {
    packageJson: {
      name: 'app',
      private: true,
      type: 'module',
      dependencies,
      ...(init.overrides === undefined ? {} : { overrides: init.overrides }),
    },
    lock: { name: 'app', lockfileVersion: 3, requires: true, packages },
    packages: [...all].filter((p) => p !== ''),
  };
}
