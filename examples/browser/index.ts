/**
 * `npm run browser`: start the relay (a Shoal peer on SQLite that also relays WebRTC handshakes),
 * build the page and serve it on 127.0.0.1. Open the URL in two tabs (they sync over a
 * BroadcastChannel) and in another browser or a private window (it syncs through the relay, then
 * directly over WebRTC once you paste the first page's PeerId into "Connect").
 *
 * Options: `--port 5173` (the page), `--relay-port 0` (the relay's WebSocket port), `--db <file>`
 * (the relay's SQLite file; default: a temporary folder).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildPage, ROOT } from './build.js';
import { startRelay } from './relay.js';
import { servePage } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5173' },
    'relay-port': { type: 'string', default: '0' },
    db: { type: 'string' },
  },
});

const temp = await mkdtemp(join(tmpdir(), 'shoal-browser-'));
const relay = await startRelay({
  dbPath: values.db ?? join(temp, 'relay.db'),
  port: Number(values['relay-port']),
});
const outDir = join(ROOT, '.tmp/browser-demo');
await buildPage({ outDir });
const server = await servePage(outDir, relay.address, Number(values.port));

console.log(`relay  ${relay.address}`);
console.log(`page   ${server.url}   (Ctrl-C to stop)`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.close();
  await relay.close();
  await rm(temp, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
