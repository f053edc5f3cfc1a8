/**
 * Shoal over automerge-repo network adapters: `automergeTransport(adapter)`.
 *
 * @packageDocumentation
 */
export {
  automergeTransport,
  DEFAULT_AUTOMERGE_BAN_MS,
  SHOAL_MESSAGE_TYPE,
  type AutomergeTransport,
  type AutomergeTransportInit,
  type AutomergeTransportStats,
} from './automerge-transport.js';
