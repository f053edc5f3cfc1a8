/**
 * Shoal over libp2p: `libp2pTransport({ listen, bootstrap, mdns, psk, allow })`, and
 * `generateSwarmKey()` for private networks. Failed dials carry a typed reason
 * (`transport.onDialFailure`, `dialFailures()`, `dialTargets()`, `stats().dialFailuresByReason`).
 *
 * The polyfill import comes first on purpose: libp2p 3 needs `Promise.withResolvers`, which Node 20
 * lacks, and it must be in place before any libp2p code runs.
 *
 * @packageDocumentation
 */
import './polyfill.js';

export {
  libp2pTransport,
  DEFAULT_BAN_MS,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_LISTEN,
  LINK_GREETING,
  MAX_DIAL_FAILURES_KEPT,
  MDNS_SERVICE_TAG,
  SHOAL_SYNC_PROTOCOL,
  type Libp2pTransport,
  type Libp2pTransportInit,
  type Libp2pTransportStats,
  type DialTarget,
  type LinkInfo,
  type LinkKind,
  linkKindOf,
} from './libp2p-transport.js';
export { DIAL_FAILURE_REASONS, type DialFailure, type DialFailureReason } from './dial-failure.js';
export { generateSwarmKey, SWARM_KEY_BYTES } from './swarm-key.js';
export {
  DEFAULT_BACKOFF_FACTOR,
  DEFAULT_BACKOFF_INITIAL_MS,
  DEFAULT_BACKOFF_MAX_MS,
  backoffDelay,
  type BackoffInit,
} from './backoff.js';
export { installPromiseWithResolvers, ensureGlobalWebSocket } from './polyfill.js';
