import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdentityReusedError, StrategyMismatchError, ValidationError } from '../../src/errors.ts';
import { makeReplica, node } from '../helpers/replicas.ts';

const ID = 'bug-1';

function pair() {
  const a = makeReplica(node('a'));
  const b = makeReplica(node('b'));
  return { a, b, A: a.replica, B: b.replica };
}

describe('replica merge', () => {
  it('should apply an op once: a duplicate changes nothing', () => {
    const { A, B } = pair();
    const op = A.insert('bugs', ID, { title: 'Login broken', priority: 5 });
    assert.equal(B.apply(op), true);
    assert.equal(B.apply(op), false);
    assert.deepEqual(B.get('bugs', ID), { title: 'Login broken', priority: 5 });
  });

  it('should keep both of two concurrent updates to different fields', () => {
    const { A, B } = pair();
    const insert = A.insert('bugs', ID, { title: 't', priority: 5, status: 'open' });
    B.apply(insert);
    const fromA = A.update('bugs', ID, { priority: 10 });
    const fromB = B.update('bugs', ID, { status: 'closed' });
    A.apply(fromB);
    B.apply(fromA);
    assert.deepEqual(A.get('bugs', ID), { title: 't', priority: 10, status: 'closed' });
    assert.deepEqual(B.get('bugs', ID), A.get('bugs', ID));
  });

  it('should let the later stamp win a concurrent write to one LWW field, ties by node id', () => {
    const { a, b, A, B } = pair();
    B.apply(A.insert('bugs', ID, { priority: 5 }));
    a.wall.time += 10;
    b.wall.time += 20;
    const early = A.update('bugs', ID, { priority: 10 });
    const late = B.update('bugs', ID, { priority: 7 });
    A.apply(late);
    B.apply(early);
    assert.equal(A.get('bugs', ID)?.priority, 7);
    assert.equal(B.get('bugs', ID)?.priority, 7);
    // Same wall and counter: the higher node id wins.
    b.wall.time = a.wall.time = 1_900_000_000_000;
    const fa = A.update('bugs', ID, { priority: 1 });
    const fb = B.update('bugs', ID, { priority: 2 });
    A.apply(fb);
    B.apply(fa);
    assert.equal(A.get('bugs', ID)?.priority, 2);
    assert.equal(B.get('bugs', ID)?.priority, 2);
  });

  it('should sum concurrent counter increments exactly', () => {
    const { A, B } = pair();
    A.declare('bugs', { viewCount: 'counter' });
    B.apply(A.insert('bugs', ID, { viewCount: 0 }));
    const ops = [
      A.increment('bugs', ID, 'viewCount', 3),
      B.increment('bugs', ID, 'viewCount', 4),
      B.increment('bugs', ID, 'viewCount', -1),
    ];
    for (const op of ops) {
      A.apply(op);
      B.apply(op);
    }
    assert.equal(A.get('bugs', ID)?.viewCount, 6);
    assert.equal(B.get('bugs', ID)?.viewCount, 6);
  });

  it('should sum counters exactly in any order, even past 2^53', () => {
    const { A, B } = pair();
    A.declare('bugs', { n: 'counter' });
    B.apply(A.insert('bugs', ID, { n: 0 }));
    const ops = [A.increment('bugs', ID, 'n', Number.MAX_SAFE_INTEGER), A.increment('bugs', ID, 'n', 1)];
    const mine = [B.increment('bugs', ID, 'n', 1), B.increment('bugs', ID, 'n', -Number.MAX_SAFE_INTEGER)];
    for (const op of mine) A.apply(op);
    for (const op of ops) B.apply(op);
    assert.equal(A.get('bugs', ID)?.n, 2);
    assert.equal(B.get('bugs', ID)?.n, 2);
  });

  it('should keep a concurrent add over a remove in an add-wins set', () => {
    const { A, B } = pair();
    const declare = A.declare('bugs', { tags: 'set' });
    B.apply(declare);
    B.apply(A.insert('bugs', ID, { tags: ['ui', 'login'] }));
    const remove = A.removeFromSet('bugs', ID, 'tags', 'ui');
    const add = B.addToSet('bugs', ID, 'tags', 'ui');
    A.apply(add);
    B.apply(remove);
    assert.deepEqual(A.get('bugs', ID)?.tags, ['login', 'ui']);
    assert.deepEqual(B.get('bugs', ID)?.tags, ['login', 'ui']);
    // A remove that has seen every add removes the element.
    const removeAll = A.removeFromSet('bugs', ID, 'tags', 'ui');
    B.apply(removeAll);
    assert.deepEqual(B.get('bugs', ID)?.tags, ['login']);
  });

  it('should apply a remove that arrives before the add it observed', () => {
    const { A, B } = pair();
    const c = makeReplica(node('c')).replica;
    const ops = [A.declare('bugs', { tags: 'set' }), A.insert('bugs', ID, {})];
    for (const op of ops) B.apply(op);
    const add = B.addToSet('bugs', ID, 'tags', 'x');
    A.apply(add);
    const remove = A.removeFromSet('bugs', ID, 'tags', 'x');
    for (const op of [...ops, remove, add]) c.apply(op); // remove first, then its add
    assert.deepEqual(c.get('bugs', ID)?.tags, []);
    assert.deepEqual(c.get('bugs', ID), A.get('bugs', ID));
  });

  it('should surface concurrent writes to a multi-value field as a conflict until resolved', () => {
    const { A, B } = pair();
    const declare = A.declare('bugs', { assignee: 'mv' });
    B.apply(declare);
    B.apply(A.insert('bugs', ID, { assignee: 'ann' }));
    const fromA = A.update('bugs', ID, { assignee: 'bob' });
    const fromB = B.update('bugs', ID, { assignee: 'cid' });
    A.apply(fromB);
    B.apply(fromA);
    const conflicts = A.conflicts('bugs', ID);
    assert.equal(conflicts.length, 1);
    assert.equal(conflicts[0]?.field, 'assignee');
    assert.deepEqual([...(conflicts[0]?.values ?? [])].sort(), ['bob', 'cid']);
    assert.deepEqual(B.conflicts('bugs', ID), conflicts);
    assert.equal(A.get('bugs', ID)?.assignee, conflicts[0]?.values[0]);
    const resolve = B.resolve('bugs', ID, 'assignee', 'dee');
    A.apply(resolve);
    assert.deepEqual(A.conflicts('bugs', ID), []);
    assert.equal(A.get('bugs', ID)?.assignee, 'dee');
  });

  it('should let a delete win over the updates stamped before it', () => {
    const { a, A, B } = pair();
    B.apply(A.insert('bugs', ID, { priority: 1 }));
    const update = B.update('bugs', ID, { priority: 2 }); // concurrent with the delete...
    a.wall.time += 1000;
    const del = A.delete('bugs', ID); // ...but stamped after it
    A.apply(update);
    B.apply(del);
    assert.equal(A.get('bugs', ID), undefined);
    assert.equal(B.get('bugs', ID), undefined);
  });

  it('should not resurrect a deleted record by an update, even one stamped after the delete', () => {
    const { b, A, B } = pair();
    B.apply(A.insert('bugs', ID, { priority: 1 }));
    const del = A.delete('bugs', ID);
    b.wall.time += 1000;
    const update = B.update('bugs', ID, { priority: 9 }); // has not seen the delete
    A.apply(update);
    B.apply(del);
    assert.equal(A.get('bugs', ID), undefined);
    assert.equal(B.get('bugs', ID), undefined);
  });

  it('should bring a record back by an insert after its delete, with only later fields', () => {
    const { A, B } = pair();
    const ops = [A.insert('bugs', ID, { title: 'old', priority: 1 }), A.delete('bugs', ID), A.insert('bugs', ID, { title: 'new' })];
    for (const op of [...ops].reverse()) B.apply(op);
    assert.deepEqual(A.get('bugs', ID), { title: 'new' });
    assert.deepEqual(B.get('bugs', ID), { title: 'new' });
  });

  it('should show the type of the latest op when concurrent ops of different types hit one field', () => {
    const { a, b, A, B } = pair();
    B.apply(A.insert('bugs', ID, {}));
    a.wall.time += 5;
    b.wall.time += 10;
    const inc = A.increment('bugs', ID, 'score', 5);
    const set = B.update('bugs', ID, { score: 'high' });
    A.apply(set);
    B.apply(inc);
    assert.equal(A.get('bugs', ID)?.score, 'high');
    assert.equal(B.get('bugs', ID)?.score, 'high');
    a.wall.time += 100;
    const inc2 = A.increment('bugs', ID, 'score', 1);
    B.apply(inc2);
    // The counter kept its increments: it shows 5 + 1 now that an increment is latest.
    assert.equal(A.get('bugs', ID)?.score, 6);
    assert.equal(B.get('bugs', ID)?.score, 6);
  });

  it('should replicate strategy declarations and refuse ops of another type locally', () => {
    const { A, B } = pair();
    B.apply(A.declare('bugs', { viewCount: 'counter' }));
    assert.equal(B.strategyOf('bugs', 'viewCount'), 'counter');
    B.apply(A.insert('bugs', ID, { viewCount: 1 }));
    assert.throws(() => B.update('bugs', ID, { viewCount: 5 }), StrategyMismatchError);
    assert.throws(() => B.addToSet('bugs', ID, 'viewCount', 1), StrategyMismatchError);
    assert.throws(() => A.declare('bugs', { x: 'fancy' as never }), ValidationError);
  });

  it('should refuse invalid writes without issuing an op', () => {
    const { A } = pair();
    const before = A.lastSeq;
    assert.throws(() => A.insert('bugs', ID, { bad: undefined as never }), ValidationError);
    assert.throws(() => A.insert('', ID, {}), ValidationError);
    assert.throws(() => A.update('bugs', ID, {}), ValidationError);
    assert.throws(() => A.increment('bugs', ID, 'n', 1.5), ValidationError);
    assert.equal(A.lastSeq, before);
    assert.equal(A.version.get(A.nodeId), before);
  });

  it('should stop writing under an id another replica used beyond this store (restore or clone)', () => {
    const original = makeReplica(node('a')).replica;
    const ops = [original.insert('bugs', ID, { n: 1 }), original.update('bugs', ID, { n: 2 })];
    const restored = makeReplica(node('a')).replica; // backup from before those writes
    restored.apply(ops[0]!);
    restored.apply(ops[1]!);
    assert.equal(restored.identityReused, true);
    assert.throws(() => restored.update('bugs', ID, { n: 3 }), IdentityReusedError);
    restored.adoptIdentity(node('d'));
    const op = restored.update('bugs', ID, { n: 3 });
    assert.equal(op.node, node('d'));
    assert.equal(op.seq, 1);
    // Learning it from a peer's version vector works the same.
    const clone = makeReplica(node('e')).replica;
    clone.noteRemoteSeq(node('e'), 5);
    assert.throws(() => clone.insert('bugs', 'x', {}), IdentityReusedError);
  });
});
