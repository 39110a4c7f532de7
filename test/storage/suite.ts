/**
 * The storage acceptance suite: every Storage implementation runs it (sqlite.test.ts,
 * memory.test.ts). An implementation's own test file is then a few lines.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Storage, StorageError } from '../../src/storage/index.ts';

const b = (...bytes: number[]) => Uint8Array.from(bytes);
const op = (node: string, seq: number, collection = 'bugs', record = 'r1') => ({
  node,
  seq,
  collection,
  record,
  payload: b(seq & 0xff, 1),
});

export function runStorageTests(name: string, open: () => { storage: Storage; cleanup(): void }): void {
  const withStorage = (fn: (s: Storage) => void) => () => {
    const { storage, cleanup } = open();
    try {
      fn(storage);
    } finally {
      storage.close();
      cleanup();
    }
  };

  describe(`storage acceptance: ${name}`, () => {
    it(
      'should keep meta values',
      withStorage((s) => {
        assert.equal(s.getMeta('k'), undefined);
        s.setMeta('k', b(1, 2));
        s.setMeta('k', b(3));
        assert.deepEqual(s.getMeta('k'), b(3));
      }),
    );

    it(
      'should append ops and read them back per origin in seq order',
      withStorage((s) => {
        s.transaction(() => {
          for (const seq of [3, 1, 2]) s.appendOp(op('aa', seq));
          s.appendOp(op('bb', 1, 'bugs', 'r2'));
        });
        assert.deepEqual(
          s.opsAfter('aa', 0, 10).map((o) => o.payload),
          [b(1, 1), b(2, 1), b(3, 1)],
        );
        assert.deepEqual(s.opsAfter('aa', 1, 1), [{ node: 'aa', seq: 2, payload: b(2, 1) }]);
        assert.deepEqual(s.getOp('bb', 1), b(1, 1));
        assert.equal(s.getOp('bb', 2), undefined);
        assert.equal(s.opCount(), 4);
        assert.equal(s.opsOfRecord('bugs', 'r1').length, 3);
        assert.equal(s.opCountOfRecord('bugs', 'r1'), 3);
        assert.equal(s.opCountOfRecord('bugs', 'r2'), 1);
        assert.equal(s.opCountOfRecord('bugs', 'nope'), 0);
        s.putRecord('bugs', 'r1', { state: b(1), doc: b(2) });
        assert.deepEqual([...s.scanDocsWithOpCounts('bugs')], [['r1', b(2), 3]]);
        assert.equal([...s.opsOfCollection('bugs')].length, 4);
      }),
    );

    it(
      'should refuse an op whose dot is already stored',
      withStorage((s) => {
        s.appendOp(op('aa', 1));
        assert.throws(() => s.appendOp(op('aa', 1)), StorageError);
      }),
    );

    it(
      'should put and get records, scanning only existing ones in insertion order',
      withStorage((s) => {
        s.putRecord('bugs', 'b', { state: b(1), doc: b(2) });
        s.putRecord('bugs', 'a', { state: b(3), doc: b(4) });
        s.putRecord('bugs', 'gone', { state: b(5), doc: null });
        s.putRecord('other', 'x', { state: b(6), doc: b(7) });
        assert.deepEqual(s.getRecord('bugs', 'gone'), { state: b(5), doc: null });
        assert.deepEqual(
          [...s.scanDocs('bugs')],
          [
            ['b', b(2)],
            ['a', b(4)],
          ],
        );
        assert.equal(s.countDocs('bugs'), 2);
        assert.deepEqual(s.collections(), ['bugs', 'other']);
        s.putRecord('bugs', 'a', { state: b(8), doc: null });
        assert.equal(s.countDocs('bugs'), 1);
      }),
    );

    it(
      'should roll back every write of a transaction that throws',
      withStorage((s) => {
        s.setMeta('k', b(1));
        s.putRecord('bugs', 'a', { state: b(1), doc: b(1) });
        s.addIndexEntry('i', b(1), 'a');
        assert.throws(() =>
          s.transaction(() => {
            s.setMeta('k', b(2));
            s.appendOp(op('aa', 1));
            s.putRecord('bugs', 'a', { state: b(2), doc: null });
            s.putRecord('bugs', 'new', { state: b(2), doc: b(2) });
            s.setVersion('aa', { seq: 1, ahead: [] });
            s.addIndexEntry('i', b(2), 'new');
            s.removeIndexEntry('i', b(1), 'a');
            throw new Error('boom');
          }),
        );
        assert.deepEqual(s.getMeta('k'), b(1));
        assert.equal(s.opCount(), 0);
        assert.deepEqual(s.getRecord('bugs', 'a'), { state: b(1), doc: b(1) });
        assert.equal(s.getRecord('bugs', 'new'), undefined);
        assert.deepEqual(s.loadVersions(), new Map());
        assert.deepEqual([...s.scanIndex('i', {})], ['a']);
      }),
    );

    it(
      'should keep version vector entries',
      withStorage((s) => {
        s.setVersion('aa', { seq: 3, ahead: [] });
        s.setVersion('bb', { seq: 0, ahead: [4, 7] });
        s.setVersion('aa', { seq: 4, ahead: [] });
        assert.deepEqual(
          s.loadVersions(),
          new Map([
            ['aa', { seq: 4, ahead: [] }],
            ['bb', { seq: 0, ahead: [4, 7] }],
          ]),
        );
      }),
    );

    it(
      'should scan index ranges in key order with inclusive and exclusive bounds',
      withStorage((s) => {
        s.addIndexEntry('p', b(2), 'x');
        s.addIndexEntry('p', b(1), 'z');
        s.addIndexEntry('p', b(1), 'y');
        s.addIndexEntry('p', b(3, 0), 'w');
        s.addIndexEntry('p', b(1), 'y'); // duplicate: no second entry
        s.addIndexEntry('q', b(1), 'other');
        assert.deepEqual([...s.scanIndex('p', {})], ['y', 'z', 'x', 'w']);
        assert.deepEqual([...s.scanIndex('p', { lower: b(1), upper: b(1) })], ['y', 'z']);
        assert.deepEqual([...s.scanIndex('p', { lower: b(1), lowerInclusive: false })], ['x', 'w']);
        assert.deepEqual([...s.scanIndex('p', { upper: b(3), upperInclusive: false })], ['y', 'z', 'x']);
        s.removeIndexEntry('p', b(1), 'z');
        assert.deepEqual([...s.scanIndex('p', { lower: b(1), upper: b(1) })], ['y']);
        s.dropIndex('p');
        assert.deepEqual([...s.scanIndex('p', {})], []);
        assert.deepEqual([...s.scanIndex('q', {})], ['other']);
      }),
    );

    it(
      'should scan meta values by key prefix, in key order',
      withStorage((s) => {
        for (const key of ['base:b', 'bas', 'base:a', 'basf', 'base:', 'other']) s.setMeta(key, b(key.length));
        assert.deepEqual(
          [...s.scanMeta('base:')],
          [
            ['base:', b(5)],
            ['base:a', b(6)],
            ['base:b', b(6)],
          ],
        );
        assert.deepEqual([...s.scanMeta('nope')], []);
        assert.equal([...s.scanMeta('')].length, 6);
      }),
    );

    it(
      'should delete meta values, and restore them on rollback',
      withStorage((s) => {
        s.setMeta('k', b(1));
        s.deleteMeta('k');
        s.deleteMeta('never-set');
        assert.equal(s.getMeta('k'), undefined);
        s.setMeta('k', b(2));
        assert.throws(() =>
          s.transaction(() => {
            s.deleteMeta('k');
            throw new Error('boom');
          }),
        );
        assert.deepEqual(s.getMeta('k'), b(2));
      }),
    );

    it(
      "should compact a node's lowest ops up to a seq, at most a limit, keeping record op counts",
      withStorage((s) => {
        s.transaction(() => {
          for (const seq of [3, 1, 5, 2, 4]) s.appendOp(op('aa', seq, 'bugs', seq <= 3 ? 'r1' : 'r2'));
          s.appendOp(op('bb', 1));
          s.appendOp(op('bb', 2, 'apps', 'x'));
          s.putRecord('bugs', 'r1', { state: b(1), doc: b(1) });
          s.putRecord('bugs', 'r2', { state: b(2), doc: b(2) });
        });
        const counts = () => [s.opCountOfRecord('bugs', 'r1'), s.opCountOfRecord('bugs', 'r2'), s.opCountOfRecord('apps', 'x')];
        const before = { counts: counts(), scan: [...s.scanDocsWithOpCounts('bugs')], read: s.getRecordAndOpCount('bugs', 'r1') };
        assert.deepEqual(before.counts, [4, 2, 1]);

        assert.deepEqual(
          s.transaction(() => s.compactOps('aa', 4, 2)),
          [
            { seq: 1, collection: 'bugs', record: 'r1' },
            { seq: 2, collection: 'bugs', record: 'r1' },
          ],
        );
        assert.equal(s.getOp('aa', 1), undefined);
        assert.equal(s.getOp('aa', 2), undefined);
        assert.deepEqual(s.getOp('aa', 3), b(3, 1));
        assert.deepEqual(
          s.opsAfter('aa', 0, 10).map((o) => o.seq),
          [3, 4, 5],
        );
        assert.deepEqual(
          s
            .opsOfRecord('bugs', 'r1')
            .map((o) => `${o.node}:${o.seq}`)
            .sort(),
          ['aa:3', 'bb:1'],
        );
        assert.equal([...s.opsOfCollection('bugs')].length, 4);
        assert.equal(s.opCount(), 5);
        assert.deepEqual(counts(), before.counts);
        assert.deepEqual([...s.scanDocsWithOpCounts('bugs')], before.scan);
        assert.deepEqual(s.getRecordAndOpCount('bugs', 'r1'), before.read);

        // Stops at throughSeq whatever the limit; then nothing is left to compact.
        assert.deepEqual(
          s.compactOps('aa', 4, 10).map((o) => o.seq),
          [3, 4],
        );
        assert.deepEqual(s.compactOps('aa', 4, 10), []);
        assert.deepEqual(s.compactOps('aa', 9, 0), []);
        assert.deepEqual(s.compactOps('nobody', 9, 10), []);
        assert.deepEqual(
          s.opsAfter('aa', 0, 10).map((o) => o.seq),
          [5],
        );
        assert.equal(s.opsAfter('bb', 0, 10).length, 2);
        assert.equal(s.opCount(), 3);
        assert.deepEqual(counts(), before.counts);
        assert.deepEqual([...s.scanDocsWithOpCounts('bugs')], before.scan);

        // A later op on a compacted record counts on top of the compacted ones.
        s.appendOp(op('aa', 6, 'bugs', 'r1'));
        assert.equal(s.opCountOfRecord('bugs', 'r1'), 5);
        assert.equal(s.getRecordAndOpCount('bugs', 'r1').opCount, 5);
      }),
    );

    it(
      'should restore compacted ops and op counts when the transaction rolls back',
      withStorage((s) => {
        s.transaction(() => {
          for (const seq of [1, 2, 3]) s.appendOp(op('aa', seq, 'bugs', `r${seq}`));
          s.putRecord('bugs', 'r1', { state: b(1), doc: b(1) });
        });
        s.compactOps('aa', 1, 10); // outside a transaction: atomic on its own
        const before = { ops: s.opsAfter('aa', 0, 10), count: s.opCount(), scan: [...s.scanDocsWithOpCounts('bugs')] };
        assert.throws(() =>
          s.transaction(() => {
            assert.equal(s.compactOps('aa', 3, 10).length, 2);
            s.appendOp(op('aa', 4, 'bugs', 'r1'));
            throw new Error('boom');
          }),
        );
        assert.deepEqual(s.opsAfter('aa', 0, 10), before.ops);
        assert.equal(s.opCount(), before.count);
        assert.deepEqual([...s.scanDocsWithOpCounts('bugs')], before.scan);
        assert.deepEqual(
          [1, 2, 3].map((n) => s.opCountOfRecord('bugs', `r${n}`)),
          [1, 1, 1],
        );
        assert.deepEqual(
          s.compactOps('aa', Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY).map((o) => o.seq),
          [2, 3],
        );
      }),
    );

    it(
      'should remove one op (a void), keeping its record op count, and undo it on rollback',
      withStorage((s) => {
        s.transaction(() => {
          for (const seq of [1, 2, 3]) s.appendOp(op('aa', seq, 'bugs', 'r1'));
          s.putRecord('bugs', 'r1', { state: b(1), doc: b(1) });
        });
        assert.throws(() =>
          s.transaction(() => {
            assert.deepEqual(s.removeOp('aa', 2), { seq: 2, collection: 'bugs', record: 'r1' });
            throw new Error('boom');
          }),
        );
        assert.deepEqual(
          s.opsAfter('aa', 0, 10).map((o) => o.seq),
          [1, 2, 3],
        );
        assert.deepEqual(s.removeOp('aa', 2), { seq: 2, collection: 'bugs', record: 'r1' });
        assert.equal(s.removeOp('aa', 2), undefined);
        assert.equal(s.removeOp('nobody', 1), undefined);
        assert.equal(s.getOp('aa', 2), undefined);
        assert.deepEqual(
          s.opsAfter('aa', 0, 10).map((o) => o.seq),
          [1, 3],
        );
        assert.deepEqual(
          s
            .opsOfRecord('bugs', 'r1')
            .map((o) => o.seq)
            .sort(),
          [1, 3],
        );
        assert.equal(s.opCount(), 2);
        assert.equal(s.opCountOfRecord('bugs', 'r1'), 3);
        assert.equal(s.getRecordAndOpCount('bugs', 'r1').opCount, 3);
        // The gap a void leaves is never filled again, but a later op still goes after it.
        s.appendOp(op('aa', 4, 'bugs', 'r1'));
        assert.deepEqual(
          s.opsAfter('aa', 1, 10).map((o) => o.seq),
          [3, 4],
        );
      }),
    );

    it(
      'should give a snapshot reader that does not see later writes',
      withStorage((s) => {
        s.transaction(() => {
          s.putRecord('bugs', 'b', { state: b(1), doc: b(1) });
          s.putRecord('bugs', 'gone', { state: b(2), doc: null });
          s.putRecord('bugs', 'a', { state: b(3), doc: b(3) });
          s.putRecord('apps', 'x', { state: b(4), doc: b(4) });
          s.appendOp(op('aa', 1, 'bugs', 'b'));
          s.appendOp(op('aa', 2, 'bugs', 'b'));
          s.appendOp(op('aa', 3, 'apps', 'x'));
          s.setVersion('aa', { seq: 3, ahead: [] });
          s.setVersion('bb', { seq: 0, ahead: [2] });
        });
        s.compactOps('aa', 1, 10);
        const expected = [
          { collection: 'apps', id: 'x', row: { state: b(4), doc: b(4) }, opCount: 1 },
          { collection: 'bugs', id: 'b', row: { state: b(1), doc: b(1) }, opCount: 2 },
          { collection: 'bugs', id: 'gone', row: { state: b(2), doc: null }, opCount: 0 },
          { collection: 'bugs', id: 'a', row: { state: b(3), doc: b(3) }, opCount: 0 },
        ];
        const versions = s.loadVersions();
        const snap = s.snapshotReader();
        const iter = snap.records()[Symbol.iterator]();
        const first = iter.next();
        // Writes while a scan is under way, and before one starts: neither shows.
        s.transaction(() => {
          s.putRecord('bugs', 'b', { state: b(9), doc: null });
          s.putRecord('bugs', 'gone', { state: b(9), doc: b(9) });
          s.putRecord('bugs', 'new', { state: b(9), doc: b(9) });
          s.putRecord('zoo', 'z', { state: b(9), doc: b(9) });
          s.appendOp(op('aa', 4, 'bugs', 'a'));
          s.setVersion('aa', { seq: 4, ahead: [] });
          s.setVersion('cc', { seq: 1, ahead: [] });
        });
        s.compactOps('aa', 4, 10);
        const rest: unknown[] = [];
        for (let r = iter.next(); !r.done; r = iter.next()) rest.push(r.value);
        assert.deepEqual([first.value, ...rest], expected);
        assert.deepEqual([...snap.records()], expected);
        assert.deepEqual(snap.versions(), versions);
        snap.close();
        snap.close(); // idempotent
        assert.throws(() => [...snap.records()], StorageError);
        assert.throws(() => snap.versions(), StorageError);
        // A new snapshot sees the new state.
        const later = s.snapshotReader();
        assert.deepEqual(
          [...later.records()].map((r) => `${r.collection}/${r.id}:${r.opCount}`),
          ['apps/x:1', 'bugs/b:2', 'bugs/gone:0', 'bugs/a:1', 'bugs/new:0', 'zoo/z:0'],
        );
        assert.equal(later.versions().get('cc')?.seq, 1);
        later.close();
      }),
    );

    it(
      'should refuse a snapshot reader inside a transaction, and end open ones on close',
      withStorage((s) => {
        assert.throws(() => s.transaction(() => s.snapshotReader()), StorageError);
        s.putRecord('bugs', 'a', { state: b(1), doc: b(1) });
        const snap = s.snapshotReader();
        s.close();
        assert.throws(() => [...snap.records()], StorageError);
        snap.close();
      }),
    );
  });
}
