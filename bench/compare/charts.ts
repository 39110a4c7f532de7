/**
 * The comparison's charts as standalone SVG (no scripts, no fonts to fetch): horizontal bars
 * for one figure across libraries, and lines of one figure against another. Log scales where
 * the libraries are orders of magnitude apart.
 */
import { esc } from '../../simulations/sim/line-chart.ts';

const COLOURS: Record<string, string> = {
  BlazeDB: '#d9480f',
  Yjs: '#1c7ed6',
  Automerge: '#2b8a3e',
  PouchDB: '#862e9c',
  OrbitDB: '#e67700',
};
const colour = (name: string) => COLOURS[name] ?? '#495057';

export interface Bar {
  label: string;
  value: number;
  /** Shown after the bar (the median and its range, say). */
  text: string;
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (abs >= 100) return Math.round(n).toLocaleString('en');
  return n.toPrecision(3).replace(/\.?0+$/, '');
}

function svg(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}" font-family="sans-serif">
<rect width="${width}" height="${height}" fill="#fff"/>
<text x="12" y="20" font-size="14" font-weight="bold" fill="#212529">${esc(title)}</text>
${body}</svg>
`;
}

/** One bar per library; `log` for figures that span orders of magnitude. */
export function barChart(title: string, unit: string, bars: readonly Bar[], options: { log?: boolean } = {}): string {
  const W = 720;
  const left = 110;
  const right = 190;
  const rowH = 26;
  const top = 44;
  const H = top + bars.length * rowH + 28;
  const positive = bars.filter((b) => b.value > 0);
  const max = Math.max(...positive.map((b) => b.value), 1e-9);
  const min = Math.min(...positive.map((b) => b.value), max);
  const floor = options.log ? 10 ** Math.floor(Math.log10(min) - 0.3) : 0;
  const scale = (v: number) => {
    if (v <= 0) return 0;
    if (!options.log) return v / max;
    return (Math.log10(v) - Math.log10(floor)) / (Math.log10(max) - Math.log10(floor));
  };
  const span = W - left - right;
  const rows = bars
    .map((b, i) => {
      const y = top + i * rowH;
      const w = Math.max(1, scale(b.value) * span);
      return `<text x="${left - 8}" y="${y + 15}" font-size="12" text-anchor="end" fill="#212529">${esc(b.label)}</text>
<rect class="bar" x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${colour(b.label)}"><title>${esc(`${b.label}: ${b.text}`)}</title></rect>
<text x="${(left + w + 6).toFixed(1)}" y="${y + 15}" font-size="11" fill="#495057">${esc(b.text)}</text>`;
    })
    .join('\n');
  const axis = `<text x="${left}" y="${H - 8}" font-size="10" fill="#868e96">${esc(unit)}${options.log ? `, log scale from ${fmt(floor)}` : ''}</text>`;
  return svg(W, H, title, `${rows}\n${axis}`);
}

export interface Line {
  name: string;
  /** [x, y] */
  points: readonly [number, number][];
}

/** Lines of y against x per library, with optional log axes. */
export function lineChart(
  title: string,
  xUnit: string,
  yUnit: string,
  lines: readonly Line[],
  options: { logX?: boolean; logY?: boolean } = {},
): string {
  const W = 720;
  const H = 300;
  const pad = { left: 70, right: 20, top: 60, bottom: 44 };
  const xs = lines.flatMap((l) => l.points.map(([x]) => x));
  const ys = lines.flatMap((l) => l.points.map(([, y]) => y));
  const range = (values: number[], log: boolean | undefined): [number, number] => {
    const usable = log ? values.filter((v) => v > 0) : values;
    let lo = log ? Math.min(...usable) : Math.min(0, ...usable);
    let hi = Math.max(...usable);
    if (log) {
      lo = 10 ** Math.floor(Math.log10(lo));
      hi = 10 ** Math.ceil(Math.log10(hi));
    }
    return hi > lo ? [lo, hi] : [lo, lo + 1];
  };
  const [x0, x1] = range(xs, options.logX);
  const [y0, y1] = range(ys, options.logY);
  const t = (v: number, lo: number, hi: number, log: boolean | undefined) =>
    log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo);
  const px = (v: number) => pad.left + t(v, x0, x1, options.logX) * (W - pad.left - pad.right);
  const py = (v: number) => H - pad.bottom - t(v, y0, y1, options.logY) * (H - pad.top - pad.bottom);
  const ticks = (lo: number, hi: number, log: boolean | undefined) =>
    log ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * 10 ** i) : [lo, lo + (hi - lo) / 2, hi];
  const xTicks = ticks(x0, x1, options.logX)
    .map(
      (v) => `<text x="${px(v).toFixed(1)}" y="${H - pad.bottom + 16}" font-size="10" text-anchor="middle" fill="#495057">${fmt(v)}</text>`,
    )
    .join('');
  const yTicks = ticks(y0, y1, options.logY)
    .map((v) => `<text x="${pad.left - 6}" y="${(py(v) + 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#495057">${fmt(v)}</text>`)
    .join('');
  const paths = lines
    .filter((l) => l.points.length > 0)
    .map((l) => {
      const d = l.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
      const dots = l.points
        .map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour(l.name)}"/>`)
        .join('');
      return `<path class="series" d="${d}" fill="none" stroke="${colour(l.name)}" stroke-width="2"><title>${esc(l.name)}</title></path>${dots}`;
    })
    .join('\n');
  const legend = lines
    .map((l, i) => `<text x="${pad.left + i * 110}" y="38" font-size="11" fill="${colour(l.name)}">${esc(l.name)}</text>`)
    .join('');
  const axes = `<line x1="${pad.left}" x2="${W - pad.right}" y1="${H - pad.bottom}" y2="${H - pad.bottom}" stroke="#868e96"/>
<line x1="${pad.left}" x2="${pad.left}" y1="${pad.top}" y2="${H - pad.bottom}" stroke="#868e96"/>
<text x="${W - pad.right}" y="${H - 6}" font-size="10" text-anchor="end" fill="#868e96">${esc(xUnit)}${options.logX ? ' (log)' : ''}</text>
`;
  return svg(W, H, `${title} (${yUnit}${options.logY ? ', log' : ''})`, `${axes}\n${xTicks}${yTicks}\n${paths}\n${legend}`);
}
