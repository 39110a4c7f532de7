/**
 * The HTML report of a `blaze-sim run`: a summary table of all runs, then, for the first run
 * (or the first that failed), charts drawn as inline SVG (no scripts, no network): ops behind
 * over time (convergence), bytes on the wire, op-log size per node, with the faults drawn as
 * bands on the timeline. Violations are listed with their replay command.
 */
import { type ChartFrame, esc, lineChart, type Series } from './line-chart.ts';
import type { RunResult, Sample } from './run.ts';
import type { Summary } from './summary.ts';

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
  const frame: ChartFrame = {
    endMs: run.virtualMs,
    bands: run.faults.map((f) => ({ at: f.at, until: f.until, label: `${f.kind} ${f.nodes.join(',')} ${f.detail}` })),
    markAt: run.healAt,
  };
  const chart = (title: string, unit: string, all: readonly Series[]) => lineChart(title, unit, all, frame);
  const nodes = [...new Set(samples.flatMap((s) => Object.keys(s.logSize)))].sort();
  return [
    chart('Ops the replicas lack of what the most advanced one holds (0 = converged)', 'ops', [series('behind', samples, (s) => s.behind)]),
    chart('Bytes on the wire (cumulative)', 'bytes', [series('bytes', samples, (s) => s.bytes)]),
    chart(
      'Op-log size per node',
      'ops',
      nodes.map((n) => series(n, samples, (s) => s.logSize[n])),
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
