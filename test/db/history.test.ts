import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpNotFoundError } from '../../src/db/index.ts';
import { ValidationError } from '../../src/errors.ts';
import { KINDS, openTestDb } from '../helpers/db.ts';

for (const kind of KINDS) {
  describe(`history, time travel and undo (${kind})`, () => {
    it('should list the ops that made a record with old and new values', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      const id = await bugs.insert({ title: 'Login broken', priority: 5 });
      t.wall.time += 1000;
      await bugs.update(id, { priority: 10 });
      t.wall.time += 1000;
      await bugs.delete(id);
      const h = t.db.history('bugs', id);
      assert.deepEqual(
        h.map((e) => e.kind),
        ['insert', 'update', 'delete'],
      );
      assert.equal(h[0]?.node, t.db.nodeId);
      assert.deepEqual(h[1]?.changes, [{ field: 'priority', op: 'set', before: 5, after: 10 }]);
      assert.equal(h[1]?.at.getTime(), 1_800_000_001_000);
      assert.deepEqual(
        h[2]?.changes.map((c) => [c.field, c.before, c.after]),
        [
          ['title', 'Login broken', undefined],
          ['priority', 10, undefined],
        ],
      );
    });

    it('should show the database as it was at a past time', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      const id = await bugs.insert({ priority: 5 });
      const afterInsert = new Date(t.wall.time);
      t.wall.time += 1000;
      await bugs.update(id, { priority: 10 });
      const other = await bugs.insert({ priority: 1 });
      t.wall.time += 1000;
      await bugs.delete(id);
      const past = t.db.asOf(afterInsert);
      assert.deepEqual(await past.collection('bugs').get(id), { _id: id, priority: 5 });
      assert.equal(await past.collection('bugs').get(other), undefined);
      const later = t.db.asOf(new Date(afterInsert.getTime() + 1000));
      assert.deepEqual(
        (await later.collection('bugs').find({}, { sort: { priority: 1 } })).map((r) => r.priority),
        [1, 10],
      );
      assert.deepEqual(await t.db.asOf(new Date(0)).collection('bugs').find(), []);
      assert.throws(() => t.db.asOf(new Date(Number.NaN)), ValidationError);
      assert.throws(() => t.db.asOf({ wall: 'x' } as never), ValidationError);
    });

    it('should undo by writing compensating ops, keeping history', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      await bugs.declare({ views: 'counter', tags: 'set' });
      const id = await bugs.insert({ title: 'a', views: 0, tags: ['x'] });
      await bugs.update(id, { title: 'b', extra: 1 });
      const update = t.db.history('bugs', id).at(-1)?.opId as string;
      await bugs.increment(id, 'views', 5);
      const inc = t.db.history('bugs', id).at(-1)?.opId as string;
      await bugs.add(id, 'tags', 'y');
      const add = t.db.history('bugs', id).at(-1)?.opId as string;
      await t.db.undo(update);
      await t.db.undo(inc);
      await t.db.undo(add);
      assert.deepEqual(await bugs.get(id), { _id: id, title: 'a', views: 0, tags: ['x'] });
      assert.equal(t.db.history('bugs', id).length, 7);
      await bugs.delete(id);
      await t.db.undo(t.db.history('bugs', id).at(-1)?.opId as string);
      assert.deepEqual(await bugs.get(id), { _id: id, title: 'a', views: 0, tags: ['x'] });
      const other = await bugs.insert({ title: 'gone' });
      await t.db.undo(t.db.history('bugs', other)[0]?.opId as string); // undo an insert: deleted
      assert.equal(await bugs.get(other), undefined);
      // A re-inserted record keeps its fields' CRDTs: counters count on, sets keep their elements.
      await bugs.increment(id, 'views', 2);
      await bugs.add(id, 'tags', 'y');
      assert.deepEqual(await bugs.get(id), { _id: id, title: 'a', views: 2, tags: ['x', 'y'] });
      await assert.rejects(t.db.undo(t.db.history('_schema', 'bugs')[0]?.opId as string), ValidationError);
      await assert.rejects(t.db.undo('0123456789abcdef:99'), OpNotFoundError);
      await assert.rejects(t.db.undo('garbage'), ValidationError);
    });
  });
}
