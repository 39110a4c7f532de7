/**
 * docs/comparison.md and its charts, from the results file (run.ts writes it; regenerate alone
 * with `node bench/compare/report.ts docs/comparison.json`). Medians with min and max; ratios
 * to BlazeDB are taken run by run (run i of both libraries is one round) and their median shown.
 */
import { writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type Bar, barChart, fmt, type Line, lineChart } from './charts.ts';
import type { Results, Row } from './results.ts';

const NAMES: Record<string, string> = { blazedb: 'BlazeDB', yjs: 'Yjs', automerge: 'Automerge', pouchdb: 'PouchDB', orbitdb: 'OrbitDB' };
export const displayName = (library: string) => NAMES[library] ?? library;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** "median (min-max)" of a figure, or a dash. */
function spread(values: readonly number[] | undefined, digits?: (n: number) => string): string {
  if (!values || values.length === 0) return '-';
  const f = digits ?? fmt;
  const m = f(median(values));
  if (Math.min(...values) === Math.max(...values)) return m;
  return `${m} (${f(Math.min(...values))}-${f(Math.max(...values))})`;
}

/** Median over rounds of `ratio(blaze_i, other_i)`, for the rounds both ran. */
export function pairedRatio(
  blaze: readonly number[] | undefined,
  other: readonly number[] | undefined,
  ratio: (b: number, o: number) => number,
): number | undefined {
  if (!blaze || !other) return undefined;
  const n = Math.min(blaze.length, other.length);
  if (n === 0) return undefined;
  return median(Array.from({ length: n }, (_, i) => ratio(blaze[i] as number, other[i] as number)));
}

/** W1: the library's sync time per record over BlazeDB's, run by run. */
function perRecordRatio(blaze: Row | undefined, other: Row): number | undefined {
  if (!blaze) return undefined;
  const nb = blaze.sizes.records ?? 1;
  const no = other.sizes.records ?? 1;
  return pairedRatio(blaze.figures.sync_s, other.figures.sync_s, (b, o) => o / no / (b / nb));
}

const ratioText = (r: number | undefined) => (r === undefined ? '-' : `${fmt(r)}x`);

function rowsOf(results: Results, workload: string): Row[] {
  return results.rows.filter((r) => r.workload === workload);
}

function convergedText(r: Row): string {
  if (r.error) return `could not run: ${r.error}`;
  const bad = r.converged.filter((c) => !c).length;
  return bad === 0 ? `yes (${r.converged.length} of ${r.converged.length})` : `**no** in ${bad} of ${r.converged.length} runs`;
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Each target of the issue, met or not, from the figures of this run. */
function targets(results: Results): string[][] {
  const out: string[][] = [];
  const get = (w: string, l: string) => results.rows.find((r) => r.workload === w && r.library === l && !r.error);
  const anchors = (w: string) =>
    results.rows.filter((r) => r.workload === w && r.library !== 'blazedb' && !r.error && r.converged.length > 0);
  const best = (w: string, figure: string, higher: boolean) =>
    anchors(w)
      .map((r) => ({ r, v: median(r.figures[figure] ?? []) }))
      .sort((a, b) => (higher ? b.v - a.v : a.v - b.v))[0];
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : '**missed**');
  const w2 = get('W2', 'blazedb');
  const w2Best = best('W2', 'updates_per_s', true);
  if (w2 && w2Best) {
    const r = pairedRatio(w2.figures.updates_per_s, w2Best.r.figures.updates_per_s, (b, o) => b / o);
    out.push([`W2 throughput >= 3x the best anchor (${displayName(w2Best.r.library)})`, ratioText(r), verdict(r !== undefined && r >= 3)]);
  }
  const w2Bytes = best('W2', 'bytes_per_update', false);
  if (w2 && w2Bytes) {
    const b = median(w2.figures.bytes_per_update ?? []);
    out.push([
      `W2 bytes per update <= the best anchor's (${displayName(w2Bytes.r.library)}, ${fmt(w2Bytes.v)})`,
      fmt(b),
      verdict(b <= w2Bytes.v),
    ]);
  }
  const w1 = get('W1', 'blazedb');
  const w1Best = best('W1', 'sync_s', false);
  if (w1 && w1Best) {
    const b = median(w1.figures.sync_s ?? []);
    out.push([
      `W1 initial sync time <= the best anchor's (${displayName(w1Best.r.library)}, ${fmt(w1Best.v)} s)`,
      `${fmt(b)} s`,
      verdict(b <= w1Best.v),
    ]);
  }
  const big = get('W1-1M', 'blazedb');
  if (big) {
    const b = median(big.figures.sync_s ?? []);
    out.push(['W1 1M records < 10 s', `${fmt(b)} s`, verdict(b < 10)]);
  } else {
    out.push(['W1 1M records < 10 s', 'not run (`--big`)', 'not measured']);
  }
  const w3 = get('W3', 'blazedb');
  const am = get('W3', 'automerge');
  if (w3) {
    const lost = Math.max(...(w3.figures.increments_lost ?? [Number.NaN]));
    out.push(['W3 merge correct, counters exact', `${lost} increments lost`, verdict(lost === 0 && w3.converged.every(Boolean))]);
  }
  if (w3 && am) {
    const b = median(w3.figures.bytes_per_edit ?? []);
    const a = median(am.figures.bytes_per_edit ?? []);
    out.push([`W3 bytes per edit <= Automerge's (${fmt(a)})`, fmt(b), verdict(b <= a)]);
  }
  if (w2?.samples) {
    // Flat: once acknowledged, no more history than before the updates, and no more memory than
    // after the first tenth (when bounded caches have filled): nothing grows with the updates.
    const [first, warm] = w2.samples;
    const settled = w2.samples.at(-1);
    if (first && warm && settled) {
      const flat = settled.history <= first.history && settled.heapMB <= warm.heapMB * 1.1;
      out.push([
        'W4 history and memory flat once acknowledged',
        `${fmt(first.history)} -> ${fmt(settled.history)} ${w2.historyUnit ?? ''}; heap ${fmt(warm.heapMB)} MB after the first tenth, ${fmt(settled.heapMB)} MB settled`,
        verdict(flat),
      ]);
    }
  }
  return out;
}

export function renderCharts(results: Results): Record<string, string> {
  const bars = (workload: string, figure: string, perRow?: (r: Row) => number | undefined): Bar[] =>
    rowsOf(results, workload)
      .filter((r) => !r.error && r.figures[figure])
      .map((r) => {
        const values = r.figures[figure] as number[];
        const value = perRow?.(r) ?? median(values);
        return { label: displayName(r.library), value, text: spread(values) };
      });
  const charts: Record<string, string> = {
    'comparison-throughput.svg': barChart(
      'W2: live single-field updates per second, end to end',
      'updates/s',
      bars('W2', 'updates_per_s'),
      { log: true },
    ),
    'comparison-bytes.svg': barChart('W2: bytes on the wire per update', 'bytes', bars('W2', 'bytes_per_update'), { log: true }),
  };
  const sync: Line[] = [];
  for (const library of new Set(results.rows.filter((r) => r.workload.startsWith('W1')).map((r) => r.library))) {
    const points = results.rows
      .filter((r) => r.workload.startsWith('W1') && r.library === library && !r.error && r.figures.sync_s)
      .map((r): [number, number] => [r.sizes.records as number, median(r.figures.sync_s as number[])])
      .sort((a, b) => a[0] - b[0]);
    sync.push({ name: displayName(library), points });
  }
  charts['comparison-initial-sync.svg'] = lineChart('W1: initial sync time against records', 'records', 'seconds', sync, {
    logX: true,
    logY: true,
  });
  // Libraries ran different numbers of updates: a log axis shows each from its first tenth on.
  const w2 = rowsOf(results, 'W2').filter((r) => r.samples);
  const during = (r: Row) => (r.samples ?? []).slice(1, -1);
  const memory = w2.map((r) => ({ name: displayName(r.library), points: during(r).map((s): [number, number] => [s.updates, s.heapMB]) }));
  charts['comparison-memory.svg'] = lineChart('W4: memory over W2 updates, heap and buffers after a full GC', 'updates', 'MB', memory, {
    logX: true,
  });
  return charts;
}

/** A page with every chart inline (what the Chromium test renders). */
export function renderChartsPage(results: Results): string {
  const charts = Object.values(renderCharts(results)).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>BlazeDB comparison charts</title></head><body>\n${charts}</body></html>\n`;
}

export function renderMarkdown(results: Results, chartFiles: readonly string[]): string {
  const v = (library: string) => (results.versions[library] ? ` ${results.versions[library]}` : '');
  const lib = (r: Row) => `${displayName(r.library)}${v(r.library)}`;
  const blaze = (w: string) => results.rows.find((r) => r.workload === w && r.library === 'blazedb');
  const m = results.machine;
  const lines: string[] = [];
  lines.push('# BlazeDB beside Yjs, Automerge, PouchDB and OrbitDB');
  lines.push('');
  lines.push(
    'Generated by `npm run bench:compare -- --big` (bench/compare/) into `docs/comparison.json` and this page; do not edit by hand. Options: `--runs N`, `--scale F`, `--libs`, `--workloads`; `COMPARE_CPU_PROF=DIR` writes a CPU profile of every replica process.',
  );
  lines.push(`Run ${results.generated.slice(0, 10)} on ${m.cpus} x ${m.model}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node};`);
  lines.push(
    `${results.runs} run(s) of everything, interleaved by round; figures are "median (min-max)"; ratios are BlazeDB against the library, run by run, median.${results.scale < 1 ? ` **Sizes scaled by ${results.scale}.**` : ''}`,
  );
  lines.push('');
  lines.push('How each library is driven (one replica per process, loopback TCP, bytes counted by a proxy on the socket):');
  lines.push('');
  lines.push(
    '- **BlazeDB**: collections API, each W2 update `await update()`; a SyncSession over TCP (the code LAN peers and the relay run), memory storage, GC on (replica a is the home relay; both compact every second).',
  );
  lines.push(
    '- **Yjs**: nested Y.Maps; y-protocols style sync (state vector, then the missing update, then every update as it happens). No counter type: `viewCount` is read and written back.',
  );
  lines.push(
    '- **Automerge**: strings as ImmutableString, tags a map, `viewCount` an Automerge Counter; its sync protocol with one sync state per peer as automerge-repo runs it: replies at once, local changes sent at most every 100 ms (its sync throttle).',
  );
  lines.push(
    '- **PouchDB**: memory adapter, a document per record, get + put per update; live two-way `PouchDB.sync` with replica a served over HTTP by express-pouchdb.',
  );
  lines.push(
    '- **OrbitDB**: a `documents` database open to all writers, get + put per update, on Helia/libp2p (TCP, Noise, Yamux, gossipsub), nothing dialled outside loopback.',
  );
  lines.push('');
  lines.push('Sizes differ where a library cannot finish the standard size in minutes here; the tables give each one its size.');
  lines.push('');
  lines.push('## Targets');
  lines.push('');
  lines.push(table(['target', 'BlazeDB', ''], targets(results)));
  lines.push('');
  lines.push('## W1: bulk insert, then initial sync of a fresh replica');
  lines.push('');
  const w1Blaze = blaze('W1');
  lines.push(
    table(
      ['library', 'records', 'create (s)', 'sync (s)', 'bytes per record', 'sync time vs BlazeDB', 'converged'],
      results.rows
        .filter((r) => r.workload.startsWith('W1'))
        .map((r) => [
          lib(r),
          fmt(r.sizes.records ?? 0),
          spread(r.figures.create_s),
          spread(r.figures.sync_s),
          spread(r.figures.bytes_per_record),
          r.library === 'blazedb' || r.workload !== 'W1' ? '' : ratioText(perRecordRatio(w1Blaze, r)),
          convergedText(r),
        ]),
    ),
  );
  lines.push('');
  lines.push('"sync time vs BlazeDB": how many times longer the library took per record (sizes differ for some libraries).');
  lines.push('');
  lines.push('## W2: live single-field updates, each its own transaction, shipped as it happens');
  lines.push('');
  const w2Blaze = blaze('W2');
  lines.push(
    table(
      ['library', 'records', 'updates', 'updates/s', 'bytes per update', 'BlazeDB throughput ratio', 'converged'],
      rowsOf(results, 'W2').map((r) => [
        lib(r),
        fmt(r.sizes.records ?? 0),
        fmt(r.sizes.updates ?? 0),
        spread(r.figures.updates_per_s),
        spread(r.figures.bytes_per_update),
        r.library === 'blazedb' ? '' : ratioText(pairedRatio(w2Blaze?.figures.updates_per_s, r.figures.updates_per_s, (b, o) => b / o)),
        convergedText(r),
      ]),
    ),
  );
  lines.push('');
  lines.push(
    'From the first update on replica a to replica b holding the last (its marker record read back); the pauses to sample W4 are left out.',
  );
  lines.push('');
  lines.push('## W3: concurrent offline edits, then merge');
  lines.push('');
  lines.push(
    table(
      ['library', 'records', 'edits per replica', 'merge (s)', 'bytes per edit', 'increments lost', 'converged'],
      rowsOf(results, 'W3').map((r) => [
        lib(r),
        fmt(r.sizes.records ?? 0),
        fmt(r.sizes.edits ?? 0),
        spread(r.figures.merge_s),
        spread(r.figures.bytes_per_edit),
        r.figures.increments_lost
          ? `${spread(r.figures.increments_lost, (n) => String(Math.round(n)))} of ${fmt(median(r.figures.increments ?? []))}`
          : '-',
        convergedText(r),
      ]),
    ),
  );
  lines.push('');
  lines.push(
    'Both replicas start from the same records; b goes offline, each makes its edits (priority, status, title, viewCount + 1, a tag added), b rejoins: time from the rejoin until both hold the same state, bytes both ways over the edits of both.',
  );
  lines.push('');
  lines.push('## W4: memory and history over the W2 updates');
  lines.push('');
  lines.push(
    table(
      ['library', 'heap at start (MB)', 'heap after the updates (MB)', 'history at start', 'history at the end, settled', 'unit'],
      rowsOf(results, 'W2')
        .filter((r) => r.samples)
        .map((r) => {
          const s = r.samples ?? [];
          return [
            lib(r),
            fmt(s[0]?.heapMB ?? 0),
            fmt(s.at(-1)?.heapMB ?? 0),
            fmt(s[0]?.history ?? 0),
            fmt(s.at(-1)?.history ?? 0),
            r.historyUnit ?? '',
          ];
        }),
    ),
  );
  lines.push('');
  lines.push(
    'Replica a, first run, every tenth of the updates after a full GC, and once more 2 s after the last update (settled: for BlazeDB, after the acknowledgements let GC compact).',
  );
  lines.push('');
  if (results.codec) {
    lines.push('## W5: encoding 100,000 op-like objects');
    lines.push('');
    const codec = new Map(results.codec.map((f) => [f.name, f.value]));
    const row = (name: string, prefix: string) => [
      name,
      fmt(codec.get(`codec.${prefix}encode_ops_per_s`) ?? Number.NaN),
      fmt(codec.get(`codec.${prefix}decode_ops_per_s`) ?? Number.NaN),
      fmt(codec.get(`codec.${prefix}w5_bytes_per_op`) ?? Number.NaN),
    ];
    lines.push(
      table(
        ['codec', 'encode ops/s', 'decode ops/s', 'bytes per op'],
        [row('BlazeBinary (batches of 100)', ''), row('msgpackr, records', 'msgpackr_records.'), row('JSON (+ base64)', 'json.')],
      ),
    );
    lines.push('');
    lines.push(
      'W5 is a codec workload: the libraries above do not expose an op encoding to compare, so the codecs are (bench/codec.bench.ts, same run).',
    );
    lines.push('');
  }
  const failed = results.rows.filter((r) => r.error);
  if (failed.length > 0) {
    lines.push('## Could not run here');
    lines.push('');
    for (const r of failed) lines.push(`- ${r.workload} ${lib(r)}: ${r.error}`);
    lines.push('');
  }
  lines.push('## Charts');
  lines.push('');
  for (const file of chartFiles) lines.push(`![${file}](${file})`, '');
  return lines.join('\n');
}

/** Writes the markdown and the charts next to the results file; returns what it wrote. */
export function writeReport(results: Results, resultsPath: string): string[] {
  const dir = dirname(resultsPath);
  const charts = renderCharts(results);
  for (const [file, svg] of Object.entries(charts)) writeFileSync(join(dir, file), svg);
  const md = join(dir, `${basename(resultsPath, '.json')}.md`);
  writeFileSync(md, renderMarkdown(results, Object.keys(charts)));
  return [md, ...Object.keys(charts).map((f) => join(dir, f))];
}

if (import.meta.main) {
  const path = process.argv[2] ?? 'docs/comparison.json';
  const { readFileSync } = await import('node:fs');
  const written = writeReport(JSON.parse(readFileSync(path, 'utf8')) as Results, path);
  console.log(`wrote ${written.join(', ')}`);
}
