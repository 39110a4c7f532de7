/**
 * `npm run bench:chart -- RESULTS.jsonl OUT.svg`: draws the figures of a `npm run bench -- --json`
 * run as an SVG of horizontal bar groups: codec throughput beside JSON and msgpackr, bytes per
 * op, and each targeted figure as a share of its target.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Figure } from './harness.ts';

interface Bar {
  label: string;
  value: number;
  text: string;
  /** Bars of one group share a scale; `ours` bars are drawn in the accent colour. */
  ours: boolean;
}

interface Group {
  title: string;
  bars: Bar[];
  /** Draw a line at this value (a target), if any. */
  mark?: number;
}

const figures = new Map<string, Figure>();

function get(name: string): number | undefined {
  return figures.get(name)?.value;
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : `${Math.round(n * 100) / 100}`;
}

function groups(): Group[] {
  const out: Group[] = [];
  const throughput: Bar[] = [];
  for (const [label, prefix, ours] of [
    ['BlazeBinary', 'codec.', true],
    ['msgpackr (records)', 'codec.msgpackr_records.', false],
    ['JSON', 'codec.json.', false],
  ] as const) {
    for (const dir of ['encode', 'decode']) {
      const v = get(`${prefix}${dir}_ops_per_s`);
      if (v !== undefined) throughput.push({ label: `${label} ${dir}`, value: v, text: `${fmt(v)} ops/s`, ours });
    }
  }
  if (throughput.length) out.push({ title: 'W5 codec throughput (ops/s, batches of 100)', bars: throughput });
  const bytes: Bar[] = [];
  for (const [label, name, ours] of [
    ['BlazeDB on the sync wire (W2)', 'sync.wire_bytes_per_op', true],
    ['BlazeBinary batch of 100 + LZ4', 'codec.update_op_bytes_batch100_lz4', true],
    ['BlazeBinary op alone', 'codec.update_op_bytes', true],
    ['msgpackr records (W5)', 'codec.msgpackr_records.w5_bytes_per_op', false],
    ['JSON (W5)', 'codec.json.w5_bytes_per_op', false],
  ] as const) {
    const v = get(name);
    if (v !== undefined) bytes.push({ label, value: v, text: `${fmt(v)} B`, ours });
  }
  if (bytes.length) out.push({ title: 'Bytes per update', bars: bytes });
  const targets: [string, string, number, 'min' | 'max'][] = [
    ['replica apply (>= 500k/s)', 'replica.apply_ops_per_s', 500_000, 'min'],
    ['durable batch writes (>= 150k/s)', 'store.durable_write_ops_per_s_batch', 150_000, 'min'],
    ['reopen 1M records (< 200 ms)', 'store.reopen_ms_1m', 200, 'max'],
    ['sync ops/s (>= 100k/s)', 'sync.ops_per_s', 100_000, 'min'],
    ['sync wire bytes (<= 16)', 'sync.wire_bytes_per_op', 16, 'max'],
    ['sync catch-up 100k (< 2 s)', 'sync.catchup_100k_s', 2, 'max'],
    ['sync latency p99 (< 5 ms)', 'sync.latency_ms_p99', 5, 'max'],
    ['snapshot sync 1M records (< 10 s)', 'snapshot.initial_sync_s_1m', 10, 'max'],
    ['snapshot bytes/record (<= 100)', 'snapshot.bytes_per_record', 100, 'max'],
    ['client memory, sync + GC (< 10 MB)', 'gc.client_memory_delta_mb', 10, 'max'],
    ['relay ingest, 100 peers (>= 50k/s)', 'relay.ingest_ops_per_s_100_peers', 50_000, 'min'],
    ['relay fan-out (>= 200k/s)', 'relay.fanout_deliveries_per_s', 200_000, 'min'],
    ['relay RSS per idle connection (<= 0.2 MB)', 'relay.rss_mb_per_idle_connection', 0.2, 'max'],
    ['relay p99, 500 peers (< 50 ms)', 'relay.p99_ms_500_peers', 50, 'max'],
    ['relay p99, 500 partial peers (< 50 ms)', 'relay.p99_ms_500_partial_peers', 50, 'max'],
  ];
  const share: Bar[] = [];
  for (const [label, name, target, kind] of targets) {
    const v = get(name);
    if (v === undefined) continue;
    // Share of the target met: above 100% means met (for "at most" targets, target / value).
    const pct = kind === 'min' ? (v / target) * 100 : (target / v) * 100;
    share.push({ label, value: Math.min(pct, 400), text: `${Math.round(pct)}% (${fmt(v)})`, ours: pct >= 100 });
  }
  if (share.length) out.push({ title: 'Targets: share met (100% = target; capped at 400%)', bars: share, mark: 100 });
  return out;
}

function render(all: Group[]): string {
  const width = 860;
  const labelW = 270;
  const barMax = 430;
  const rowH = 24;
  let y = 20;
  const parts: string[] = [
    `<text x="10" y="${y}" font-size="12" fill="#495057">orange: BlazeDB, or a target met; grey: another codec, or a target missed</text>`,
  ];
  y += 16;
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  for (const g of all) {
    parts.push(`<text x="10" y="${y + 14}" font-size="15" font-weight="bold">${esc(g.title)}</text>`);
    y += 26;
    const max = Math.max(...g.bars.map((b) => b.value), g.mark ?? 0);
    const top = y;
    for (const b of g.bars) {
      const w = Math.max(1, (b.value / max) * barMax);
      parts.push(`<text x="${labelW - 8}" y="${y + 16}" font-size="12" text-anchor="end">${esc(b.label)}</text>`);
      parts.push(
        `<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${b.ours ? '#e8590c' : '#868e96'}"/>`,
      );
      parts.push(`<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 16}" font-size="12">${esc(b.text)}</text>`);
      y += rowH;
    }
    if (g.mark !== undefined) {
      const x = labelW + (g.mark / max) * barMax;
      parts.push(`<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${y}" stroke="#212529" stroke-dasharray="4 3"/>`);
    }
    y += 18;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif">
<title>BlazeDB benchmark figures: codec throughput, bytes per update, targets met</title>
<rect width="100%" height="100%" fill="white"/>
${parts.join('\n')}
</svg>
`;
}

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: npm run bench:chart -- RESULTS.jsonl OUT.svg   (RESULTS from npm run bench -- --json)');
  process.exit(2);
}
let text: string;
try {
  text = readFileSync(input, 'utf8');
} catch (err) {
  console.error(`bench:chart: cannot read ${input}: ${(err as Error).message}`);
  process.exit(1);
}
for (const line of text.split('\n')) {
  if (!line.trim().startsWith('{')) continue;
  try {
    const f = JSON.parse(line) as Figure;
    if (typeof f.name === 'string' && typeof f.value === 'number') figures.set(f.name, f);
  } catch {
    console.error(`bench:chart: skipping a line that is not JSON: ${line.slice(0, 60)}`);
  }
}
if (figures.size === 0) {
  console.error(`bench:chart: no figures in ${input}`);
  process.exit(1);
}
writeFileSync(output, render(groups()));
console.log(`wrote ${output} from ${figures.size} figures`);
