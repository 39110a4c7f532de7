import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BlazeDB, type LiveResult, type Stored } from '../../src/db/index.ts';
import { KINDS, openTestDb, tempDir } from '../helpers/db.ts';
import { checkProperty } from '../helpers/property.ts';

type Row = Stored<Record<string, unknown>>;

for (const kind of KINDS) {
  describe(`live queries (${kind})`, () => {
    it('should deliver the result at once, then only when a change affects it', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      const a = await bugs.insert({ status: 'open', priority: 1 });
      const calls: LiveResult<Row>[] = [];
      const stop = bugs.subscribe({ status: 'open' }, (r) => calls.push(r), { sort: { priority: 1 } });
      assert.equal(calls.length, 1);
      assert.deepEqual(
        calls[0]?.added.map((r) => r._id),
        [a],
      );

      const b = await bugs.insert({ status: 'open', priority: 2 }); // enters the result
      assert.equal(calls.length, 2);
      assert.deepEqual(
        calls[1]?.added.map((r) => r._id),
        [b],
      );
      assert.deepEqual(
        calls[1]?.records.map((r) => r._id),
        [a, b],
      );

      await bugs.insert({ status: 'closed', priority: 0 }); // never matches: no call
      await t.db.collection('other').insert({ status: 'open' }); // another collection: no call
      assert.equal(calls.length, 2);

      await bugs.update(a, { priority: 3 }); // changes a matching record and the order
      assert.equal(calls.length, 3);
      assert.deepEqual(
        calls[2]?.changed.map((r) => r._id),
        [a],
      );
      assert.deepEqual(
        calls[2]?.records.map((r) => r._id),
        [b, a],
      );

      await bugs.update(b, { status: 'closed' }); // leaves the result
      assert.equal(calls.length, 4);
      assert.deepEqual(
        calls[3]?.removed.map((r) => r._id),
        [b],
      );

      await bugs.update(a, { priority: 3 }); // same value: the result does not change
      assert.equal(calls.length, 4);

      stop();
      await bugs.delete(a);
      assert.equal(calls.length, 4);
    });

    it('should fire for changes applied from another replica', async () => {
      await using t = await openTestDb(kind);
      await using other = await openTestDb('memory');
      const bugs = t.db.collection('bugs');
      const calls: LiveResult<Row>[] = [];
      bugs.subscribe({}, (r) => calls.push(r));
      await other.db.collection('bugs').insert({ n: 1 }, { id: 'x' });
      const ops = other.db.engine.storage.opsAfter(other.db.nodeId, 0, 10);
      const { decodeOp } = await import('../../src/codec/index.ts');
      t.db.engine.applySync([{ kind: 'ops', ops: ops.map((o) => decodeOp(o.payload)) }]);
      assert.equal(calls.length, 2);
      assert.deepEqual(
        calls[1]?.added.map((r) => r._id),
        ['x'],
      );
    });

    it('should always hold what a fresh find returns, for any writes (sorted, unsorted, paged)', async () => {
      await using t = await openTestDb(kind);
      const write = fc.record(
        {
          what: fc.constantFrom('insert', 'update', 'delete'),
          id: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
          p: fc.integer({ min: 0, max: 4 }),
        },
        { noNullPrototype: true },
      );
      let round = 0;
      await checkProperty(
        'live equals find',
        fc.asyncProperty(fc.array(write, { maxLength: 25 }), async (writes) => {
          round++;
          const coll = t.db.collection(`r${round}`);
          const views = [
            { query: { p: { $gte: 2 } }, options: { sort: { p: -1 as const } } },
            { query: { p: { $lte: 3 } }, options: undefined },
            { query: {}, options: { sort: { p: 1 as const }, limit: 2, offset: 1 } },
          ];
          const latest = views.map(() => [] as Row[]);
          const stops = views.map((v, i) =>
            coll.subscribe(
              v.query,
              (r) => {
                latest[i] = [...r.records];
              },
              v.options,
            ),
          );
          for (const w of writes) {
            const exists = (await coll.get(w.id)) !== undefined;
            if (w.what === 'insert' && !exists) await coll.insert({ p: w.p }, { id: w.id });
            else if (w.what === 'update' && exists) await coll.update(w.id, { p: w.p });
            else if (w.what === 'delete' && exists) await coll.delete(w.id);
            for (const [i, v] of views.entries()) {
              const fresh = await coll.find(v.query, v.options);
              const key = (rows: Row[]) => rows.map((r) => `${r._id}=${r.p}`);
              if (v.options?.sort) assert.deepEqual(key(latest[i] as Row[]), key(fresh));
              else assert.deepEqual(key(latest[i] as Row[]).sort(), key(fresh).sort());
            }
          }
          for (const stop of stops) stop();
        }),
        { numRuns: 30 },
      );
    });

    it('should deliver changes in commit order when a subscriber itself writes', async () => {
      await using t = await openTestDb(kind);
      const bugs = t.db.collection('bugs');
      bugs.subscribe({ status: 'new' }, (r) => {
        for (const rec of r.added) void bugs.update(rec._id, { status: 'triaged' });
      });
      let seen: Row[] = [];
      bugs.subscribe({}, (r) => {
        seen = [...r.records];
      });
      const id = await bugs.insert({ status: 'new' });
      assert.equal((await bugs.get(id))?.status, 'triaged');
      assert.deepEqual(
        seen.map((r) => r.status),
        ['triaged'],
      );
    });

    it('should keep a failing subscriber from failing the write', async () => {
      const errors: unknown[] = [];
      await using t = await openTestDb(kind, { onError: (e) => errors.push(e) });
      const bugs = t.db.collection('bugs');
      let calls = 0;
      bugs.subscribe({}, () => {
        calls++;
        if (calls > 1) throw new Error('subscriber bug');
      });
      const id = await bugs.insert({ n: 1 });
      assert.deepEqual(await bugs.get(id), { _id: id, n: 1 });
      assert.equal(errors.length, 1);
    });
  });
}

describe('live queries and other processes', () => {
  it('should fire for writes another connection made to the store, once picked up', async () => {
    const dir = tempDir();
    try {
      const db = await BlazeDB.open({ path: dir.path, dbId: 'live' });
      const bugs = db.collection('bugs');
      const keep = await bugs.insert({ open: true, title: 'stays' });
      const leave = await bugs.insert({ open: true, title: 'will be closed elsewhere' });
      const seen: LiveResult<Row>[] = [];
      bugs.subscribe({ open: true }, (r) => seen.push(r as LiveResult<Row>));
      const other = await BlazeDB.open({ path: dir.path });
      const added = await other.collection('bugs').insert({ open: true, title: 'from the other process' });
      await other.collection('bugs').update(leave, { open: false });
      await other.close();
      assert.equal(db.engine.pickUpExternalWrites(), 2);
      const last = seen.at(-1) as LiveResult<Row>;
      assert.deepEqual(last.records.map((r) => r._id).sort(), [keep, added].sort());
      assert.deepEqual(
        last.removed.map((r) => r._id),
        [leave],
      );
      assert.equal(db.engine.pickUpExternalWrites(), 0, 'nothing new the second time');
      // A local write that notices the other process first announces its ops too.
      const third = await BlazeDB.open({ path: dir.path });
      const fromThird = await third.collection('bugs').insert({ open: true, title: 'third process' });
      await third.close();
      const local = await bugs.insert({ open: true, title: 'local' });
      assert.ok([fromThird, local].every((id) => (seen.at(-1) as LiveResult<Row>).records.some((r) => r._id === id)));
      assert.equal(db.engine.pickUpExternalWrites(), 0, 'already announced');
      await db.close();
    } finally {
      dir.cleanup();
    }
  });
});

describe('docs shared with the sync layer', () => {
  it('should answer the doc a record has now: after local writes, a rolled-back write and another process', async () => {
    const dir = tempDir();
    try {
      const db = await BlazeDB.open({ path: dir.path, dbId: 'shared-docs' });
      db.engine.onOps(() => {}); // as a sync session would: writes fill the cache
      const bugs = db.collection('bugs');
      const id = await bugs.insert({ title: 'first' });
      assert.equal(db.engine.readDocShared('bugs', id)?.title, 'first');
      await bugs.update(id, { title: 'second' });
      assert.equal(db.engine.readDocShared('bugs', id)?.title, 'second');
      assert.throws(() =>
        db.engine.write(() => {
          bugs.updateNow(id, { title: 'rolled back' });
          assert.equal(db.engine.readDocShared('bugs', id)?.title, 'rolled back'); // cached within the write
          throw new Error('abort');
        }),
      );
      assert.equal(db.engine.readDocShared('bugs', id)?.title, 'second');
      await bugs.delete(id);
      assert.equal(db.engine.readDocShared('bugs', id), undefined);
      const other = await BlazeDB.open({ path: dir.path });
      const elsewhere = await other.collection('bugs').insert({ title: 'elsewhere' });
      await other.collection('bugs').update(elsewhere, { title: 'elsewhere, changed' });
      assert.equal(db.engine.readDocShared('bugs', elsewhere)?.title, 'elsewhere, changed'); // now cached
      await other.collection('bugs').update(elsewhere, { title: 'elsewhere, again' });
      await other.close();
      db.engine.pickUpExternalWrites();
      assert.equal(db.engine.readDocShared('bugs', elsewhere)?.title, 'elsewhere, again');
      db.engine.docCacheSize = 1;
      assert.equal(db.engine.readDocShared('bugs', elsewhere)?.title, 'elsewhere, again');
      await db.close();
    } finally {
      dir.cleanup();
    }
  });
});
