/** What the numbers were measured on, printed above the tables and stored with the JSON rows. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/** The machine, runtime, compared libraries and code version of a run. */
export interface MachineInfo {
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  /** Installed versions of the systems compared against. */
  readonly libraries: Record<string, string>;
  /** `git rev-parse HEAD`, and whether the tree had uncommitted changes. */
  readonly commit?: string;
  readonly dirty?: boolean;
}

const LIBRARIES = ['yjs', '@automerge/automerge', '@automerge/automerge-repo'];

function installedVersion(root: string, name: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined; // not installed: nothing to report
  }
}

function git(root: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined; // not a git checkout (e.g. an unpacked tarball)
  }
}

/** Facts about this machine and checkout at `root` (the project root). */
export function machineInfo(root: string): MachineInfo {
  const cpus = os.cpus();
  const libraries: Record<string, string> = {};
  for (const name of LIBRARIES) {
    const version = installedVersion(root, name);
    if (version !== undefined) libraries[name] = version;
  }
  const commit = git(root, ['rev-parse', 'HEAD']);
  const status = git(root, ['status', '--porcelain']);
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    libraries,
    ...(commit === undefined ? {} : { commit }),
    ...(status === undefined ? {} : { dirty: status !== '' }),
  };
}

/** The machine as two lines for the top of the report. */
export function describeMachine(m: MachineInfo): string {
  const libs = Object.entries(m.libraries)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const code =
    m.commit === undefined ? '' : `, commit ${m.commit.slice(0, 10)}${m.dirty ? ' (uncommitted changes)' : ''}`;
  return `node ${m.node} (V8 ${m.v8}) on ${m.platform}; CPU ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB\n${libs}${code}`;
}
