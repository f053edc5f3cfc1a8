/**
 * SimNetwork as a Transport: the same conformance suite as libp2p and automerge-repo, on a virtual
 * clock — in-order links, and links that reorder (order is then not promised).
 */
import { SimNetwork } from '../../transports/memory/index.js';
import { identity, runTransportTests, startTransport, type MakePair } from '../../testing/index.js';

function simPair(reordering: boolean): MakePair {
  return async (handlers) => {
    const net = new SimNetwork({ seed: 42, ...(reordering ? { reorder: 0.3 } : {}) });
    const ka = await identity();
    const kb = await identity();
    const a = await startTransport(net.transport(), ka.key, handlers.a, net.env);
    const b = await startTransport(net.transport(), kb.key, handlers.b, net.env);
    return {
      a,
      b,
      settle: async () => {
        await net.runUntilQuiet();
      },
      restartB: (handler) => startTransport(net.transport(), kb.key, handler, net.env),
      close: async () => {
        await Promise.all([a.transport.stop(), b.transport.stop()]);
      },
    };
  };
}

runTransportTests('SimNetwork', simPair(false));
// Duplicates and drops are exercised by the simulations; here: reordering, which the suite allows.
runTransportTests('SimNetwork with reordering', simPair(true), { ordered: false });
