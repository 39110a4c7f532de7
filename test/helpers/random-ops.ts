/**
 * Random multi-replica histories for merge tests: replicas write random ops of every kind on a
 * few shared records while receiving each other's ops in random order.
 */
import fc from 'fast-check';
import type { Op } from '../../src/ops/op.ts';
import type { Replica } from '../../src/replica/index.ts';
import type { Value } from '../../src/values/value.ts';
import { makeReplica, node, type TestReplica } from './replicas.ts';

export const RECORDS = ['r1', 'r2', 'r3'];
export const FIELDS = ['f', 'g', 'h'];
export const ELEMENTS: Value[] = ['x', 'y', 3, { k: [1] }];

export type Step =
  | { kind: 'write'; who: number; what: number; record: number; field: number; n: number }
  | { kind: 'deliver'; who: number; pick: number }
  | { kind: 'tick'; who: number; delta: number };

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        kind: fc.constant('write' as const),
        who: fc.nat(4),
        what: fc.nat(9),
        record: fc.nat(2),
        field: fc.nat(2),
        n: fc.integer({ min: -5, max: 9 }),
      },
      { noNullPrototype: true },
    ),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), who: fc.nat(4), pick: fc.nat() }, { noNullPrototype: true }) },
  {
    weight: 1,
    arbitrary: fc.record(
      { kind: fc.constant('tick' as const), who: fc.nat(4), delta: fc.integer({ min: -50, max: 50 }) },
      { noNullPrototype: true },
    ),
  },
);

/** One random local write; returns the op, or nothing when the replica refused it. */
export function write(r: Replica, step: Extract<Step, { kind: 'write' }>): Op | undefined {
  const id = RECORDS[step.record] as string;
  const field = FIELDS[step.field] as string;
  const element = ELEMENTS[Math.abs(step.n) % ELEMENTS.length] as Value;
  switch (step.what) {
    case 0:
      return r.insert('c', id, { [field]: step.n, other: `v${step.n}` });
    case 1:
    case 2:
      return r.update('c', id, { [field]: step.n });
    case 3:
      return r.delete('c', id);
    case 4:
      return r.increment('c', id, field, step.n);
    case 5:
      return r.addToSet('c', id, field, element);
    case 6:
      return r.removeFromSet('c', id, field, element);
    case 7:
      return r.resolve('c', id, field, `mv${step.n}`);
    case 8:
      return r.unset('c', id, field);
    default:
      return r.insert('c', id, {});
  }
}

/** Runs `steps` on `n` fresh replicas; returns them and every op written, in order. */
export function runSteps(n: number, steps: Step[]): { replicas: TestReplica[]; log: Op[] } {
  const replicas: TestReplica[] = Array.from({ length: n }, (_, i) => makeReplica(node('abcde'[i] as string), 1_800_000_000_000 + i * 3));
  const log: Op[] = [];
  for (const step of steps) {
    const t = replicas[step.who % n] as TestReplica;
    if (step.kind === 'tick') t.wall.time += step.delta;
    else if (step.kind === 'deliver' && log.length > 0) t.replica.apply(log[step.pick % log.length] as Op);
    else if (step.kind === 'write') {
      const op = write(t.replica, step);
      if (op) log.push(op);
    }
  }
  return { replicas, log };
}
