/**
 * Judging a commit once for every partial peer: the shared index of who holds which record,
 * the string a filter requires (its guard), and a session that skips a commit or sends it on
 * the strength of those alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../src/db/index.ts';
import { HeldRecords, HolderIndex } from '../../src/sync/held-records.ts';
import { createPipe, databaseSource, SyncFilter, SyncSession } from '../../src/sync/index.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { settle } from '../helpers/sync.ts';

describe('holder index', () => {
  it('should name every session set holding any of some records, and forget a set cleared', () => {
    const index = new HolderIndex();
    const a = new HeldRecords(index);
    const b = new HeldRecords(index);
    a.add('r1');
    a.add('r2');
    b.add('r2');
    b.add('r3');
    assert.deepEqual([...index.holdersOf(['r1'])], [a]);
    assert.deepEqual(new Set(index.holdersOf(['r2'])), new Set([a, b]));
    assert.deepEqual(index.holdersOf(['r4']).size, 0);
    const before = index.version;
    assert.equal(a.delete('r2'), true);
    assert.equal(a.delete('r2'), false);
    assert.ok(index.version > before);
    assert.deepEqual([...index.holdersOf(['r2'])], [b]);
    b.clear();
    assert.deepEqual([...index.holdersOf(['r2', 'r3'])], []);
    assert.deepEqual([...a], ['r1']);
    assert.equal(b.size, 0);
  });
});

describe('filter guard', () => {
  const guard = (where: unknown) => SyncFilter.parse({ collections: { bugs: { where } } }).guard('bugs');
  it('should find a string every matching record must have, and none where there is not one', () => {
    assert.deepEqual(guard({ owner: 'ann' }), { path: ['owner'], value: 'ann' });
    assert.deepEqual(guard({ status: { $ne: 'done' }, 'meta.team': 'red' }), { path: ['meta', 'team'], value: 'red' });
    assert.equal(guard({ $or: [{ owner: 'ann' }, { owner: 'bob' }] }), undefined);
    assert.equal(guard({ owner: { $ne: 'ann' } }), undefined);
    assert.equal(guard({ votes: 3 }), undefined);
    assert.equal(SyncFilter.parse({ collections: { bugs: {} } }).guard('bugs'), undefined);
  });
});

describe('skipping a commit for a partial peer', () => {
  it('should send a record whose array holds the guarded string, and skip one whose does not', async () => {
    let seed = 8800;
    const open = () => BlazeDB.open({ storage: 'memory', dbId: 'routing', random: new SeededRandom(seed++) });
    const server = await open();
    const phone = await open();
    try {
      await phone.setSyncFilter({ collections: { bugs: { where: { tags: 'red' } } } });
      const [x, y] = createPipe();
      new SyncSession({ source: databaseSource(server), duplex: x }).start();
      new SyncSession({ source: databaseSource(phone), duplex: y }).start();
      await settle();
      await server.collection('bugs').insert({ title: 'blue only', tags: ['blue'] }, { id: 'b1' });
      await settle();
      assert.deepEqual(await phone.collection('bugs').find({}), []);
      assert.deepEqual(phone.stats().versionVector, server.stats().versionVector, 'skipped, and counted');
      await server.collection('bugs').insert({ title: 'red among others', tags: ['blue', 'red'] }, { id: 'b2' });
      await settle();
      assert.deepEqual(
        (await phone.collection('bugs').find({})).map((r) => r._id),
        ['b2'],
      );
      // An update of a record the phone holds: held, so never skipped, whatever its fields.
      await server.collection('bugs').update('b2', { title: 'renamed' });
      await settle();
      assert.equal((await phone.collection('bugs').get('b2'))?.title, 'renamed');
      // A record moving into the filter by an update of the guarded field.
      await server.collection('bugs').update('b1', { tags: ['red'] });
      await settle();
      assert.deepEqual(
        (await phone.collection('bugs').find({}, { sort: { title: 1 } })).map((r) => r._id),
        ['b1', 'b2'],
      );
      assert.deepEqual(phone.stats().versionVector, server.stats().versionVector);
    } finally {
      await server.close();
      await phone.close();
    }
  });
});
