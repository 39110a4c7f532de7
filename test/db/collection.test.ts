import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlreadyExistsError, BlazeDB, ClosedError, NotFoundError } from '../../src/db/index.ts';
import { StrategyMismatchError, ValidationError } from '../../src/errors.ts';
import { KINDS, openTestDb } from '../helpers/db.ts';

for (const kind of KINDS) {
  describe(`collections (${kind})`, () => {
    it('should insert, get, update only the given fields, and delete', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      const id = await bugs.insert({ title: 'Login broken', priority: 5, status: 'open' });
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.deepEqual(await bugs.get(id), { _id: id, title: 'Login broken', priority: 5, status: 'open' });
      await bugs.update(id, { priority: 10 });
      assert.deepEqual(await bugs.get(id), { _id: id, title: 'Login broken', priority: 10, status: 'open' });
      await bugs.delete(id);
      assert.equal(await bugs.get(id), undefined);
    });

    it('should make default ids that start with the creation time and sort in creation order', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) {
        if (i % 10 === 0) t.wall.time += 1;
        ids.push(await bugs.insert({ n: i }));
      }
      for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
      assert.equal(new Set(ids).size, ids.length);
      assert.equal(Number.parseInt((ids[0] as string).slice(0, 12), 16), t.wall.time - 4);
      // Ids of different milliseconds sort by time (within one millisecond the random part decides).
      for (let i = 10; i < ids.length; i++) assert.ok((ids[i - 10] as string) < (ids[i] as string));
    });

    it('should take an app-supplied id and refuse a second insert of it', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      assert.equal(await bugs.insert({ n: 1 }, { id: 'BUG-1' }), 'BUG-1');
      await assert.rejects(bugs.insert({ n: 2 }, { id: 'BUG-1' }), AlreadyExistsError);
      assert.deepEqual(await bugs.get('BUG-1'), { _id: 'BUG-1', n: 1 });
    });

    it('should refuse writes to a record that does not exist, changing nothing', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      const before = t.db.stats().opCount;
      await assert.rejects(bugs.update('nope', { a: 1 }), NotFoundError);
      await assert.rejects(bugs.delete('nope'), NotFoundError);
      await assert.rejects(bugs.increment('nope', 'n'), NotFoundError);
      assert.equal(t.db.stats().opCount, before);
    });

    it('should reject bad input with a typed error and write nothing', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      const id = await bugs.insert({ n: 1 });
      const before = t.db.stats().opCount;
      await assert.rejects(bugs.insert({ bad: undefined } as never), ValidationError);
      await assert.rejects(bugs.insert({ n: Number.NaN }), ValidationError);
      await assert.rejects(bugs.update(id, { _id: 'x' } as never), ValidationError);
      await assert.rejects(bugs.insert({ f: () => 1 } as never), ValidationError);
      await assert.rejects(bugs.insert({ n: 1 }, { id: '' }), ValidationError);
      assert.throws(() => t.db.collection('_schema'), ValidationError);
      assert.throws(() => t.db.collection(''), ValidationError);
      assert.equal(t.db.stats().opCount, before);
      assert.deepEqual(await bugs.get(id), { _id: id, n: 1 });
    });

    it('should count, increment, add and remove with declared strategies', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      await bugs.declare({ views: 'counter', tags: 'set' });
      const id = await bugs.insert({ views: 0, tags: ['ui'] });
      await bugs.increment(id, 'views');
      await bugs.increment(id, 'views', 4);
      await bugs.add(id, 'tags', 'login');
      await bugs.remove(id, 'tags', 'ui');
      assert.deepEqual(await bugs.get(id), { _id: id, views: 5, tags: ['login'] });
      await assert.rejects(bugs.update(id, { views: 1 }), StrategyMismatchError);
      assert.equal(bugs.strategyOf('views'), 'counter');
      assert.equal(bugs.strategyOf('other'), 'lww');
    });

    it('should run a transaction all or nothing', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      const ids = t.db.transaction(() => [bugs.insertNow({ n: 1 }), bugs.insertNow({ n: 2 })]);
      assert.equal((await bugs.find()).length, 2);
      assert.throws(() =>
        t.db.transaction(() => {
          bugs.insertNow({ n: 3 });
          bugs.updateNow(ids[0] as string, { n: 10 });
          throw new Error('changed my mind');
        }),
      );
      assert.deepEqual(
        (await bugs.find({}, { sort: { n: 1 } })).map((r) => r.n),
        [1, 2],
      );
      // The database still works after the rollback.
      await bugs.update(ids[0] as string, { n: 11 });
      assert.equal((await bugs.get(ids[0] as string))?.n, 11);
      assert.throws(() => t.db.transaction(async () => 1), ValidationError);
    });

    it('should insert many in one transaction', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      const ids = await bugs.insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
      assert.equal(ids.length, 3);
      assert.equal(await bugs.count(), 3);
      await assert.rejects(bugs.insertMany([{ n: 4 }, { bad: undefined } as never]), ValidationError);
      assert.equal(await bugs.count(), 3);
    });

    it('should report stats and refuse use after close', async () => {
      await using t = await openTestDb(kind, { dbId: 'bugs-db' });
      const bugs = t.db.collection('bugs');
      await bugs.insert({ n: 1 });
      const stats = t.db.stats();
      assert.equal(stats.dbId, 'bugs-db');
      assert.equal(stats.nodeId, t.db.nodeId);
      assert.deepEqual(stats.collections, { bugs: 1 });
      assert.equal(stats.opCount, 1);
      assert.deepEqual(stats.versionVector, { [t.db.nodeId]: 1 });
      await t.db.close();
      assert.throws(() => t.db.collection('bugs'), ClosedError);
    });
  });
}

describe('opening', () => {
  it('should refuse an invalid database id', async () => {
    await assert.rejects(BlazeDB.open({ dbId: 'no spaces' }), ValidationError);
  });

  it('should refuse an option it does not know, naming it', async () => {
    const options = { storage: 'memory', filter: { collections: { bugs: {} } } } as Parameters<typeof BlazeDB.open>[0];
    await assert.rejects(
      BlazeDB.open(options),
      (err: Error) => err instanceof ValidationError && /options\.filter: unknown option/.test(err.message),
    );
  });
});
