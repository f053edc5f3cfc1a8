/**
 * Swarm keys for private networks, so an app need not depend on `@libp2p/pnet` itself.
 */
import { generateKey } from '@libp2p/pnet';

/** Bytes in a swarm key as `@libp2p/pnet` writes it (the `/key/swarm/psk/1.0.0/` text format). */
export const SWARM_KEY_BYTES = 95; // bytes

/**
 * A new random swarm key: the bytes `libp2pTransport({ psk })` accepts. Store it as a file (it is
 * text: a header and 64 hex digits) and give it, privately, to every peer that may join.
 *
 * @example
 * ```ts
 * import { generateSwarmKey, libp2pTransport } from 'shoal/transports/libp2p';
 *
 * const psk = generateSwarmKey();
 * await writeFile('./swarm.key', psk, { mode: 0o600 });
 * const transport = libp2pTransport({ psk });
 * ```
 */
export function generateSwarmKey(): Uint8Array {
  const key = new Uint8Array(SWARM_KEY_BYTES);
  generateKey(key);
  return key;
}
