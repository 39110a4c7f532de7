import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Collection } from '../../src/db/index.ts';
import { QueryError } from '../../src/query/index.ts';
import { RecordRef } from '../../src/values/value.ts';
import { KINDS, openTestDb } from '../helpers/db.ts';
import { checkProperty } from '../helpers/property.ts';

async function seed(c: Collection) {
  await c.insert({ title: 'a', priority: 1, status: 'open', tags: ['ui'], meta: { owner: 'ann' } }, { id: 'a' });
  await c.insert({ title: 'b', priority: 5, status: 'closed', tags: ['login', 'ui'], meta: { owner: 'bob' } }, { id: 'b' });
  await c.insert({ title: 'c', priority: 9, status: 'open', tags: [] }, { id: 'c' });
  await c.insert({ title: 'd', priority: 5.5, status: 'open', due: new Date(5) }, { id: 'd' });
  await c.insert({ title: 'e', priority: '7', status: null }, { id: 'e' });
}

const ids = (rows: { _id: string }[]) => rows.map((r) => r._id);

for (const kind of KINDS) {
  describe(`queries (${kind})`, () => {
    it('should support equality, comparisons, in, exists, and/or/not on top-level and nested fields', async () => {
      await using t = await openTestDb(kind);
      const c = t.db.collection('bugs');
      await seed(c);
      const q = async (query: Record<string, unknown>) => ids(await c.find(query)).sort();
      assert.deepEqual(await q({ status: 'open' }), ['a', 'c', 'd']);
      assert.deepEqual(await q({ priority: { $gte: 5 } }), ['b', 'c', 'd']); // '7' is a string: no match
      assert.deepEqual(await q({ priority: { $gt: 1, $lt: 9 } }), ['b', 'd']);
      assert.deepEqual(await q({ priority: { $in: [1, 9] } }), ['a', 'c']);
      assert.deepEqual(await q({ priority: { $nin: [1, 9] } }), ['b', 'd', 'e']);
      assert.deepEqual(await q({ 'meta.owner': 'bob' }), ['b']);
      assert.deepEqual(await q({ 'meta.owner': { $exists: true } }), ['a', 'b']);
      assert.deepEqual(await q({ due: { $exists: false } }), ['a', 'b', 'c', 'e']);
      assert.deepEqual(await q({ tags: 'ui' }), ['a', 'b']);
      assert.deepEqual(await q({ tags: [] }), ['c']);
      assert.deepEqual(await q({ status: null }), ['e']);
      assert.deepEqual(await q({ status: { $ne: 'open' } }), ['b', 'e']);
      assert.deepEqual(await q({ $or: [{ priority: 1 }, { 'meta.owner': 'bob' }] }), ['a', 'b']);
      assert.deepEqual(await q({ $not: { status: 'open' } }), ['b', 'e']);
      assert.deepEqual(await q({ $and: [{ status: 'open' }, { priority: { $lte: 5.5 } }] }), ['a', 'd']);
      assert.deepEqual(await q({ due: { $lt: new Date(10) } }), ['d']);
      assert.deepEqual(await q({}), ['a', 'b', 'c', 'd', 'e']);
    });

    it('should sort, limit and offset, missing fields first', async () => {
      await using t = await openTestDb(kind);
      const c = t.db.collection('bugs');
      await seed(c);
      assert.deepEqual(ids(await c.find({}, { sort: { priority: -1 } })), ['e', 'c', 'd', 'b', 'a']);
      assert.deepEqual(ids(await c.find({}, { sort: { 'meta.owner': 1 }, limit: 3 })), ['c', 'd', 'e']);
      assert.deepEqual(ids(await c.find({}, { sort: { status: 1, title: -1 }, offset: 1, limit: 2 })), ['b', 'd']);
    });

    it('should name the problem in a bad query', async () => {
      await using t = await openTestDb(kind);
      const c = t.db.collection('bugs');
      const bad: [unknown, RegExp][] = [
        [{ priority: { $regex: 'x' } }, /unknown operator \$regex/],
        [{ $nor: [] }, /unknown operator \$nor/],
        [{ $or: {} }, /non-empty array/],
        [{ 'a..b': 1 }, /bad field path/],
        [{ n: { $in: 5 } }, /array of values/],
        [{ n: { $exists: 'yes' } }, /true or false/],
        [{ n: undefined }, /undefined/],
        [[1], /plain object/],
      ];
      for (const [query, message] of bad) {
        await assert.rejects(
          c.find(query as never),
          (err: unknown) => err instanceof QueryError && err.name === 'QueryError' && message.test(err.message),
        );
      }
      // biome-ignore lint/suspicious/noSparseArray: holes are the point of these cases
      await assert.rejects(c.find({ $and: [, { m: 1 }] }), QueryError);
      // biome-ignore lint/suspicious/noSparseArray: holes are the point of these cases
      await assert.rejects(c.find({ m: { $in: [, 1] } }), QueryError);
      await assert.rejects(c.find({}, { sort: { n: 2 as never } }), QueryError);
      await assert.rejects(c.find({}, { limit: -1 }), QueryError);
      await assert.rejects(c.find({}, { skip: 1 } as never), QueryError);
    });

    it('should use declared indexes for equality and ranges, and say so in explain', async () => {
      await using t = await openTestDb(kind);
      const c = t.db.collection('bugs');
      await seed(c);
      assert.equal(c.explain({ status: 'open' }).strategy, 'scan');
      await c.createIndex('status');
      await c.createIndex('priority');
      await c.createIndex('tags');
      assert.deepEqual(c.indexes(), ['priority', 'status', 'tags']);
      assert.deepEqual(
        { ...c.explain({ status: 'open', title: 'a' }), ranges: undefined },
        { strategy: 'index-eq', index: 'status', ranges: undefined },
      );
      assert.equal(c.explain({ priority: { $gt: 2 } }).strategy, 'index-range');
      assert.equal(c.explain({ priority: { $in: [1, 2] } }).strategy, 'index-in');
      assert.equal(c.explain({ $or: [{ status: 'open' }, { title: 'x' }] }).strategy, 'scan');
      assert.deepEqual(ids(await c.find({ status: 'open' })).sort(), ['a', 'c', 'd']);
      assert.deepEqual(ids(await c.find({ priority: { $gte: 5, $lt: 9 } })).sort(), ['b', 'd']);
      assert.deepEqual(ids(await c.find({ tags: 'ui' })).sort(), ['a', 'b']);
      // Index entries follow updates and deletes.
      await c.update('a', { status: 'closed', tags: ['x'] });
      await c.delete('c');
      assert.deepEqual(ids(await c.find({ status: 'open' })).sort(), ['d']);
      assert.deepEqual(ids(await c.find({ tags: 'ui' })).sort(), ['b']);
      assert.deepEqual(ids(await c.find({ priority: { $gte: 5 } })).sort(), ['b', 'd']);
      // No stale entries: the status index holds exactly one entry per remaining record.
      assert.deepEqual([...t.db.engine.storage.scanIndex('bugs\0status', {})].sort(), ['a', 'b', 'd', 'e']);
      assert.deepEqual([...t.db.engine.storage.scanIndex('bugs\0tags', {})].sort(), ['a', 'b', 'b']);
      await c.dropIndex('status');
      assert.equal(c.explain({ status: 'open' }).strategy, 'scan');
    });

    it('should find array fields whose elements meet different bounds, with an index too', async () => {
      await using t = await openTestDb(kind);
      const c = t.db.collection('bugs');
      await c.insert({ x: [1, 10] }, { id: 'arr' });
      await c.insert({ x: 6 }, { id: 'six' });
      const query = { x: { $gt: 5, $lt: 8 } };
      const scanned = ids(await c.find(query)).sort();
      await c.createIndex('x');
      assert.deepEqual(ids(await c.find(query)).sort(), scanned);
      assert.deepEqual(scanned, ['arr', 'six']);
    });

    it('should leave the index list as it was when creating an index fails', async () => {
      await using t = await openTestDb(kind);
      const c = t.db.collection('bugs');
      await c.insert({ p: 1 }, { id: 'a' });
      const storage = t.db.engine.storage;
      const setMeta = storage.setMeta.bind(storage);
      storage.setMeta = () => {
        throw new Error('disk full');
      };
      await assert.rejects(c.createIndex('p'), /disk full/);
      storage.setMeta = setMeta;
      assert.deepEqual(c.indexes(), []);
      assert.equal(c.explain({ p: 1 }).strategy, 'scan');
      assert.equal(await c.createIndex('p'), true);
      assert.deepEqual(ids(await c.find({ p: 1 })), ['a']);
    });

    it('should find the same records with and without an index, for any data and query', async () => {
      await using t = await openTestDb(kind);
      const plain = t.db.collection('plain');
      const indexed = t.db.collection('indexed');
      await indexed.createIndex('v');
      const value = fc.oneof(
        fc.integer({ min: -3, max: 3 }),
        fc.double({ min: -3, max: 3, noNaN: true }),
        fc.bigInt({ min: 2n ** 53n - 2n, max: 2n ** 53n + 2n }),
        fc.constantFrom('', 'a', 'b', 'é', '😀', '\uE000', null, true, false),
        fc.constant(new RecordRef('x', 'y')),
        fc.array(fc.integer({ min: -2, max: 2 }), { maxLength: 3 }),
      );
      const op = fc.constantFrom('$eq', '$gt', '$gte', '$lt', '$lte', '$in');
      let round = 0;
      await checkProperty(
        'index equals scan',
        fc.asyncProperty(fc.array(value, { maxLength: 12 }), op, value, value, async (values, operator, a, b) => {
          round++;
          const docs = values.map((v) => ({ v, round }));
          await plain.insertMany(docs);
          await indexed.insertMany(docs);
          const query = { round, v: operator === '$in' ? { $in: [a, b] } : { [operator]: a } };
          const expected = (await plain.find(query)).map((r) => JSON.stringify(r.v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)));
          const actual = (await indexed.find(query)).map((r) => JSON.stringify(r.v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)));
          assert.deepEqual(actual.sort(), expected.sort());
        }),
        { numRuns: 60 },
      );
    });
  });
}
