/**
 * The deterministic in-memory network: simulation tests with many virtual peers, and the way an app
 * developer tests offline behaviour (partitions, crashes, lossy links) in a unit test.
 */
export {
  SimNetwork,
  type SimNetworkInit,
  type SimClock,
  type SimNode,
  type SimNodeOptions,
  type SimStats,
} from './sim-network.js';
