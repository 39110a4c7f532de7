import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ClockSkewEvent, type HlcTime, HybridClock } from '../../src/clock/hlc.ts';
import { checkProperty } from '../helpers/property.ts';

/** A wall clock the test moves by hand. */
function manualClock(start: number) {
  const clock = { time: start, now: () => clock.time };
  return clock;
}

const after = (a: HlcTime, b: HlcTime) => a.wall > b.wall || (a.wall === b.wall && a.counter > b.counter);

describe('HybridClock', () => {
  it('should follow the wall clock when it advances', () => {
    const wall = manualClock(1000);
    const clock = new HybridClock({ wallClock: wall });
    assert.deepEqual(clock.now(), { wall: 1000, counter: 0 });
    wall.time = 1005;
    assert.deepEqual(clock.now(), { wall: 1005, counter: 0 });
  });

  it('should stamp whole milliseconds from a wall clock with fractions (stamps are integers on the wire)', () => {
    const wall = manualClock(1000.75);
    const clock = new HybridClock({ wallClock: wall });
    assert.deepEqual(clock.now(), { wall: 1000, counter: 0 });
    wall.time = 1000.9;
    assert.deepEqual(clock.now(), { wall: 1000, counter: 1 });
    clock.observe({ wall: 999, counter: 0 });
    assert.ok(Number.isInteger(clock.now().wall));
  });

  it('should stay monotonic when the wall clock stalls or jumps backwards', () => {
    const wall = manualClock(1000);
    const clock = new HybridClock({ wallClock: wall });
    const a = clock.now();
    const b = clock.now(); // stalled
    wall.time = 400; // jumped back
    const c = clock.now();
    assert.ok(after(b, a) && after(c, b));
    assert.deepEqual(c, { wall: 1000, counter: 2 });
  });

  it('should order local stamps after an observed remote stamp', () => {
    const wall = manualClock(1000);
    const clock = new HybridClock({ wallClock: wall });
    clock.observe({ wall: 1500, counter: 7 });
    const next = clock.now();
    assert.ok(after(next, { wall: 1500, counter: 7 }));
  });

  it('should not follow a far-future stamp beyond the drift bound, and report it', () => {
    const wall = manualClock(1_000_000);
    const events: ClockSkewEvent[] = [];
    const clock = new HybridClock({ wallClock: wall, maxDriftMs: 60_000, onSkew: (e) => events.push(e) });
    const dayAhead = 1_000_000 + 24 * 3600_000;
    clock.observe({ wall: dayAhead, counter: 0 }, 'peer-a');
    const next = clock.now();
    assert.ok(next.wall <= 1_000_000 + 60_000, `clock followed to ${next.wall}`);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.from, 'peer-a');
    assert.equal(events[0]?.aheadByMs, 24 * 3600_000);
  });

  it('should resume from the last stamp after a restart', () => {
    const wall = manualClock(10);
    const clock = new HybridClock({ wallClock: wall, last: { wall: 5000, counter: 3 } });
    assert.ok(after(clock.now(), { wall: 5000, counter: 3 }));
  });

  it('should issue strictly increasing stamps under any mix of wall moves and observations', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('wall' as const), delta: fc.integer({ min: -3600_000, max: 3600_000 }) }),
      fc.record({ kind: fc.constant('observe' as const), delta: fc.integer({ min: -86_400_000, max: 86_400_000 }), counter: fc.nat(5) }),
      fc.record({ kind: fc.constant('now' as const) }),
    );
    checkProperty(
      'hlc monotonic',
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const wall = manualClock(1_800_000_000_000);
        const clock = new HybridClock({ wallClock: wall, maxDriftMs: 300_000 });
        let last = clock.now();
        for (const s of steps) {
          if (s.kind === 'wall') wall.time += s.delta;
          else if (s.kind === 'observe') clock.observe({ wall: wall.time + s.delta, counter: s.counter });
          const next = clock.now();
          assert.ok(after(next, last), 'stamp did not increase');
          assert.ok(next.wall <= Math.max(last.wall, wall.time + 300_000), 'clock ran past the drift bound');
          last = next;
        }
      }),
      { numRuns: 300 },
    );
  });
});
