/**
 * `createPeer` either returns a working peer or releases everything it opened: a transport that
 * cannot start (its listen address is in use) makes the peer stop the transports that did start
 * and close the storage, so the same SQLite file opens again at once and nothing keeps the process
 * alive.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { afterEach, expect, it } from 'vitest';
import { createPeer, type Transport } from '../../engine/index.js';
import { sqliteStorage } from '../../engine/storage/sqlite/index.js';
import { libp2pTransport } from '../../transports/libp2p/index.js';
import { unwrap } from '../support/peers.js';
import { tempDirs } from '../support/temp-dir.js';

const tempDir = tempDirs('shoal-start-');
const CHILD = fileURLToPath(new URL('./fixtures/failed-start.ts', import.meta.url));
/** The child normally ends within a few seconds of starting (tsx included). */
const CHILD_TIMEOUT_MS = 30_000;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A TCP port on 127.0.0.1 held by this process, so a transport listening there fails. */
async function takenPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** `inner`, recording whether its start succeeded and whether it was stopped. */
function recorded(inner: Transport) {
  const calls = { started: false, stopped: false };
  const transport: Transport = {
    start: (context, handler) => inner.start(context, handler).map(() => void (calls.started = true)),
    send: (to, frame) => inner.send(to, frame),
    disconnect: (peer) => inner.disconnect(peer),
    addresses: () => inner.addresses(),
    stop: async () => {
      calls.stopped = true;
      await inner.stop();
    },
  };
  return { transport, calls };
}

it('a transport that cannot listen: the started one is stopped, the SQLite file opens again', async () => {
  const port = await takenPort();
  const file = join(tempDir(), 'peer.db');
  const first = recorded(libp2pTransport({ listen: ['/ip4/127.0.0.1/tcp/0'] }));
  const result = await createPeer({
    storage: sqliteStorage(file),
    transports: [first.transport, libp2pTransport({ listen: [`/ip4/127.0.0.1/tcp/${port}`] })],
  });
  expect(result.isErr() && result.error.type).toBe('transport');
  expect(result.isErr() && result.error.message).toContain(`cannot listen on /ip4/127.0.0.1/tcp/${port}`);
  expect(first.calls).toEqual({ started: true, stopped: true });

  // Not "locked": the failed peer closed the file.
  const again = unwrap(await createPeer({ storage: sqliteStorage(file) }));
  await again.close();
});

it('an identity that does not match the storage: the storage is closed too', async () => {
  const file = join(tempDir(), 'peer.db');
  const owner = unwrap(await createPeer({ storage: sqliteStorage(file) }));
  await owner.close();
  const wrong = await createPeer({ storage: sqliteStorage(file), identity: await generateKeyPair('Ed25519') });
  expect(wrong.isErr() && wrong.error.type).toBe('invalid-input');
  const again = unwrap(await createPeer({ storage: sqliteStorage(file) }));
  expect(again.id).toBe(owner.id);
  await again.close();
});

it('a process whose peer failed to start ends by itself', async () => {
  const port = await takenPort();
  const file = join(tempDir(), 'peer.db');
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file, String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as { error?: { type: string }; reopened: boolean };
  expect(report.error?.type).toBe('transport');
  expect(report.reopened).toBe(true);
});
