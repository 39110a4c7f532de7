/**
 * GC is what bounds the op log: the scaled year (20 users x 30 days, daily syncs) with GC on
 * keeps every log far below what was written, with every invariant (GC safety included) held;
 * the same run with GC off grows with the writes, linearly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadScenario } from '../../simulations/sim/load.ts';
import { runScenario } from '../../simulations/sim/run.ts';

describe('GC bounds the op log', () => {
  it('should keep the scaled year bounded with GC, and growing linearly without', () => {
    const scenario = loadScenario('year-scaled');
    const on = runScenario(scenario, 7);
    const off = runScenario({ ...scenario, gc: { ...scenario.gc, enabled: false } }, 7);
    for (const r of [on, off]) {
      assert.deepEqual(r.violations, []);
      assert.ok(r.converged);
    }
    assert.equal(on.opsWritten, off.opsWritten, 'the same workload');
    const last = (r: typeof on) => Math.max(...Object.values(r.samples.at(-1)?.logSize ?? {}));
    // Without GC every full replica keeps every op; growth is linear in the writes.
    assert.ok(last(off) >= 0.95 * off.opsWritten, `GC off: ${last(off)} of ${off.opsWritten}`);
    const middle = off.samples[Math.floor(off.samples.length / 2)];
    const half = Math.max(...Object.values(middle?.logSize ?? {}));
    assert.ok(Math.abs(half / last(off) - 0.5) < 0.1, `GC off at half time: ${half} of ${last(off)}`);
    // With GC the logs end a fraction of that, and never grow near it.
    assert.ok(last(on) < 0.25 * on.opsWritten, `GC on: ${last(on)} of ${on.opsWritten} at the end`);
    assert.ok(on.maxLogSize < 0.5 * off.maxLogSize, `GC on peaked at ${on.maxLogSize}, off at ${off.maxLogSize}`);
  });
});
