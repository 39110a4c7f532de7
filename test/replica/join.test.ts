/**
 * joinRecordState: merging another replica's record state gives the state of a replica that
 * applied both replicas' ops. Random histories of every field kind (lww set/unset, mv writes
 * observing earlier ones, counters, set add/remove, inserts, deletes) are split between two
 * replicas, which each apply a per-origin prefix of every origin's ops in a shuffled order (so
 * writes often arrive before what they observed, and suppressions are common); the join must
 * equal a fresh replica that applied the union, state and all, whichever side merges.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareStamps, type Stamp } from '../../src/clock/stamp.ts';
import { valueKey } from '../../src/codec/value-key.ts';
import type { Op } from '../../src/ops/op.ts';
import type { SeenDot } from '../../src/replica/field-state.ts';
import { encodeRecordState, joinRecordState, RecordState, type Replica } from '../../src/replica/index.ts';
import { checkProperty } from '../helpers/property.ts';
import { RECORDS, runSteps, stepArb } from '../helpers/random-ops.ts';
import { makeReplica, node, type TestReplica } from '../helpers/replicas.ts';

const byStamp = (a: Stamp, b: Stamp) => compareStamps(a, b);
const stampOf = (s: Stamp | undefined) => s && { wall: s.wall, counter: s.counter, node: s.node };

/**
 * A record state as plain data, independent of the order ops arrived in: arrays sorted, and an
 * empty set map or suppressed set (what some delivery orders leave behind) the same as none.
 */
function normalized(state: RecordState | undefined) {
  const s = state ?? new RecordState();
  const fields = [...s.fields].sort(([x], [y]) => (x < y ? -1 : 1));
  return {
    insert: stampOf(s.insert),
    tombstone: stampOf(s.tombstone),
    fields: fields.map(([name, f]) => ({
      name,
      latest: stampOf(f.latest),
      strategy: f.latestStrategy,
      lww: f.lww,
      mv: f.mv && [...f.mv].sort(byStamp),
      counter: f.counter && [...f.counter].sort(byStamp),
      set: f.set?.size
        ? [...f.set].sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, e]) => [k, e.value, [...e.tags].sort(byStamp)])
        : undefined,
      suppressed: f.suppressed?.size ? [...f.suppressed].sort() : undefined,
    })),
  };
}

/** What the record shows: its document, and its conflicts by field. */
function shown(state: RecordState) {
  return { doc: state.view(), conflicts: Object.fromEntries(state.conflicts().map((c) => [c.field, c.values])) };
}

function assertSameRecord(actual: RecordState, expected: RecordState | undefined, message: string) {
  assert.deepStrictEqual(shown(actual), shown(expected ?? new RecordState()), message);
  assert.deepStrictEqual(normalized(actual), normalized(expected), message);
}

const stateOf = (r: Replica, id: string) => r.recordState('c', id) ?? new RecordState();
const seenBy =
  (r: Replica): SeenDot =>
  (n, seq) =>
    r.version.has(n, seq);

/** A seeded shuffle (the same linear congruential generator as the convergence test). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** A fresh replica that applied `ops` (in a shuffled order: the state does not depend on it). */
function applied(ops: readonly Op[], seed: number): Replica {
  const r = makeReplica(node('z')).replica;
  for (const op of shuffled(ops, seed)) r.apply(op);
  return r;
}

/** Every origin's first `cuts[i] % (count + 1)` ops: a version-vector-shaped subset of `log`. */
function prefixes(log: readonly Op[], cuts: readonly number[]): Op[] {
  const origins = [...new Set(log.map((op) => op.node))].sort();
  return origins.flatMap((origin, i) => {
    const own = log.filter((op) => op.node === origin).sort((x, y) => x.seq - y.seq);
    return own.slice(0, (cuts[i] ?? 0) % (own.length + 1));
  });
}

/**
 * Checks, for every record, that the join of A and B equals the replica that applied the union
 * in both argument orders, that join is idempotent, that joining in what the join already holds
 * changes nothing, and that the inputs are left as they were.
 */
function checkJoin(A: Replica, B: Replica, union: Replica) {
  for (const id of RECORDS) {
    const a = stateOf(A, id);
    const b = stateOf(B, id);
    const aBytes = encodeRecordState(a);
    const bBytes = encodeRecordState(b);
    const ab = joinRecordState(a, seenBy(A), b, seenBy(B));
    const ba = joinRecordState(b, seenBy(B), a, seenBy(A));
    assertSameRecord(ab, union.recordState('c', id), `join(A, B) of ${id} differs from the union`);
    assertSameRecord(ba, union.recordState('c', id), `join(B, A) of ${id} differs from the union`);
    assertSameRecord(joinRecordState(a, seenBy(A), a, seenBy(A)), a, `join(A, A) of ${id} differs from A`);
    assertSameRecord(joinRecordState(ab, seenBy(union), a, seenBy(A)), ab, `joining A again into join(A, B) of ${id} changed it`);
    assert.deepStrictEqual(encodeRecordState(a), aBytes, 'join changed its first input');
    assert.deepStrictEqual(encodeRecordState(b), bBytes, 'join changed its second input');
  }
}

const cutsArb = fc.array(fc.nat(), { minLength: 5, maxLength: 5 });

/**
 * Suppressions need a write and the value it observed to land on different sides, rare when
 * writes spread over every record and field: half the histories write one record, two fields,
 * two set elements, mostly mv writes and set adds and removes.
 */
const FOCUSED_WRITES = [0, 1, 3, 4, 5, 5, 6, 6, 7, 7];
const focusedStepArb = stepArb.map((s) =>
  s.kind === 'write' ? { ...s, record: 0, field: s.field % 2, what: FOCUSED_WRITES[s.what] as number, n: s.n % 2 } : s,
);
const historyArb = fc.oneof(
  fc.array(stepArb, { minLength: 20, maxLength: 150, size: 'max' }),
  fc.array(focusedStepArb, { minLength: 20, maxLength: 150, size: 'max' }),
);

describe('record state join', () => {
  it('should equal applying both op sets, for replicas holding per-origin prefixes of a history', () => {
    checkProperty(
      'join of prefixes',
      fc.property(fc.integer({ min: 2, max: 5 }), historyArb, cutsArb, cutsArb, fc.nat(), (n, steps, cutsA, cutsB, seed) => {
        const { log } = runSteps(n, steps);
        const opsA = prefixes(log, cutsA);
        const opsB = prefixes(log, cutsB);
        const A = applied(opsA, seed);
        const B = applied(opsB, seed + 1);
        checkJoin(A, B, applied([...new Set([...opsA, ...opsB])], seed + 2));
      }),
      { numRuns: 500 },
    );
  });

  it('should equal applying both op sets, for replicas that received ops in any order, with gaps', () => {
    checkProperty(
      'join of live replicas',
      fc.property(fc.integer({ min: 2, max: 5 }), historyArb, (n, steps) => {
        const { replicas, log } = runSteps(n, steps);
        const [A, B] = replicas.map((t) => t.replica) as [Replica, Replica];
        checkJoin(
          A,
          B,
          applied(
            log.filter((op) => A.version.has(op.node, op.seq) || B.version.has(op.node, op.seq)),
            n,
          ),
        );
        // Folding in every replica one by one gives the replica that has everything.
        const everything = applied(log, n + 1);
        for (const id of RECORDS) {
          let joined = new RecordState();
          const seen: SeenDot[] = [];
          for (const t of replicas) {
            const before = [...seen];
            joined = joinRecordState(joined, (node, seq) => before.some((s) => s(node, seq)), stateOf(t.replica, id), seenBy(t.replica));
            seen.push(seenBy(t.replica));
          }
          assertSameRecord(joined, everything.recordState('c', id), `the join of every replica's ${id} differs`);
        }
      }),
      { numRuns: 300 },
    );
  });

  // ---- hand-written cases: A and B (and C) with two-replica histories ----

  const ID = 'r1';
  const trio = () => {
    const [a, b, c] = ['a', 'b', 'c'].map((l, i) => makeReplica(node(l), 1_800_000_000_000 + i)) as [TestReplica, TestReplica, TestReplica];
    return { a, b, A: a.replica, B: b.replica, C: c.replica };
  };
  const join = (X: Replica, Y: Replica) => joinRecordState(stateOf(X, ID), seenBy(X), stateOf(Y, ID), seenBy(Y));
  const stateIn = (X: Replica) => stateOf(X, ID);

  it('should count an increment both sides hold once', () => {
    const { A, B } = trio();
    B.apply(A.insert('c', ID, {}));
    B.apply(A.increment('c', ID, 'n', 5));
    B.increment('c', ID, 'n', 3);
    A.increment('c', ID, 'n', 2);
    assert.deepStrictEqual(join(A, B).view(), { n: 10 });
    assert.deepStrictEqual(join(B, A).view(), { n: 10 });
    assert.equal(join(A, B).fields.get('n')?.counter?.length, 3);
  });

  it('should drop an mv value that a write on the other side overwrote', () => {
    const { A, B } = trio();
    B.apply(A.insert('c', ID, {}));
    B.apply(A.resolve('c', ID, 'm', 'a'));
    B.resolve('c', ID, 'm', 'b');
    // A still holds 'a'; B has applied it and replaced it.
    assert.deepStrictEqual(stateIn(A).view(), { m: 'a' });
    for (const joined of [join(A, B), join(B, A)]) {
      assert.deepStrictEqual(joined.view(), { m: 'b' });
      assert.deepStrictEqual(joined.conflicts(), []);
    }
  });

  it('should drop an mv value the other side suppressed (it saw the overwrite before the value), and forget the suppression', () => {
    const { A, B, C } = trio();
    const insert = A.insert('c', ID, {});
    const first = A.resolve('c', ID, 'm', 'a');
    C.apply(insert);
    C.apply(first);
    const overwrite = C.resolve('c', ID, 'm', 'c');
    B.apply(insert);
    B.apply(overwrite); // observed A's value, which B has not received
    assert.deepStrictEqual(stateIn(B).fields.get('m')?.suppressed, new Set([`${node('a')}:2`]));
    for (const joined of [join(A, B), join(B, A)]) {
      assert.deepStrictEqual(joined.view(), { m: 'c' });
      assert.deepStrictEqual(joined.conflicts(), []);
      assert.equal(joined.fields.get('m')?.suppressed, undefined);
    }
    // Against a side that has not seen the overwrite either, the suppression stays.
    const fresh = makeReplica(node('d')).replica;
    const kept = joinRecordState(stateIn(B), seenBy(B), stateOf(fresh, ID), seenBy(fresh));
    assert.deepStrictEqual(kept.fields.get('m')?.suppressed, new Set([`${node('a')}:2`]));
  });

  it('should keep concurrent mv values as a conflict', () => {
    const { a, A, B } = trio();
    B.apply(A.insert('c', ID, {}));
    a.wall.time += 10;
    A.resolve('c', ID, 'm', 'a');
    B.resolve('c', ID, 'm', 'b');
    const values = (joined: RecordState) => (joined.fields.get('m')?.mv ?? []).map((e) => e.value).sort();
    assert.deepStrictEqual(join(A, B).conflicts(), [{ field: 'm', values: ['a', 'b'] }]);
    assert.deepStrictEqual(values(join(B, A)), ['a', 'b']);
  });

  it('should keep an element a concurrent add put back after a remove (add wins)', () => {
    const { A, B } = trio();
    B.apply(A.insert('c', ID, {}));
    B.apply(A.addToSet('c', ID, 's', 'x'));
    B.removeFromSet('c', ID, 's', 'x');
    A.addToSet('c', ID, 's', 'x'); // not observed by B's remove
    A.addToSet('c', ID, 's', 'y');
    for (const joined of [join(A, B), join(B, A)]) {
      assert.deepStrictEqual(joined.view(), { s: ['x', 'y'] });
      assert.equal(joined.fields.get('s')?.elementDots(valueKey('x')).length, 1);
    }
    // Without the concurrent add the remove wins.
    const { A: A2, B: B2 } = trio();
    B2.apply(A2.insert('c', ID, {}));
    B2.apply(A2.addToSet('c', ID, 's', 'x'));
    B2.removeFromSet('c', ID, 's', 'x');
    assert.deepStrictEqual(join(A2, B2).view(), { s: [] });
    assert.deepStrictEqual(join(B2, A2).view(), { s: [] });
  });

  it('should drop a set tag the other side suppressed (it saw the remove before the add)', () => {
    const { A, B, C } = trio();
    const insert = A.insert('c', ID, {});
    const add = A.addToSet('c', ID, 's', 'x');
    A.addToSet('c', ID, 's', 'y');
    C.apply(insert);
    C.apply(add);
    const remove = C.removeFromSet('c', ID, 's', 'x');
    B.apply(insert);
    B.apply(remove); // observed A's add of 'x', which B has not received
    assert.deepStrictEqual(stateIn(B).fields.get('s')?.suppressed, new Set([`${valueKey('x')}|${node('a')}:2`]));
    for (const joined of [join(A, B), join(B, A)]) {
      assert.deepStrictEqual(joined.view(), { s: ['y'] });
      assert.equal(joined.fields.get('s')?.suppressed, undefined);
    }
  });

  it("should hide fields written before the other side's delete, and show only later ones after a reinsert", () => {
    const { a, b, A, B } = trio();
    B.apply(A.insert('c', ID, { title: 'old', priority: 1 }));
    A.update('c', ID, { priority: 2 });
    A.increment('c', ID, 'n', 4);
    b.wall.time += 50;
    B.delete('c', ID);
    assert.equal(join(A, B).view(), undefined);
    assert.equal(join(B, A).view(), undefined);
    B.insert('c', ID, { title: 'new' });
    a.wall.time += 100;
    A.increment('c', ID, 'n', 1); // after the delete: it counts alone
    assert.deepStrictEqual(join(A, B).view(), { title: 'new', n: 1 });
    assert.deepStrictEqual(join(B, A).view(), { title: 'new', n: 1 });
  });
});
