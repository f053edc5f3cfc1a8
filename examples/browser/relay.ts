/**
 * The relay of the browser demo: a plain Shoal peer on SQLite, on 127.0.0.1, that browsers reach
 * over WebSockets and that also serves circuit-relay-v2. Pages reserve a slot on it, and a page
 * dials another at `<relay>/p2p-circuit/webrtc/p2p/<page>`: the relay carries the WebRTC handshake
 * (SDP and ICE candidates) on a limited connection, then the pages talk directly. As a Shoal peer it
 * also syncs the list with every page linked to it, so a page that cannot reach another still
 * converges through it.
 */
import { circuitRelayServer } from '@libp2p/circuit-relay-v2';
import { createPeer, type Peer } from '../../engine/index.js';
import { sqliteStorage } from '../../engine/storage/sqlite/index.js';
import { libp2pTransport, type Libp2pTransport } from '../../transports/libp2p/index.js';
import { LIST_SPACE, must } from './list.js';

/** A running relay. */
export interface Relay {
  readonly peer: Peer;
  readonly transport: Libp2pTransport;
  /** The WebSocket multiaddr pages dial, with `/p2p/<relay>`. */
  readonly address: string;
  close(): Promise<void>;
}

/** Options of {@link startRelay}. */
export interface RelayInit {
  /** The SQLite file of the relay's peer (identity and log). */
  readonly dbPath: string;
  /**
   * WebSocket port on 127.0.0.1; 0 picks a free one.
   *
   * @default 0
   */
  readonly port?: number;
}

/** Start the relay peer and open the list space on it. */
export async function startRelay(init: RelayInit): Promise<Relay> {
  const transport = libp2pTransport({
    listen: [`/ip4/127.0.0.1/tcp/${init.port ?? 0}/ws`],
    tcp: false,
    services: {
      // Pages hold their reservation for the whole session, and the relayed connection carries only
      // the WebRTC handshake, so the default limits (2 min, 128 KiB per relayed connection) suffice.
      relay: circuitRelayServer({ reservations: { maxReservations: 64 } }),
    },
  });
  const peer = must(
    await createPeer({ storage: sqliteStorage(init.dbPath), transports: [transport] }),
    'starting the relay',
  );
  must(await peer.space(LIST_SPACE), 'opening the list on the relay');
  const address = peer.addresses().find((a) => a.includes('/ws'));
  if (address === undefined) throw new Error(`the relay has no WebSocket address: ${peer.addresses().join(', ')}`);
  return { peer, transport, address, close: () => peer.close() };
}
