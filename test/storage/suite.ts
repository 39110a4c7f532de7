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
  });
}
