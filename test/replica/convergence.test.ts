/**
 * The convergence property: 2 to 5 replicas write random ops (every field kind, deletes
 * included, concurrent first ops of different types on one field) on shared records while
 * receiving each other's ops in random order, with duplicates and out of order per origin.
 * After everyone has everything, all replicas are equal to each other and to a reference model
 * computed straight from the op set, and counters equal the exact sum of their increments.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareStamps, type Stamp } from '../../src/clock/stamp.ts';
import { valueKey } from '../../src/codec/value-key.ts';
import type { FieldOp, Op } from '../../src/ops/op.ts';
import type { Replica } from '../../src/replica/index.ts';
import type { Value } from '../../src/values/value.ts';
import { checkProperty } from '../helpers/property.ts';
import { RECORDS, runSteps, stepArb } from '../helpers/random-ops.ts';
import type { TestReplica } from '../helpers/replicas.ts';

// ---- reference model: the state defined directly by the set of ops ----

interface Tagged {
  op: Op;
  f: FieldOp;
  index: number;
}

const newer = (a: Tagged, b: Tagged) => compareStamps(a.op, b.op) || a.index - b.index;
const afterTomb = (s: Stamp, tomb: Stamp | undefined) => tomb === undefined || compareStamps(s, tomb) > 0;
const observedOf = (f: FieldOp) => ('observed' in f ? f.observed : []);
const fieldValue = (f: FieldOp): Value => ('value' in f ? f.value : null);
const dotIn = (op: Op, dots: readonly { node: string; seq: number }[]) => dots.some((d) => d.node === op.node && d.seq === op.seq);

function modelRecord(ops: Op[]): { doc: Record<string, Value> | undefined; conflicts: Record<string, Value[]> } {
  const maxOf = (kind: string) =>
    ops.filter((o) => o.kind === kind).reduce<Op | undefined>((m, o) => (m && compareStamps(m, o) > 0 ? m : o), undefined);
  const tomb = maxOf('delete');
  const insert = maxOf('insert');
  if (!insert || !afterTomb(insert, tomb)) return { doc: undefined, conflicts: {} };
  const doc: Record<string, Value> = {};
  const conflicts: Record<string, Value[]> = {};
  const byField = new Map<string, Tagged[]>();
  for (const op of ops) {
    op.fields.forEach((f, index) => {
      byField.set(f.field, [...(byField.get(f.field) ?? []), { op, f, index }]);
    });
  }
  for (const [field, all] of byField) {
    const latest = [...all].sort(newer).at(-1) as Tagged;
    if (!afterTomb(latest.op, tomb)) continue;
    const t = latest.f.type;
    if (t === 'unset') {
    } else if (t === 'set') {
      doc[field] = fieldValue(latest.f);
    } else if (t === 'inc') {
      doc[field] = all.filter((x) => x.f.type === 'inc' && afterTomb(x.op, tomb)).reduce((s, x) => s + ('delta' in x.f ? x.f.delta : 0), 0);
    } else if (t === 'mvset') {
      const writes = all.filter((x) => x.f.type === 'mvset');
      const live = writes
        .filter((w) => !writes.some((o) => dotIn(w.op, observedOf(o.f))))
        .filter((w) => afterTomb(w.op, tomb))
        .sort(newer)
        .reverse();
      if (live.length === 0) continue;
      doc[field] = fieldValue((live[0] as Tagged).f);
      if (live.length > 1) conflicts[field] = live.map((w) => fieldValue(w.f));
    } else {
      const removes = all.filter((x) => x.f.type === 'remove');
      const present = new Map<string, Value>();
      for (const add of all.filter((x) => x.f.type === 'add')) {
        const value = fieldValue(add.f);
        const key = valueKey(value);
        const removed = removes.some((r) => valueKey(fieldValue(r.f)) === key && dotIn(add.op, observedOf(r.f)));
        if (!removed && afterTomb(add.op, tomb)) present.set(key, value);
      }
      doc[field] = [...present.keys()].sort().map((k) => present.get(k) as Value);
    }
  }
  return { doc, conflicts };
}

function replicaRecord(r: Replica, id: string) {
  const conflicts: Record<string, Value[]> = {};
  for (const c of r.conflicts('c', id)) conflicts[c.field] = [...c.values];
  return { doc: r.get('c', id), conflicts };
}

describe('replica convergence', () => {
  it('should converge to the op-set model for any delivery order with duplicates', () => {
    checkProperty(
      'replica convergence',
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        fc.array(stepArb, { minLength: 20, maxLength: 150, size: 'max' }),
        fc.nat(),
        (n, steps, finalSeed) => {
          const { replicas, log } = runSteps(n, steps);
          // Everyone gets everything: a seeded shuffle of the log, every op twice.
          let seed = finalSeed;
          for (const t of replicas) {
            const order = [...log, ...log];
            for (let i = order.length - 1; i > 0; i--) {
              seed = (seed * 1103515245 + 12345) % 2147483648;
              const j = seed % (i + 1);
              [order[i], order[j]] = [order[j] as Op, order[i] as Op];
            }
            for (const op of order) t.replica.apply(op);
            assert.equal(t.replica.version.hasGaps(), false);
          }
          const first = (replicas[0] as TestReplica).replica;
          for (const id of RECORDS) {
            const model = modelRecord(log.filter((o) => o.collection === 'c' && o.record === id));
            for (const t of replicas) assert.deepStrictEqual(replicaRecord(t.replica, id), model, `record ${id} differs from the model`);
          }
          for (const t of replicas) assert.deepEqual(t.replica.version.entries(), first.version.entries());
        },
      ),
      { numRuns: 300 },
    );
  });
});
