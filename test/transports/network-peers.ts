/**
 * Test helpers: Shoal peers on real networks (libp2p on 127.0.0.1), waits on real time.
 */
import type { PrivateKey } from '@libp2p/interface';
import { createPeer, memoryStorage, type Peer, type Space, type Storage } from '../../engine/index.js';
import { libp2pTransport, type Libp2pTransport, type Libp2pTransportInit } from '../../transports/libp2p/index.js';
import { unwrap } from '../support/peers.js';

export interface NetPeer {
  readonly peer: Peer;
  readonly space: Space;
  readonly transport: Libp2pTransport;
  readonly storage: Storage;
}

/** Fast re-dials so tests do not wait on production backoff. */
export const FAST_BACKOFF: Libp2pTransportInit = { backoff: { initialMs: 50, maxMs: 500 }, dialTimeoutMs: 1000 };

/**
 * A peer with a libp2p transport and `spaceId` open. Its storage is kept (and reused on restart):
 * pass the same `storage` to bring the same peer back.
 */
export async function libp2pPeer(
  init: { storage?: Storage; identity?: PrivateKey; transport?: Libp2pTransportInit; spaceId?: string } = {},
): Promise<NetPeer> {
  const storage = init.storage ?? memoryStorage();
  const transport = libp2pTransport({ ...FAST_BACKOFF, listen: ['/ip4/127.0.0.1/tcp/0'], ...init.transport });
  const peer = unwrap(
    await createPeer({
      storage,
      transports: [transport],
      ...(init.identity === undefined ? {} : { identity: init.identity }),
    }),
  );
  const space = unwrap(await peer.space(init.spaceId ?? 'list'));
  return { peer, space, transport, storage };
}

/** Wait (real time) until `done()` holds; fail with `what` after `timeoutMs`. */
export async function eventually(done: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every peer holds the same facts (same state hash) and has nothing pending. */
export function converged(peers: readonly NetPeer[]): boolean {
  const hash = peers[0]?.space.stateHash();
  return peers.every((p) => p.space.stateHash() === hash && p.space.status().pending === 0);
}
