/**
 * The comparison benchmark (bench/compare/): its measurements check convergence and counters
 * for real (small sizes, real processes), its report pairs runs by round and judges targets
 * from the figures, and its charts draw in a real headless Chromium.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digest, w1Records, w3Edits } from '../../bench/compare/data.ts';
import { pairedRatio, renderChartsPage, renderMarkdown } from '../../bench/compare/report.ts';
import type { Results } from '../../bench/compare/results.ts';
import { w1, w3 } from '../../bench/compare/workloads.ts';
import { evaluateInChromium, findChromium } from '../helpers/chromium.ts';
import { tempDir } from '../helpers/db.ts';

const chromium = findChromium();
const reason = 'no Chromium installed here (.ci/run installs Debian’s chromium; CI=1 makes its absence a failure)';

const samples = (history: number[], heap: number[]) => history.map((h, i) => ({ updates: i * 100, heapMB: heap[i] as number, history: h }));

/** Two rounds of three libraries; one library failed W3. */
function fixture(): Results {
  return {
    generated: '2026-12-03T00:00:00.000Z',
    machine: { cpus: 2, model: 'test cpu', memoryGiB: 24, node: 'v24', platform: 'linux x64' },
    runs: 2,
    scale: 1,
    versions: { blazedb: '0.1.0', yjs: '13.6.33', pouchdb: '9.0.0' },
    rows: [
      {
        workload: 'W1-small',
        library: 'blazedb',
        sizes: { records: 100 },
        figures: { create_s: [0.01, 0.01], sync_s: [0.05, 0.05], bytes_per_record: [150, 150] },
        converged: [true, true],
      },
      {
        workload: 'W1-small',
        library: 'yjs',
        sizes: { records: 100 },
        figures: { create_s: [0.01, 0.01], sync_s: [0.04, 0.04], bytes_per_record: [400, 400] },
        converged: [true, true],
      },
      {
        workload: 'W1-small',
        library: 'pouchdb',
        sizes: { records: 10 },
        figures: { create_s: [0.01, 0.01], sync_s: [0.5, 0.5], bytes_per_record: [600, 600] },
        converged: [true, true],
      },
      {
        workload: 'W1',
        library: 'blazedb',
        sizes: { records: 1000 },
        figures: { create_s: [0.1, 0.1], sync_s: [0.2, 0.4], bytes_per_record: [150, 150] },
        converged: [true, true],
      },
      {
        workload: 'W1',
        library: 'yjs',
        sizes: { records: 1000 },
        figures: { create_s: [0.1, 0.1], sync_s: [0.3, 0.4], bytes_per_record: [400, 400] },
        converged: [true, true],
      },
      {
        workload: 'W1',
        library: 'pouchdb',
        sizes: { records: 100 },
        figures: { create_s: [0.1, 0.1], sync_s: [1, 2], bytes_per_record: [600, 600] },
        converged: [true, false],
      },
      {
        workload: 'W2',
        library: 'blazedb',
        sizes: { records: 1000, updates: 300 },
        figures: { updates_per_s: [30_000, 60_000], bytes_per_update: [7, 7] },
        converged: [true, true],
        samples: samples([1000, 400, 800, 900, 0], [30, 35, 34, 36, 29]),
        historyUnit: 'ops in the log',
      },
      {
        workload: 'W2',
        library: 'yjs',
        sizes: { records: 1000, updates: 300 },
        figures: { updates_per_s: [20_000, 10_000], bytes_per_update: [35, 35] },
        converged: [true, true],
        samples: samples([5000, 6000, 7000, 8000, 8000], [30, 32, 34, 36, 36]),
        historyUnit: 'bytes',
      },
      {
        workload: 'W3',
        library: 'blazedb',
        sizes: { records: 100, edits: 1000 },
        figures: { merge_s: [0.1, 0.1], bytes_per_edit: [8, 8], increments_lost: [0, 0], increments: [400, 400] },
        converged: [true, true],
      },
      {
        workload: 'W3',
        library: 'pouchdb',
        sizes: { records: 100, edits: 1000 },
        figures: {},
        converged: [],
        error: 'could not load express-pouchdb',
      },
    ],
  };
}

describe('comparison benchmark', () => {
  it('should pair ratios run by run, not median against median', () => {
    // Round 1: 30k vs 20k = 1.5x; round 2: 60k vs 10k = 6x. Medians alone would say 45k/15k = 3x.
    assert.equal(
      pairedRatio([30_000, 60_000], [20_000, 10_000], (b, o) => b / o),
      3.75,
    );
    assert.equal(
      pairedRatio([1, 2, 3], [1], (b, o) => b / o),
      1,
      'only the rounds both ran',
    );
    assert.equal(
      pairedRatio(undefined, [1], (b, o) => b / o),
      undefined,
    );
  });

  it('should judge the targets from the figures and say why a library could not run', () => {
    const md = renderMarkdown(fixture(), ['comparison-throughput.svg']);
    assert.match(md, /W2 throughput >= 3x the best anchor \(Yjs\) \| 3\.75x \| met/);
    assert.match(md, /W2 bytes per update <= the best anchor's \(Yjs, 35\) \| 7 \| met/);
    assert.match(md, /W1 initial sync time <= the best anchor's \(Yjs, 0\.35 s\) \| 0\.3 s \| met/);
    assert.match(md, /W1 1M records < 10 s \| not run/);
    assert.match(
      md,
      /W4 history and memory flat once acknowledged \| 1,000 -> 0 ops in the log; heap 35 MB after the first tenth, 29 MB settled \| met/,
    );
    assert.match(md, /PouchDB 9\.0\.0 \| 100 \| .* \| \*\*no\*\* in 1 of 2 runs/);
    assert.match(md, /W3 PouchDB 9\.0\.0: could not load express-pouchdb/);
    // W1 per record: PouchDB took 1.5 s for 100 records, BlazeDB 0.3 s for 1,000: 50x per record.
    assert.match(md, /PouchDB 9\.0\.0 \| 100 \| 0\.1 \| 1\.5 \(1-2\) \| 600 \| 50x/);
  });

  it('should refuse bad command-line arguments with one line and exit 2, running nothing', () => {
    const run = new URL('../../bench/compare/run.ts', import.meta.url).pathname;
    for (const args of [['--runs', '0'], ['--libs', 'yjs,leveldb'], ['--workloads', 'W9'], ['--scale', 'x'], ['--frobnicate']]) {
      const r = spawnSync(process.execPath, [run, ...args, '--out', '/nonexistent/never-written.json'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.split('\n')[0] as string, /^bench:compare: /, args.join(' '));
    }
  });

  it('should see through a replica that kept every record but one field', () => {
    const records = new Map(w1Records(20, 5).map((r) => [r.id, { ...r.record } as Record<string, unknown>]));
    const before = digest(records);
    const [id] = records.keys();
    (records.get(id as string) as Record<string, unknown>).priority = 11;
    assert.notEqual(digest(records), before);
    assert.deepEqual(w3Edits(50, [...records.keys()], 7), w3Edits(50, [...records.keys()], 7), 'seeded');
  });

  it('should measure BlazeDB and Yjs end to end, and find the increments Yjs loses', { timeout: 120_000 }, async () => {
    const blaze = await w3('blazedb', 30, 300);
    const yjs = await w3('yjs', 30, 300);
    assert.ok(blaze.converged && yjs.converged, 'both converge');
    assert.equal(blaze.figures.increments_lost, 0, 'BlazeDB counters are exact');
    assert.ok(
      (yjs.figures.increments_lost ?? 0) > 0,
      `Yjs has no counter: concurrent increments collide (${yjs.figures.increments_lost} lost)`,
    );
    const initial = await w1('blazedb', 200);
    assert.ok(initial.converged);
    assert.ok((initial.figures.bytes_per_record ?? 0) > 50, 'the bytes of the sync were counted on the socket');
  });

  it('should draw every chart', { skip: !chromium && !process.env.CI ? reason : false }, async () => {
    assert.ok(chromium, 'CI needs Chromium to check the charts');
    const dir = tempDir();
    try {
      const file = join(dir.path, 'charts.html');
      writeFileSync(file, renderChartsPage(fixture()));
      const seen = (await evaluateInChromium(
        chromium,
        `file://${file}`,
        `[...document.querySelectorAll('svg.chart')].map((svg) => ({
          width: svg.getBoundingClientRect().width,
          bars: [...svg.querySelectorAll('rect.bar')].map((r) => r.getBoundingClientRect().width),
          series: [...svg.querySelectorAll('path.series')].map((p) => p.getTotalLength()),
        }))`,
      )) as { width: number; bars: number[]; series: number[] }[];
      assert.equal(seen.length, 4, 'throughput, bytes, initial sync, memory');
      for (const chart of seen) assert.ok(chart.width > 300, `laid out: ${chart.width}`);
      type Chart = (typeof seen)[0];
      const [throughput, bytes, sync, memory] = seen as [Chart, Chart, Chart, Chart];
      assert.equal(throughput.bars.length, 2);
      assert.ok(
        throughput.bars.every((w) => w > 5),
        `bars drawn: ${throughput.bars}`,
      );
      assert.ok((bytes.bars[1] ?? 0) > (bytes.bars[0] ?? 0), 'more bytes, longer bar');
      for (const chart of [sync, memory])
        assert.ok(chart.series.length >= 2 && chart.series.every((len) => len > 20), `lines drawn: ${chart.series}`);
    } finally {
      dir.cleanup();
    }
  });
});
