/**
 * Voids (ops a relay rejected): a void dot is counted, never applied, and removed with its
 * effects where it was applied, whatever the order in which ops and verdicts arrive.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Doc, SyncItem, VoidChange } from '../../src/db/engine.ts';
import { VoidSet } from '../../src/db/voids.ts';
import { dotKey, type Op } from '../../src/ops/op.ts';
import { KINDS, openTestDb } from '../helpers/db.ts';
import { checkProperty } from '../helpers/property.ts';
import { RECORDS, runSteps, stepArb } from '../helpers/random-ops.ts';
import { makeReplica, node } from '../helpers/replicas.ts';

/** What a replica shows when it applies only the ops that are not void. */
function expectedDocs(log: readonly Op[], voided: ReadonlySet<string>): Map<string, Doc | undefined> {
  const { replica } = makeReplica(node('f'));
  for (const op of log) if (!voided.has(dotKey(op.node, op.seq))) replica.apply(op);
  return new Map(RECORDS.map((id) => [id, replica.recordState('c', id)?.view()]));
}

describe('voids', () => {
  it('should end with the state of the ops that are not void, for any delivery order and any verdict timing', async () => {
    await checkProperty(
      'voids converge',
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 1, maxLength: 40 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.array(fc.nat(), { minLength: 80, maxLength: 80 }),
        fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }),
        fc.boolean(),
        async (steps, voidPicks, order, breaks, judged) => {
          const { log } = runSteps(3, steps);
          fc.pre(log.length > 0);
          const voided = new Set(log.filter((_, i) => voidPicks[i % voidPicks.length]).map((op) => dotKey(op.node, op.seq)));
          // Ops, in a shuffled order, with each verdict somewhere among them; or judged here as
          // they come (a relay), by a judge that refuses the same ops.
          const items: ({ op: Op } | { void: Op })[] = log.map((op) => ({ op }));
          if (!judged) for (const op of log) if (voided.has(dotKey(op.node, op.seq))) items.push({ void: op });
          const judge = judged ? (op: Op) => !voided.has(dotKey(op.node, op.seq)) : undefined;
          const shuffled = items
            .map((item, i) => ({ item, key: order[i % order.length] as number }))
            .sort((a, b) => a.key - b.key)
            .map((x) => x.item);
          await using t = await openTestDb('memory');
          const engine = t.db.engine;
          // Applied in random batches: a verdict may share a transaction with ops of its record.
          let batch: SyncItem[] = [];
          for (const [i, item] of shuffled.entries()) {
            if ('op' in item) batch.push({ kind: 'ops', ops: [item.op] });
            else batch.push({ kind: 'void', node: item.void.node, from: item.void.seq, to: item.void.seq });
            if (breaks[i % breaks.length]) {
              engine.applySync(batch, undefined, judge);
              batch = [];
            }
          }
          engine.applySync(batch, undefined, judge);
          for (const [id, doc] of expectedDocs(log, voided)) assert.deepEqual(engine.readDoc('c', id), doc, `record ${id}`);
          for (const op of log) {
            const stored = engine.storage.getOp(op.node, op.seq) !== undefined;
            assert.equal(stored, !voided.has(dotKey(op.node, op.seq)), `op ${op.node}:${op.seq} stored`);
            assert.ok(engine.replica.version.has(op.node, op.seq));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  for (const kind of KINDS) {
    it(`should never apply a void op sent again, and keep its verdicts across a reopen (${kind})`, async () => {
      await using t = await openTestDb(kind);
      const { replica: author } = makeReplica(node('a'));
      const insert = author.insert('bugs', 'b1', { title: 'ok' });
      const bad = author.update('bugs', 'b1', { title: 'forbidden' });
      const good = author.increment('bugs', 'b1', 'n', 5);
      const engine = t.db.engine;
      const seen: VoidChange[] = [];
      engine.onVoid((change) => seen.push(change));
      engine.applySync([{ kind: 'ops', ops: [insert, bad, good] }]);
      assert.equal(engine.readDoc('bugs', 'b1')?.title, 'forbidden');
      engine.applySync([{ kind: 'void', node: bad.node, from: bad.seq, to: bad.seq }], 'relay');
      assert.deepEqual(engine.readDoc('bugs', 'b1'), { title: 'ok', n: 5 });
      assert.equal(seen.length, 1);
      assert.deepEqual(seen[0]?.ranges, [{ node: bad.node, from: bad.seq, to: bad.seq }]);
      assert.deepEqual(
        seen[0]?.removed.map((op) => op.seq),
        [bad.seq],
      );
      assert.equal(seen[0]?.source, 'relay');
      // A peer that never heard of the verdict sends it again: nothing changes.
      engine.applySync([{ kind: 'ops', ops: [bad] }]);
      engine.applySync([{ kind: 'void', node: bad.node, from: bad.seq, to: bad.seq }]);
      assert.deepEqual(engine.readDoc('bugs', 'b1'), { title: 'ok', n: 5 });
      assert.equal(seen.length, 1, 'a verdict already known is not announced again');
      assert.deepEqual(engine.voidRanges(), [{ node: bad.node, from: bad.seq, to: bad.seq }]);
      if (kind === 'sqlite') {
        const path = t.path as string;
        await t.db.close();
        const { BlazeDB } = await import('../../src/db/index.ts');
        const again = await BlazeDB.open({ path });
        try {
          assert.ok(again.engine.isVoid(bad.node, bad.seq));
          again.engine.applySync([{ kind: 'ops', ops: [bad] }]);
          assert.deepEqual(again.engine.readDoc('bugs', 'b1'), { title: 'ok', n: 5 });
        } finally {
          await again.close();
        }
      }
    });
  }

  it('should keep void ranges merged and tell which part of a range is new, at any length', () => {
    const set = new VoidSet();
    const a = node('a');
    assert.deepEqual(set.add(a, 5, 9), [{ from: 5, to: 9 }]);
    assert.deepEqual(set.add(a, 20, 2 ** 50), [{ from: 20, to: 2 ** 50 }], 'a huge range costs no more than a short one');
    assert.deepEqual(set.add(a, 1, 30), [
      { from: 1, to: 4 },
      { from: 10, to: 19 },
    ]);
    assert.deepEqual(set.add(a, 7, 8), []);
    assert.deepEqual(set.ranges(), [{ node: a, from: 1, to: 2 ** 50 }]);
    assert.equal(set.rangeAt(a, 12)?.to, 2 ** 50);
    assert.equal(set.has(node('b'), 1), false);
  });

  it('should not announce an op made void later in the same write', async () => {
    await using t = await openTestDb('memory');
    const { replica: a } = makeReplica(node('a'));
    const { replica: b } = makeReplica(node('b'));
    const earlier = a.insert('bugs', 'y', { n: 1 });
    const x = b.insert('bugs', 'x', { n: 2 });
    const engine = t.db.engine;
    engine.applySync([{ kind: 'ops', ops: [earlier] }]);
    const announced: string[] = [];
    engine.onOps((ops) => announced.push(...ops.map((op) => `${op.node}:${op.seq}`)));
    // Voiding a logged op flushes the write so far (x with it); then x is voided too.
    engine.applySync([
      { kind: 'ops', ops: [x] },
      { kind: 'void', node: earlier.node, from: earlier.seq, to: earlier.seq },
      { kind: 'void', node: x.node, from: x.seq, to: x.seq },
    ]);
    assert.deepEqual(announced, []);
    assert.deepEqual(engine.opsAfter(x.node, 0, 10), []);
    assert.equal(engine.readDoc('bugs', 'x'), undefined);
  });

  it('should ask for a record whole when a void leaves one a partial replica showed from its own writes only', async () => {
    await using t = await openTestDb('memory');
    await t.db.setSyncFilter({ collections: { bugs: { where: { team: 'red' } } } });
    const engine = t.db.engine;
    const { replica: a } = makeReplica(node('a'));
    const theirs = a.insert('bugs', 'x', { team: 'red', title: 'theirs' });
    engine.applySync([{ kind: 'record', collection: 'bugs', id: 'x', ops: [theirs], last: true, complete: true }]);
    engine.applySync([{ kind: 'gone', collection: 'bugs', id: 'x' }]);
    assert.equal(engine.readDoc('bugs', 'x'), undefined, 'dropped: it left the filter at a server');
    // The app inserts the same id again: shown from its own write only, until a server says.
    const mine = engine.write(() => engine.local(engine.replica.insert('bugs', 'x', { team: 'red', title: 'mine' })));
    assert.deepEqual(engine.incompleteRecords(), [{ collection: 'bugs', id: 'x' }]);
    const needed: string[] = [];
    engine.onMembership((change) => needed.push(...change.needed.map((r) => r.id)));
    // The relay refuses it: what is left of x here is a stale copy, asked for whole.
    engine.applySync([{ kind: 'void', node: mine.node, from: mine.seq, to: mine.seq }]);
    assert.deepEqual(needed, ['x']);
  });

  it('should count a void dot it never had the op of, with a gap before it', async () => {
    await using t = await openTestDb('memory');
    const { replica: author } = makeReplica(node('a'));
    const ops = [1, 2, 3, 4].map((n) => author.insert('bugs', `b${n}`, { n }));
    const engine = t.db.engine;
    engine.applySync([{ kind: 'ops', ops: [ops[0] as Op] }]);
    engine.applySync([{ kind: 'void', node: node('a'), from: 3, to: 3 }]);
    assert.equal(engine.replica.version.get(node('a')), 1);
    engine.applySync([{ kind: 'ops', ops: [ops[1] as Op] }]);
    assert.equal(engine.replica.version.get(node('a')), 3, 'the gap filled up to the void');
    engine.applySync([{ kind: 'ops', ops: [ops[2] as Op, ops[3] as Op] }]);
    assert.equal(engine.readDoc('bugs', 'b3'), undefined);
    assert.deepEqual(engine.readDoc('bugs', 'b4'), { n: 4 });
  });

  it('should turn ops a judge refuses into voids, judged on the record without and with them', async () => {
    await using t = await openTestDb('memory');
    const { replica: author } = makeReplica(node('a'));
    const insert = author.insert('bugs', 'b1', { owner: 'ann' });
    const steal = author.update('bugs', 'b1', { owner: 'bob' });
    const bump = author.increment('bugs', 'b1', 'n', 1);
    const engine = t.db.engine;
    const judged: [Doc | undefined, Doc | undefined][] = [];
    const seen: VoidChange[] = [];
    engine.onVoid((change) => seen.push(change));
    // Only records owned by ann may be written, before and after.
    engine.applySync([{ kind: 'ops', ops: [insert, steal, bump] }], undefined, (_op, before, after) => {
      judged.push([before, after]);
      return (before === undefined || before.owner === 'ann') && (after === undefined || after.owner === 'ann');
    });
    assert.deepEqual(judged, [
      [undefined, { owner: 'ann' }],
      [{ owner: 'ann' }, { owner: 'bob' }],
      [{ owner: 'ann' }, { owner: 'ann', n: 1 }],
    ]);
    assert.deepEqual(engine.readDoc('bugs', 'b1'), { owner: 'ann', n: 1 });
    assert.ok(engine.isVoid(steal.node, steal.seq));
    assert.equal(engine.storage.getOp(steal.node, steal.seq), undefined);
    assert.equal(engine.replica.version.get(node('a')), 3);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]?.removed, [], 'a judged op was never applied');
  });
});
