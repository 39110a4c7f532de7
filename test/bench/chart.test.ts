import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/db.ts';

const CHART = new URL('../../bench/chart.ts', import.meta.url).pathname;

describe('benchmark chart', () => {
  it('should draw one bar per figure it knows, scaled within its group, with targets marked', () => {
    const dir = tempDir();
    try {
      const input = join(dir.path, 'run.jsonl');
      const output = join(dir.path, 'chart.svg');
      const figures = [
        { name: 'codec.encode_ops_per_s', value: 2_000_000, unit: 'ops/s' },
        { name: 'codec.json.encode_ops_per_s', value: 1_000_000, unit: 'ops/s' },
        { name: 'sync.ops_per_s', value: 50_000, unit: 'ops/s' },
      ];
      writeFileSync(input, `running...\n${figures.map((f) => JSON.stringify(f)).join('\n')}\n`);
      const r = spawnSync(process.execPath, [CHART, input, output], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const svg = readFileSync(output, 'utf8');
      assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      const widths = [...svg.matchAll(/<rect x="\d+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
      assert.equal(widths.length, 3);
      assert.equal(widths[0], 2 * (widths[1] as number)); // 2M vs 1M on one scale
      assert.match(svg, /50% \(50k\)/); // half of the 100k target
      assert.match(svg, /stroke-dasharray/);
      const bad = spawnSync(process.execPath, [CHART, join(dir.path, 'missing.jsonl'), output], { encoding: 'utf8' });
      assert.notEqual(bad.status, 0);
    } finally {
      dir.cleanup();
    }
  });
});
