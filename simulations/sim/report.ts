/**
 * The HTML report of a `blaze-sim run`: a summary table of all runs, then, for the first run
 * (or the first that failed), charts drawn as inline SVG (no scripts, no network): ops behind
 * over time (convergence), bytes on the wire, op-log size per node, with the faults drawn as
 * bands on the timeline. Violations are listed with their replay command.
 */
import type { RunResult, Sample } from './run.ts';
import type { Summary } from './summary.ts';

const W = 760;
const H = 220;
const PAD = { left: 64, right: 16, top: 28, bottom: 30 };
const COLOURS = ['#d9480f', '#1c7ed6', '#2b8a3e', '#862e9c', '#e67700', '#0b7285', '#c2255c', '#5c940d', '#364fc7', '#495057'];

interface Series {
  readonly name: string;
  readonly points: readonly [number, number][];
}

export function renderReport(summary: Summary, runs: readonly RunResult[], replay: (r: RunResult) => string): string {
  const focus = runs.find((r) => r.violations.length > 0) ?? runs[0];
  const rows = Object.entries(summary.table)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`)
    .join('');
  const violations = runs
    .filter((r) => r.violations.length > 0)
    .map((r) => {
      const v = r.violations[0];
      return `<li><b>${esc(v?.invariant ?? '')}</b> seed ${r.seed} at ${v?.at.toFixed(0)} ms: ${esc(v?.detail ?? '')}<br><code>${esc(replay(r))}</code><pre>${esc((v?.lastEvents ?? []).join('\n'))}</pre></li>`;
    })
    .join('');
  const charts = focus ? chartsFor(focus) : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>blaze-sim: ${esc(summary.scenario)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#212529;max-width:820px}
table{border-collapse:collapse;margin:12px 0}th,td{padding:3px 10px;border-bottom:1px solid #dee2e6;text-align:left}
th{font-weight:600;color:#495057}figure{margin:18px 0}figcaption{color:#495057;margin-bottom:4px}
pre{background:#f8f9fa;padding:8px;overflow:auto;font-size:12px}code{font-size:12px}
</style></head><body>
<h1>blaze-sim: ${esc(summary.scenario)}</h1>
<p>${esc(summary.description)}</p>
<table>${rows}</table>
${violations ? `<h2>Violations</h2><ul>${violations}</ul>` : '<p>No invariant was violated.</p>'}
${focus ? `<h2>Seed ${focus.seed}</h2><p>Bands: faults (grey while active). Dashed line: the final heal.</p>${charts}` : ''}
</body></html>
`;
}

function chartsFor(run: RunResult): string {
  const samples = run.samples;
  const heal = run.healAt;
  const nodes = [...new Set(samples.flatMap((s) => Object.keys(s.logSize)))].sort();
  return [
    chart(
      'Ops the replicas lack of what the most advanced one holds (0 = converged)',
      'ops',
      [series('behind', samples, (s) => s.behind)],
      run,
      heal,
    ),
    chart('Bytes on the wire (cumulative)', 'bytes', [series('bytes', samples, (s) => s.bytes)], run, heal),
    chart(
      'Op-log size per node',
      'ops',
      nodes.map((n) => series(n, samples, (s) => s.logSize[n])),
      run,
      heal,
    ),
  ].join('\n');
}

function series(name: string, samples: readonly Sample[], value: (s: Sample) => number | undefined): Series {
  const points: [number, number][] = [];
  for (const s of samples) {
    const v = value(s);
    if (v !== undefined) points.push([s.t, v]);
  }
  return { name, points };
}

/** One line chart with a legend, the fault bands and the heal line. */
export function chart(title: string, unit: string, all: readonly Series[], run: RunResult, heal: number): string {
  const tMax = Math.max(1, run.virtualMs);
  const yMax = Math.max(1, ...all.flatMap((s) => s.points.map(([, y]) => y)));
  const x = (t: number) => PAD.left + (t / tMax) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / yMax) * (H - PAD.top - PAD.bottom);
  const bands = run.faults
    .map(
      (f) =>
        `<rect class="fault" x="${x(f.at).toFixed(1)}" y="${PAD.top}" width="${Math.max(1, x(f.until) - x(f.at)).toFixed(1)}" height="${H - PAD.top - PAD.bottom}" fill="#adb5bd" opacity="0.25"><title>${esc(`${f.kind} ${f.nodes.join(',')} ${f.detail}`)}</title></rect>`,
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
  const healLine = `<line x1="${x(heal)}" x2="${x(heal)}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#212529" stroke-dasharray="4 3"/>`;
  return `<figure><figcaption>${esc(title)} (${esc(unit)})</figcaption>
<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>${bands}
<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="#868e96"/>
<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#868e96"/>
${ticks}${tTicks}${healLine}${lines}${legend}</svg></figure>`;
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

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}
