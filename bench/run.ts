/**
 * `npm run bench` — runs every benchmark and prints a table.
 *   --json            one JSON object per line: {"name", "value", "unit"}
 *   --filter PREFIX   only the figures whose name starts with PREFIX
 */
import { parseArgs } from 'node:util';
import { codecBenchmark } from './codec.bench.ts';
import { gcBenchmark, snapshotBenchmark } from './gc.bench.ts';
import type { Benchmark, Figure } from './harness.ts';
import { meshBenchmark } from './mesh.bench.ts';
import { relayBenchmark } from './relay.bench.ts';
import { replicaBenchmark } from './replica.bench.ts';
import { rulesBenchmark } from './rules.bench.ts';
import { simBenchmark } from './sim.bench.ts';
import { storeBenchmark } from './store.bench.ts';
import { syncBenchmark } from './sync.bench.ts';

const BENCHMARKS: Benchmark[] = [
  codecBenchmark,
  replicaBenchmark,
  storeBenchmark,
  syncBenchmark,
  meshBenchmark,
  relayBenchmark,
  rulesBenchmark,
  simBenchmark,
  gcBenchmark,
  snapshotBenchmark,
];

function usage(message: string): never {
  console.error(`bench: ${message}\nusage: npm run bench -- [--json] [--filter PREFIX]`);
  process.exit(2);
}

let args: { json?: boolean; filter?: string };
try {
  args = parseArgs({ options: { json: { type: 'boolean' }, filter: { type: 'string' } }, strict: true }).values;
} catch (err) {
  usage((err as Error).message);
}
const filter = args.filter ?? '';
// A benchmark runs when its figures could match the filter (either prefix contains the other).
const selected = BENCHMARKS.filter((b) => b.prefix.startsWith(filter) || filter.startsWith(b.prefix));
if (selected.length === 0) usage(`no benchmark matches --filter ${filter}`);

const figures: Figure[] = [];
for (const benchmark of selected) {
  if (!args.json) process.stderr.write(`running ${benchmark.prefix}* ...\n`);
  for (const figure of await benchmark.run(filter)) {
    if (!figure.name.startsWith(filter)) continue;
    figures.push(figure);
    if (args.json) console.log(JSON.stringify(figure));
  }
}

if (!args.json) {
  const width = Math.max(...figures.map((f) => f.name.length));
  console.log(`${'name'.padEnd(width)}  ${'value'.padStart(14)}  unit`);
  for (const f of figures) console.log(`${f.name.padEnd(width)}  ${f.value.toLocaleString('en-US').padStart(14)}  ${f.unit}`);
  console.log(`\nnode ${process.version}, ${process.platform} ${process.arch}`);
}
