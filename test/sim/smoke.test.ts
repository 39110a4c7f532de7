/**
 * The simulator's bounded smoke (issue: network simulation harness): 230 seeds across the
 * scenarios (20 of them with write rules at the relay: refused writes become voids; 10 with every
 * device a partial replica, whose writes reach the relay through others as signed runs), each with at least 5 nodes, 500 ops and a partition, every fault kind in at least
 * 10% of them; every invariant holds in every run, and 10 seeds run twice give the same trace.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadScenario } from '../../simulations/sim/load.ts';
import { type RunResult, runScenario } from '../../simulations/sim/run.ts';
import { FAULT_KINDS } from '../../simulations/sim/scenario.ts';

const PLAN: [string, number][] = [
  ['smoke', 170],
  ['relay-outage', 10],
  ['split-brain', 10],
  ['laptop-offline-week', 10],
  ['write-rules', 20],
  ['rules-lan', 10],
];

function replay(name: string, seed: number) {
  return `node simulations/cli.ts run ${name} --seed ${seed} --runs 1`;
}

describe('simulation smoke', () => {
  it('should keep every invariant over 230 seeds of every scenario, with every fault kind exercised', () => {
    const results: RunResult[] = [];
    for (const [name, seeds] of PLAN) {
      const scenario = loadScenario(name);
      for (let seed = 1; seed <= seeds; seed++) {
        const r = runScenario(scenario, seed);
        results.push(r);
        const v = r.violations[0];
        assert.equal(v, undefined, v && `${v.invariant}: ${v.detail}\n  replay: ${replay(name, seed)}\n  ${v.lastEvents.join('\n  ')}`);
        assert.ok(r.converged);
        assert.ok(r.opsWritten >= 500, `${name} seed ${seed}: ${r.opsWritten} ops`);
        assert.ok(
          r.faults.some((f) => f.kind === 'partition'),
          `${name} seed ${seed} has a partition`,
        );
      }
    }
    assert.equal(results.length, 230);
    for (const kind of FAULT_KINDS) {
      const share = results.filter((r) => r.faults.some((f) => f.kind === kind)).length / results.length;
      assert.ok(share >= 0.1, `${kind} in ${(share * 100).toFixed(0)}% of seeds`);
    }
  });

  it('should give the same trace for the same seed, byte for byte', () => {
    const scenario = loadScenario('smoke');
    for (let seed = 1000; seed < 1010; seed++) {
      const a = runScenario(scenario, seed);
      const b = runScenario(scenario, seed);
      assert.equal(a.traceHash, b.traceHash, `seed ${seed}`);
      assert.deepEqual(a.samples, b.samples);
    }
    assert.notEqual(runScenario(scenario, 1).traceHash, runScenario(scenario, 2).traceHash);
  });
});
