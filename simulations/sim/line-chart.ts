/**
 * Line charts as inline SVG (no scripts, no network), for the simulator's report and the load
 * test's: series over time, grey bands for periods (faults, abuse) and a dashed mark line.
 */

const W = 760;
const H = 220;
const PAD = { left: 64, right: 16, top: 28, bottom: 30 };
const COLOURS = ['#d9480f', '#1c7ed6', '#2b8a3e', '#862e9c', '#e67700', '#0b7285', '#c2255c', '#5c940d', '#364fc7', '#495057'];

export interface Series {
  readonly name: string;
  /** [time in ms, value] */
  readonly points: readonly [number, number][];
}

/** The time axis of a chart: 0 to endMs, with bands (hover shows the label) and a mark line. */
export interface ChartFrame {
  readonly endMs: number;
  readonly bands: readonly { readonly at: number; readonly until: number; readonly label: string }[];
  readonly markAt?: number;
}

/** One line chart with a legend, the frame's bands and its mark line. */
export function lineChart(title: string, unit: string, all: readonly Series[], frame: ChartFrame): string {
  const tMax = Math.max(1, frame.endMs);
  const yMax = Math.max(1, ...all.flatMap((s) => s.points.map(([, y]) => y)));
  const x = (t: number) => PAD.left + (t / tMax) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / yMax) * (H - PAD.top - PAD.bottom);
  const bands = frame.bands
    .map(
      (b) =>
        `<rect class="fault" x="${x(b.at).toFixed(1)}" y="${PAD.top}" width="${Math.max(1, x(b.until) - x(b.at)).toFixed(1)}" height="${H - PAD.top - PAD.bottom}" fill="#adb5bd" opacity="0.25"><title>${esc(b.label)}</title></rect>`,
    )
    .join('');
  const lines = all
    .map((s, i) => {
      if (s.points.length === 0) return '';
      const d = s.points.map(([t, v], j) => `${j === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
      return `<path class="series" d="${d}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.6"><title>${esc(s.name)}</title></path>`;
    })
    .join('');
  const legend = all
    .slice(0, 10)
    .map((s, i) => `<text x="${PAD.left + 8 + i * 70}" y="16" font-size="11" fill="${COLOURS[i % COLOURS.length]}">${esc(s.name)}</text>`)
    .join('');
  const ticks = [0, 0.5, 1]
    .map((f) => `<text x="${PAD.left - 6}" y="${y(yMax * f) + 4}" font-size="10" text-anchor="end" fill="#495057">${fmt(yMax * f)}</text>`)
    .join('');
  const tTicks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => `<text x="${x(tMax * f)}" y="${H - 10}" font-size="10" text-anchor="middle" fill="#495057">${fmtTime(tMax * f)}</text>`)
    .join('');
  const mark = frame.markAt;
  const markLine =
    mark === undefined
      ? ''
      : `<line x1="${x(mark)}" x2="${x(mark)}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#212529" stroke-dasharray="4 3"/>`;
  return `<figure><figcaption>${esc(title)} (${esc(unit)})</figcaption>
<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>${bands}
<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="#868e96"/>
<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#868e96"/>
${ticks}${tTicks}${markLine}${lines}${legend}</svg></figure>`;
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : `${Math.round(n)}`;
}

function fmtTime(ms: number): string {
  if (ms >= 2 * 86_400_000) return `${(ms / 86_400_000).toFixed(1)} d`;
  if (ms >= 2 * 3_600_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  if (ms >= 120_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}
