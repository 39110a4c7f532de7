/**
 * The harness itself: it catches a planted bug and names a replayable seed, it refuses bad
 * scenario files with a typed error, and the blaze-sim CLI runs, summarizes and reports.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadScenario } from '../../simulations/sim/load.ts';
import type { SimNode } from '../../simulations/sim/node.ts';
import { runScenario } from '../../simulations/sim/run.ts';
import { parseScenario, ScenarioError } from '../../simulations/sim/scenario.ts';
import type { SyncItem } from '../../src/db/engine.ts';
import { tempDir } from '../helpers/db.ts';

const CLI = new URL('../../simulations/cli.ts', import.meta.url).pathname;

/** A replica that drops one counter increment it receives but counts its dot: a lost op. */
function plantSkippedOp(node: SimNode): void {
  if (node.id !== 'p2') return;
  const engine = node.db.engine;
  const apply = engine.applySync.bind(engine);
  let planted = false;
  engine.applySync = (items: readonly SyncItem[], source?: unknown) => {
    const changed = items.map((item) => {
      if (planted || item.kind !== 'ops') return item;
      const at = item.ops.findIndex((op) => op.kind === 'update' && op.fields.some((f) => f.type === 'inc' && f.delta !== 0));
      if (at < 0) return item;
      planted = true;
      const ops = [...item.ops];
      const op = ops[at] as (typeof ops)[number];
      ops[at] = { ...op, fields: op.fields.filter((f) => f.type !== 'inc') };
      return { ...item, ops };
    });
    apply(changed, source);
  };
}

/** A replica that ignores every verdict (VOID) it receives: refused writes stay applied there. */
function plantIgnoredVoids(node: SimNode): void {
  if (node.id !== 'p1') return;
  const engine = node.db.engine;
  const apply = engine.applySync.bind(engine);
  engine.applySync = (items, source, judge) =>
    apply(
      items.filter((item) => item.kind !== 'void'),
      source,
      judge,
    );
}

describe('simulation harness', () => {
  it("should catch a replica that ignores the relay's verdicts on refused writes", () => {
    const scenario = loadScenario('write-rules');
    const r = runScenario(scenario, 1, { tamper: plantIgnoredVoids });
    const v = r.violations[0];
    assert.ok(v && ['void', 'model', 'convergence'].includes(v.invariant), v?.invariant);
    assert.deepEqual(runScenario(scenario, 1).violations, [], 'without the bug the seed passes');
  });

  it('should catch a replica that skips an op, and replay the failure from its seed', () => {
    const scenario = loadScenario('smoke');
    let caught: ReturnType<typeof runScenario> | undefined;
    for (let seed = 1; seed <= 5 && !caught; seed++) {
      const r = runScenario(scenario, seed, { tamper: plantSkippedOp });
      if (r.violations.length > 0) caught = r;
    }
    assert.ok(caught, 'the planted bug was caught');
    const v = caught.violations[0];
    assert.ok(v && ['model', 'convergence'].includes(v.invariant), v?.invariant);
    assert.ok((v?.lastEvents.length ?? 0) > 0, 'the last events come with it');
    const again = runScenario(scenario, caught.seed, { tamper: plantSkippedOp });
    assert.equal(again.traceHash, caught.traceHash);
    assert.deepEqual(
      again.violations.map((x) => x.detail),
      caught.violations.map((x) => x.detail),
    );
    // Without the bug, the same seed passes.
    assert.deepEqual(runScenario(scenario, caught.seed).violations, []);
  });

  it('should refuse bad scenario files with a ScenarioError naming the part', () => {
    const good = JSON.parse(readFileSync(new URL('../../simulations/scenarios/smoke.json', import.meta.url), 'utf8'));
    const bad: [unknown, RegExp][] = [
      [null, /scenario/],
      [{ ...good, peers: 0 }, /peers/],
      [{ ...good, peers: 2.5 }, /peers/],
      [{ ...good, name: '' }, /name/],
      [{ ...good, links: { lan: { loss: 2 } } }, /links\.lan\.loss/],
      [{ ...good, faults: [{ at: 1, kind: 'meteor' }] }, /faults\[0\]\.kind/],
      [{ ...good, faults: [{ at: 1, kind: 'skew', skewMs: 2 * 86_400_000 }] }, /skewMs/],
      [{ ...good, randomFaults: { count: 1, kinds: ['nope'] } }, /randomFaults\.kinds/],
      [{ ...good, relays: 0, lanSegments: 2 }, /only on one LAN/],
      [{ ...good, fualts: [] }, /fualts: unknown key/],
      [{ ...good, links: { lan: { latency: 3 } } }, /links\.lan\.latency: unknown key/],
      [{ ...good, faults: [{ at: 1, kind: 'heal' }] }, /faults\[0\]\.kind/],
      [{ ...good, faults: [{ at: 19_000, kind: 'crash', nodes: ['p1'], forMs: 5000 }] }, /inside the active phase/],
      [{ ...good, randomFaults: { count: 1, kinds: [] } }, /at least one kind/],
      [{ ...good, partial: { count: 2, filters: [{ collections: { items: { where: { n: { $near: 1 } } } } }] } }, /partial\.filters\[0\]/],
      [{ ...good, partial: { count: 2, filter: { collections: {} }, filters: [] } }, /give filter, or filters/],
      [{ ...good, writeRules: { refusePercent: 101 } }, /writeRules\.refusePercent/],
      [{ ...good, partial: { count: 1, filter: 42 } }, /partial\.filter/],
    ];
    for (const [input, message] of bad) {
      assert.throws(
        () => parseScenario(input),
        (err: Error) => err instanceof ScenarioError && message.test(err.message),
        JSON.stringify(input).slice(0, 120),
      );
    }
    // A fault naming a node the run does not have is refused when the run starts.
    const typo = parseScenario({ ...good, faults: [{ at: 1, kind: 'crash', nodes: ['P0'] }] });
    assert.throws(() => runScenario(typo, 1), /names 'P0'/);
  });

  it('should run from the CLI: progress, a summary table, an HTML report, typed exits', () => {
    const dir = tempDir();
    try {
      const report = join(dir.path, 'report.html');
      const r = spawnSync(process.execPath, [CLI, 'run', 'smoke', '--runs', '2', '--seed', '5', '--report', report], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /runs with a violation\s+0/);
      assert.match(r.stdout, /convergence after heal, p99\s+\d+ ms/);
      assert.match(r.stderr, /2\/2 runs, 0 failed/);
      assert.ok(existsSync(report));
      assert.match(readFileSync(report, 'utf8'), /<svg class="chart"/);
      const json = spawnSync(process.execPath, [CLI, 'run', 'smoke', '--runs', '1', '--report', report, '--json'], { encoding: 'utf8' });
      assert.equal(JSON.parse(json.stdout).summary.runs, 1);
      const badFile = join(dir.path, 'bad.json');
      writeFileSync(badFile, '{"name":"x","peers":-1}');
      for (const args of [['run', badFile], ['run', 'no-such-scenario'], ['frob'], ['run', 'smoke', '--runs', 'x']]) {
        const bad = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
        assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
        assert.equal(bad.stderr.trim().split('\n').length, 1);
      }
    } finally {
      dir.cleanup();
    }
  });
});
