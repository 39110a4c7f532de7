import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BlazeDB, DatabaseIdMismatchError } from '../../src/db/index.ts';
import { NotABlazeStoreError } from '../../src/storage/index.ts';
import { tempDir } from '../helpers/db.ts';

describe('a SQLite store across restarts', () => {
  it('should keep records, identity, database id, version vector and sequence', async () => {
    const dir = tempDir();
    try {
      const db = await BlazeDB.open({ path: dir.path, dbId: 'team-bugs' });
      const bugs = db.collection('bugs');
      await bugs.declare({ tags: 'set' });
      const id = await bugs.insert({ title: 'a', tags: ['x'] });
      await bugs.update(id, { title: 'b' });
      const { nodeId } = db;
      await db.close();

      const again = await BlazeDB.open({ path: dir.path });
      assert.equal(again.dbId, 'team-bugs');
      assert.equal(again.nodeId, nodeId);
      assert.deepEqual(await again.collection('bugs').get(id), { _id: id, title: 'b', tags: ['x'] });
      assert.deepEqual(again.stats().versionVector, { [nodeId]: 3 });
      await again.collection('bugs').add(id, 'tags', 'y'); // seq 4, not a reused 3
      assert.deepEqual(again.stats().versionVector, { [nodeId]: 4 });
      await again.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should never stamp a write earlier than one made before the restart, even if the wall clock went back', async () => {
    const dir = tempDir();
    try {
      const wall = { time: 2_000_000_000_000, now: () => wall.time };
      const db = await BlazeDB.open({ path: dir.path, wallClock: wall });
      const id = await db.collection('c').insert({ v: 'first' });
      await db.close();
      wall.time -= 3600_000; // an hour back
      const again = await BlazeDB.open({ path: dir.path, wallClock: wall });
      await again.collection('c').update(id, { v: 'second' });
      assert.equal((await again.collection('c').get(id))?.v, 'second');
      await again.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should refuse to open a store under another database id, changing nothing', async () => {
    const dir = tempDir();
    try {
      await (await BlazeDB.open({ path: dir.path, dbId: 'one' })).close();
      const file = join(dir.path, 'blaze.db');
      const before = readFileSync(file);
      await assert.rejects(BlazeDB.open({ path: dir.path, dbId: 'two' }), DatabaseIdMismatchError);
      assert.deepEqual(readFileSync(file), before);
    } finally {
      dir.cleanup();
    }
  });

  it('should refuse a directory whose blaze.db is not a BlazeDB store', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'blaze.db'), 'x'.repeat(4096));
      await assert.rejects(BlazeDB.open({ path: dir.path }), NotABlazeStoreError);
      assert.deepEqual(readdirSync(dir.path), ['blaze.db']);
      const file = join(dir.path, 'file');
      writeFileSync(file, 'not a directory');
      await assert.rejects(BlazeDB.open({ path: file }), NotABlazeStoreError);
    } finally {
      dir.cleanup();
    }
  });

  it('should see writes another connection made to the same store, and not reuse its sequence numbers', async () => {
    const dir = tempDir();
    try {
      const a = await BlazeDB.open({ path: dir.path });
      const b = await BlazeDB.open({ path: dir.path }); // e.g. the CLI while a peer runs
      const id = await a.collection('c').insert({ n: 1 });
      await b.collection('c').update(id, { n: 2 });
      assert.equal((await a.collection('c').get(id))?.n, 2);
      await a.collection('c').update(id, { n: 3 }); // must take seq 3, not 2
      assert.equal((await b.collection('c').get(id))?.n, 3);
      assert.equal(a.stats().opCount, 3);
      await a.close();
      await b.close();
    } finally {
      dir.cleanup();
    }
  });
});
