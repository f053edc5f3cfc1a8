/**
 * A small SVG line chart of converged peers over virtual time (no dependencies: it is a dozen
 * SVG elements).
 */

const WIDTH = 720;
const HEIGHT = 360;
const PAD = { left: 60, right: 20, top: 40, bottom: 50 };

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One line of the chart: `curve` holds (virtual ms, converged peers) samples in time order. */
export interface ConvergenceSeries {
  readonly label: string;
  readonly peers: number;
  readonly curve: readonly (readonly [number, number])[];
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/**
 * Peers holding every fact over virtual time: as a count for one series, as a share of each
 * series' peers for several (`npm run sim -- --sizes 100,1000`), with a legend.
 */
export function convergenceChart(series: readonly ConvergenceSeries[], options: { title: string }): string {
  const single = series.length === 1 ? series[0] : undefined;
  const top = single?.peers ?? 100;
  const maxT = Math.max(1, ...series.flatMap((s) => s.curve.map(([t]) => t)));
  const x = (t: number): number => PAD.left + (t / maxT) * (WIDTH - PAD.left - PAD.right);
  const y = (n: number): number => HEIGHT - PAD.bottom - (n / Math.max(1, top)) * (HEIGHT - PAD.top - PAD.bottom);
  const ticks = 5;
  const xTicks = Array.from({ length: ticks + 1 }, (_, i) => (maxT * i) / ticks);
  const yTicks = Array.from({ length: ticks + 1 }, (_, i) => Math.round((top * i) / ticks));
  const lines = series.map((s, i) => {
    const scale = single === undefined ? 100 / Math.max(1, s.peers) : 1;
    const points = [[0, 0] as const, ...s.curve].map(([t, n]) => `${x(t).toFixed(1)},${y(n * scale).toFixed(1)}`);
    const colour = COLOURS[i % COLOURS.length]!;
    const legend =
      single === undefined
        ? `\n  <text x="${PAD.left + 12}" y="${PAD.top + 14 + 16 * i}" fill="${colour}">${escape(s.label)}</text>`
        : '';
    return `  <polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.join(' ')}"/>${legend}`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">
  <rect width="100%" height="100%" fill="white"/>
  <text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14">${escape(options.title)}</text>
  <line x1="${PAD.left}" y1="${HEIGHT - PAD.bottom}" x2="${WIDTH - PAD.right}" y2="${HEIGHT - PAD.bottom}" stroke="black"/>
  <line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${HEIGHT - PAD.bottom}" stroke="black"/>
${xTicks.map((t) => `  <text x="${x(t).toFixed(1)}" y="${HEIGHT - PAD.bottom + 18}" text-anchor="middle">${(t / 1000).toFixed(1)}</text>`).join('\n')}
${yTicks.map((n) => `  <text x="${PAD.left - 8}" y="${(y(n) + 4).toFixed(1)}" text-anchor="end">${n}${single === undefined ? ' %' : ''}</text>\n  <line x1="${PAD.left}" y1="${y(n).toFixed(1)}" x2="${WIDTH - PAD.right}" y2="${y(n).toFixed(1)}" stroke="#eee"/>`).join('\n')}
  <text x="${WIDTH / 2}" y="${HEIGHT - 12}" text-anchor="middle">virtual time (s)</text>
  <text x="16" y="${HEIGHT / 2}" text-anchor="middle" transform="rotate(-90 16 ${HEIGHT / 2})">peers holding every fact</text>
${lines.join('\n')}
</svg>
`;
}
