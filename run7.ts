import { runMesh } from './examples/simulation/mesh.js';
const [peers, writes] = process.argv.slice(2).map(Number);
const t = performance.now();
const r = await runMesh({ seed: 1, peers: peers!, writes: writes!, degree: 4, drop: 0.05, onProgress: (c, n, e) => { if (e % 1000 === 0) console.log(e, c, '/', n, Math.round(performance.now() - t)); } });
console.log('wall', Math.round(performance.now() - t), 'ms', r.converged, r.convergeMs, 'msgs', r.stats.sent, 'B/fact', (r.stats.bytesSent / r.facts).toFixed(0), 'msgs/fact', (r.stats.sent / r.facts).toFixed(1));
