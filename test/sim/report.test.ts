/**
 * The simulation report's charts, rendered in a real headless Chromium: every chart lays out,
 * with its series drawn and the fault bands on the timeline.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadScenario } from '../../simulations/sim/load.ts';
import { renderReport } from '../../simulations/sim/report.ts';
import { runScenario } from '../../simulations/sim/run.ts';
import { summarize } from '../../simulations/sim/summary.ts';
import { evaluateInChromium, findChromium } from '../helpers/chromium.ts';
import { tempDir } from '../helpers/db.ts';

const chromium = findChromium();
const reason = 'no Chromium installed here (.ci/run installs Debian’s chromium; CI=1 makes its absence a failure)';

describe('simulation report in a browser', () => {
  it('should draw every chart with its series and fault bands', { skip: !chromium && !process.env.CI ? reason : false }, async () => {
    assert.ok(chromium, 'CI needs Chromium to check the charts');
    const scenario = loadScenario('smoke');
    const runs = [runScenario(scenario, 3), runScenario(scenario, 4)];
    const dir = tempDir();
    try {
      const file = join(dir.path, 'report.html');
      writeFileSync(
        file,
        renderReport(summarize(scenario, runs), runs, (r) => `blaze-sim run smoke --seed ${r.seed}`),
      );
      const seen = (await evaluateInChromium(
        chromium,
        `file://${file}`,
        `[...document.querySelectorAll('svg.chart')].map((svg) => ({
          width: svg.getBoundingClientRect().width,
          height: svg.getBoundingClientRect().height,
          series: [...svg.querySelectorAll('path.series')].map((p) => p.getTotalLength()),
          bands: svg.querySelectorAll('rect.fault').length,
        }))`,
      )) as { width: number; height: number; series: number[]; bands: number }[];
      assert.equal(seen.length, 3, 'three charts');
      for (const chart of seen) {
        assert.ok(chart.width > 300 && chart.height > 100, `laid out: ${chart.width}x${chart.height}`);
        assert.ok(chart.series.length > 0 && chart.series.every((len) => len > 50), `series drawn: ${chart.series}`);
        assert.ok(chart.bands >= 1, 'faults on the timeline');
      }
    } finally {
      dir.cleanup();
    }
  });
});
