/**
 * `npm run bench:compare`: BlazeDB beside Yjs, Automerge, PouchDB and OrbitDB on the standard
 * workloads (../shared/bench/WORKLOADS.md), every library on the same seeded data, each replica
 * in its own process, the bytes counted on the socket. Rounds run every library once, so the
 * ratios to BlazeDB pair runs of the same round. Writes docs/comparison.json, then the report
 * (docs/comparison.md and its charts, report.ts).
 *
 *   npm run bench:compare                                  # everything (~30 min)
 *   npm run bench:compare -- --runs 1 --scale 0.1          # a quick look
 *   npm run bench:compare -- --libs blazedb,yjs --workloads W2
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { codecBenchmark } from '../codec.bench.ts';
import { LIBRARIES, type LibraryName } from './libs/index.ts';
import { writeReport } from './report.ts';
import type { Results, Row } from './results.ts';
import { type Measured, w1, w2, w3 } from './workloads.ts';

/** Sizes per library: the anchors' own speed bounds what finishes in minutes (the report says so). */
// W1 runs at two sizes (w1Small too) so the chart shows how sync time grows with records.
const SIZES: Record<LibraryName, { w1Small: number; w1: number; w2Records: number; w2: number; w3: number }> = {
  blazedb: { w1Small: 1_000, w1: 10_000, w2Records: 10_000, w2: 100_000, w3: 10_000 },
  yjs: { w1Small: 1_000, w1: 10_000, w2Records: 10_000, w2: 100_000, w3: 10_000 },
  automerge: { w1Small: 1_000, w1: 10_000, w2Records: 10_000, w2: 5_000, w3: 10_000 },
  pouchdb: { w1Small: 1_000, w1: 10_000, w2Records: 10_000, w2: 10_000, w3: 10_000 },
  orbitdb: { w1Small: 100, w1: 1_000, w2Records: 1_000, w2: 500, w3: 500 },
};
const W3_RECORDS = 1_000;
const BIG = 1_000_000;
const PACKAGES: Record<LibraryName, string> = {
  blazedb: '../../package.json',
  yjs: 'yjs',
  automerge: '@automerge/automerge',
  pouchdb: 'pouchdb-core',
  orbitdb: '@orbitdb/core',
};

const USAGE = 'usage: bench:compare [--runs N] [--scale F] [--libs a,b] [--workloads W1,W2,W3,W5] [--big] [--out FILE]';

function bad(what: string): never {
  console.error(`bench:compare: ${what}\n${USAGE}`);
  process.exit(2);
}

function readArgs() {
  try {
    return parseArgs({
      options: {
        runs: { type: 'string', default: '3' },
        scale: { type: 'string', default: '1' },
        libs: { type: 'string', default: LIBRARIES.join(',') },
        workloads: { type: 'string', default: 'W1,W2,W3,W5' },
        big: { type: 'boolean', default: false },
        out: { type: 'string', default: 'docs/comparison.json' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    return bad((err as Error).message);
  }
}

function parse() {
  const values = readArgs();
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const runs = Number(values.runs);
  const scale = Number(values.scale);
  const libs = values.libs.split(',') as LibraryName[];
  const workloads = values.workloads.split(',');
  if (!Number.isInteger(runs) || runs < 1 || runs > 15) bad('--runs takes an integer from 1 to 15');
  if (!(scale > 0 && scale <= 1)) bad('--scale takes a number in (0, 1]');
  for (const l of libs) if (!LIBRARIES.includes(l)) bad(`unknown library ${l} (${LIBRARIES.join(', ')})`);
  for (const w of workloads) if (!['W1', 'W2', 'W3', 'W5'].includes(w)) bad(`unknown workload ${w}`);
  return { runs, scale, libs, workloads, big: values.big, out: values.out };
}

function version(library: LibraryName): string {
  const spec = PACKAGES[library];
  const path = spec.startsWith('.') ? new URL(spec, import.meta.url) : new URL(`../../node_modules/${spec}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(path, 'utf8')).version as string;
}

function machine(): Results['machine'] {
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en') : n.toPrecision(3));

async function main(): Promise<void> {
  const options = parse();
  const rows = new Map<string, Row>();
  const row = (workload: string, library: LibraryName, sizes: Record<string, number>): Row => {
    const key = `${workload}/${library}`;
    let r = rows.get(key);
    if (!r) {
      r = { workload, library, sizes, figures: {}, converged: [] };
      rows.set(key, r);
    }
    return r;
  };
  const record = (r: Row, m: Measured) => {
    for (const [name, value] of Object.entries(m.figures)) r.figures[name] = [...(r.figures[name] ?? []), value];
    r.converged.push(m.converged);
    if (m.samples && !r.samples) {
      r.samples = m.samples;
      r.historyUnit = m.historyUnit;
    }
  };
  const scaled = (n: number) => Math.max(50, Math.round(n * options.scale));
  const plan: { workload: string; library: LibraryName; run: () => Promise<Measured>; sizes: Record<string, number> }[] = [];
  for (const library of options.libs) {
    const s = SIZES[library];
    if (options.workloads.includes('W1')) {
      plan.push({ workload: 'W1-small', library, sizes: { records: scaled(s.w1Small) }, run: () => w1(library, scaled(s.w1Small)) });
      plan.push({ workload: 'W1', library, sizes: { records: scaled(s.w1) }, run: () => w1(library, scaled(s.w1)) });
    }
    if (options.workloads.includes('W2')) {
      const sizes = { records: scaled(s.w2Records), updates: scaled(s.w2) };
      plan.push({ workload: 'W2', library, sizes, run: () => w2(library, sizes.records, sizes.updates, 10) });
    }
    if (options.workloads.includes('W3')) {
      const sizes = { records: scaled(W3_RECORDS), edits: scaled(s.w3) };
      plan.push({ workload: 'W3', library, sizes, run: () => w3(library, sizes.records, sizes.edits) });
    }
  }
  const total = plan.length * options.runs;
  let done = 0;
  for (let round = 0; round < options.runs; round++) {
    for (const step of plan) {
      const r = row(step.workload, step.library, step.sizes);
      if (r.error) continue;
      const label = `[${++done}/${total}] ${step.workload} ${step.library} run ${round + 1}/${options.runs}`;
      process.stderr.write(`${label} ...\n`);
      try {
        const m = await step.run();
        record(r, m);
        const shown = Object.entries(m.figures).map(([k, v]) => `${k} ${fmt(v)}`);
        process.stderr.write(`${label}: ${shown.join(', ')}${m.converged ? '' : ' (NOT CONVERGED)'}\n`);
      } catch (err) {
        r.error = (err as Error).message.split('\n')[0] as string;
        process.stderr.write(`${label}: failed: ${r.error}\n`);
      }
    }
  }
  if (options.big && options.libs.includes('blazedb') && options.workloads.includes('W1')) {
    process.stderr.write(`W1 blazedb ${BIG.toLocaleString('en')} records (one run) ...\n`);
    const r = row('W1-1M', 'blazedb', { records: BIG });
    try {
      record(r, await w1('blazedb', BIG));
      process.stderr.write(`W1 1M: sync_s ${fmt(r.figures.sync_s?.[0] ?? Number.NaN)}\n`);
    } catch (err) {
      r.error = (err as Error).message.split('\n')[0] as string;
    }
  }
  let codec: Results['codec'];
  if (options.workloads.includes('W5')) {
    process.stderr.write('W5 codecs ...\n');
    codec = (await codecBenchmark.run()).filter((f) => /(encode|decode)_ops_per_s$|w5_bytes_per_op$/.test(f.name));
  }
  const results: Results = {
    generated: new Date().toISOString(),
    machine: machine(),
    runs: options.runs,
    scale: options.scale,
    versions: Object.fromEntries(options.libs.map((l) => [l, version(l)])),
    rows: [...rows.values()],
    ...(codec ? { codec } : {}),
  };
  writeFileSync(options.out, `${JSON.stringify(results, null, 1)}\n`);
  const written = writeReport(results, options.out);
  process.stderr.write(`wrote ${options.out} and ${written.join(', ')}\n`);
}

await main();
