/**
 * Simulation suite: a large deterministic network converging (issue 3's benchmark). Only Shoal has
 * this workload; Yjs and Automerge have no peer-to-peer mesh of their own to compare with.
 *
 * 1,000 peers × 10 writes each, a random mesh of degree 4 (a ring plus random chords), 5 % of
 * messages dropped: the wall time until every peer holds every fact (then every state hash is
 * checked equal, off the clock), messages and bytes per fact.
 */
import { runMesh } from '../../examples/simulation/mesh.js';
import type { BenchSuite } from '../harness.js';
import { runWorkloads, type Workload } from '../workload.js';

const PEERS = 1000;
const WRITES = 10;

const suite: BenchSuite = {
  name: 'sim',
  run(ctx) {
    const peers = Math.max(10, Math.round(PEERS * ctx.scale));
    const workload: Workload<'wall' | 'virtual' | 'messages' | 'bytes' | 'bytesPerPeer'> = {
      name: `simulation: ${peers.toLocaleString('en-US')} peers × ${WRITES} writes, mesh of degree 4, 5 % drop`,
      metrics: {
        wall: {
          metric: 'wall time to converge (2 cores)',
          unit: 's',
          better: 'lower',
          ...(peers === PEERS ? { goal: 60 } : {}),
        },
        virtual: { metric: 'virtual time to converge', unit: 's', better: 'lower' },
        messages: { metric: 'messages per fact', unit: 'msgs', better: 'lower' },
        bytes: { metric: 'bytes per fact (all peers)', unit: 'B', better: 'lower' },
        bytesPerPeer: { metric: 'bytes per fact per peer', unit: 'B', better: 'lower' },
      },
      systems: {
        async shoal() {
          const started = performance.now();
          let last = 0;
          const result = await runMesh({
            seed: 1,
            peers,
            writes: WRITES,
            degree: 4,
            drop: 0.05,
            sampleEvery: 250,
            onProgress: (converged, total, elapsed) => {
              if (performance.now() - last > 10_000) {
                last = performance.now();
                ctx.log(`  ${converged}/${total} peers converged at virtual ${(elapsed / 1000).toFixed(1)} s`);
              }
            },
          });
          const wall = (performance.now() - started) / 1000;
          if (!result.converged) throw new Error('the mesh did not converge');
          return {
            values: {
              wall,
              virtual: result.convergeMs / 1000,
              messages: result.stats.sent / result.facts,
              bytes: result.stats.bytesSent / result.facts,
              bytesPerPeer: result.stats.bytesSent / result.facts / peers,
            },
            notes: {
              wall: `includes creating the ${peers} peers and checking every state hash; seed 1 (npm run sim -- --peers ${peers} --writes ${WRITES} --drop 0.05 --seed 1)`,
            },
          };
        },
      },
    };
    return runWorkloads([workload], ctx);
  },
};
export default suite;
