/**
 * A transport driven by hand: the test plays every remote peer itself. It says when a remote's link
 * comes up or goes down, delivers frames as if that remote sent them, and sees every frame the peer
 * sends. For protocol-level tests of a peer (what it answers to a given frame) and for benchmarks
 * that feed a peer pre-built frames without a network in between.
 *
 * @example
 * ```ts
 * const wire = manualTransport();
 * const peer = (await createPeer({ storage: memoryStorage(), transports: [wire.transport] }))._unsafeUnwrap();
 * wire.up(remote);
 * wire.deliver(remote, encodedHello);
 * await wire.settle();
 * wire.sent(remote); // frames the peer sent to `remote`
 * ```
 */
import { okAsync, type ResultAsync } from 'neverthrow';
import type { TransportError } from '../engine/errors.js';
import type { PeerId } from '../engine/facts/types.js';
import type { Transport, TransportContext, TransportHandler } from '../engine/transport.js';

export interface ManualTransport {
  readonly transport: Transport;
  /** The peer's id, once it started the transport. */
  readonly peerId: string | undefined;
  /** The link to `remote` comes up. */
  up(remote: string): void;
  /** The link to `remote` goes down. */
  down(remote: string): void;
  /** `remote` sends `frame` to the peer. */
  deliver(remote: string, frame: Uint8Array): void;
  /** Frames the peer sent to `remote` so far (all remotes when omitted), oldest first. */
  sent(remote?: string): Uint8Array[];
  /** Forget the frames sent so far. */
  clear(): void;
  /** Remotes the peer asked to disconnect, in order. */
  readonly disconnected: string[];
  /** Resolves once everything the peer queued so far (microtasks, I/O callbacks) has run. */
  settle(): Promise<void>;
}

export function manualTransport(): ManualTransport {
  let handler: TransportHandler | undefined;
  let self: string | undefined;
  const frames: { to: string; frame: Uint8Array }[] = [];
  const disconnected: string[] = [];
  const started = (): TransportHandler => {
    if (handler === undefined) throw new Error('manualTransport: the peer has not started the transport yet');
    return handler;
  };
  const transport: Transport = {
    start(context: TransportContext, h: TransportHandler): ResultAsync<void, TransportError> {
      handler = h;
      self = context.peerId;
      return okAsync(undefined);
    },
    send(to: PeerId, frame: Uint8Array): ResultAsync<void, TransportError> {
      frames.push({ to, frame: frame.slice() });
      return okAsync(undefined);
    },
    disconnect(peer: PeerId): void {
      disconnected.push(peer);
    },
    addresses: () => [],
    stop: () => Promise.resolve(),
  };
  return {
    transport,
    get peerId() {
      return self;
    },
    up: (remote) => started().peerUp(remote as PeerId),
    down: (remote) => started().peerDown(remote as PeerId),
    deliver: (remote, frame) => started().message(remote as PeerId, frame),
    sent: (remote) => frames.filter((f) => remote === undefined || f.to === remote).map((f) => f.frame),
    clear: () => void frames.splice(0),
    disconnected,
    settle: () => new Promise((resolve) => setImmediate(resolve)),
  };
}
