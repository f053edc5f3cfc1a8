/**
 * Test helpers: peers on a SimNetwork, unwrapping results loudly.
 */
import type { Result } from 'neverthrow';
import { createPeer, memoryStorage, type Peer, type PeerInit, type Space, type Storage } from '../../engine/index.js';
import type { SimNetwork, SimNodeOptions } from '../../transports/memory/index.js';

/** The value of an Ok, or a thrown error that names the Err (tests only). */
export function unwrap<T, E>(result: Result<T, E>): T {
  if (result.isErr()) throw new Error(`expected Ok, got Err: ${JSON.stringify(result.error)}`);
  return result.value;
}

export interface SimPeer {
  peer: Peer;
  space: Space;
  storage: Storage;
}

/** A peer on `net` with its own memory storage, with `spaceId` open. */
export async function simPeer(
  net: SimNetwork,
  spaceId = 'space',
  init: Partial<PeerInit> = {},
  node: SimNodeOptions = {},
): Promise<SimPeer> {
  const storage = init.storage ?? memoryStorage();
  const peer = unwrap(await createPeer({ ...init, storage, ...net.node(node) }));
  const space = unwrap(await peer.space(spaceId));
  return { peer, space, storage };
}

/** Restart a crashed peer on the same storage. */
export async function restart(
  net: SimNetwork,
  old: SimPeer,
  spaceId = 'space',
  init: Partial<PeerInit> = {},
): Promise<SimPeer> {
  return simPeer(net, spaceId, { ...init, storage: old.storage });
}
