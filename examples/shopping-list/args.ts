/**
 * Command line of the shopping-list CLI.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { LIST_SPACE } from './list.js';

export const USAGE = `Usage: npm run shop -- --name <name> [options]

A shared shopping list over the local network. Peers on the same LAN find each other (mDNS);
elsewhere, give one peer's address to the other with --peer. Peers you linked with are remembered
(in --db) and dialled again next time.

Options:
  --name <name>        how others see you (default: your user name)
  --db <file>          where your list and identity live (default: ./<name>.db)
  --peer <multiaddr>   dial this peer (repeatable), e.g. /ip4/192.168.1.7/tcp/4001/p2p/12D3KooW…
  --listen <multiaddr> listen here (repeatable; default /ip4/0.0.0.0/tcp/0, a free port)
  --psk <file>         private network: only peers with this swarm key can connect
  --gen-psk <file>     write a new swarm key to <file> and exit (an existing file is kept)
  --force              with --gen-psk: replace an existing file
  --no-mdns            do not look for peers on the LAN
  --list <id>          which list (space) to open (default: ${LIST_SPACE})
  --help               this text`;

export interface CliOptions {
  readonly name: string;
  readonly db: string;
  readonly peers: readonly string[];
  readonly listen: readonly string[];
  readonly psk: string | undefined;
  readonly mdns: boolean;
  readonly list: string;
}

export type Parsed =
  | { readonly kind: 'run'; readonly options: CliOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'gen-psk'; readonly file: string; readonly force: boolean }
  | { readonly kind: 'error'; readonly message: string };

/** Parse `argv` (without node and the script). Never throws. */
export function parseCli(argv: readonly string[]): Parsed {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        name: { type: 'string' },
        db: { type: 'string' },
        peer: { type: 'string', multiple: true },
        listen: { type: 'string', multiple: true },
        psk: { type: 'string' },
        'gen-psk': { type: 'string' },
        force: { type: 'boolean' },
        'no-mdns': { type: 'boolean' },
        list: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (e) {
    return { kind: 'error', message: e instanceof Error ? e.message : String(e) };
  }
  if (values.help === true) return { kind: 'help' };
  if (values['gen-psk'] !== undefined)
    return { kind: 'gen-psk', file: values['gen-psk'], force: values.force === true };
  if (values.force === true) return { kind: 'error', message: '--force only goes with --gen-psk' };
  const name = values.name ?? defaultName();
  if (!/^[\p{L}\p{N}_.-]{1,40}$/u.test(name)) {
    return { kind: 'error', message: '--name: 1 to 40 letters, digits, "_", "." or "-"' };
  }
  return {
    kind: 'run',
    options: {
      name,
      db: values.db ?? `./${name}.db`,
      peers: values.peer ?? [],
      listen: values.listen ?? ['/ip4/0.0.0.0/tcp/0'],
      psk: values.psk,
      mdns: values['no-mdns'] !== true,
      list: values.list ?? LIST_SPACE,
    },
  };
}

function defaultName(): string {
  try {
    return userInfo().username || 'me';
  } catch {
    return 'me';
  }
}
