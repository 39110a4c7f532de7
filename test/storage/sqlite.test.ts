import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { checkStoreFile, FORMAT_VERSION, NotABlazeStoreError, SqliteStorage, StoreVersionError } from '../../src/storage/index.ts';
import { runStorageTests } from './suite.ts';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'blaze-sqlite-'));
}

/** user_version as the main file's header says it (what checkStoreFile and an older BlazeDB read). */
const headerVersion = (path: string) => readFileSync(path).readUInt32BE(60);
const b = (...bytes: number[]) => Uint8Array.from(bytes);

runStorageTests('sqlite', () => {
  const dir = tempDir();
  return { storage: new SqliteStorage({ path: join(dir, 'blaze.db') }), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
});

describe('sqlite storage files', () => {
  it('should keep committed data across close and reopen', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'blaze.db');
      const s = new SqliteStorage({ path });
      s.transaction(() => s.setMeta('k', Uint8Array.of(7)));
      s.close();
      const again = new SqliteStorage({ path, durability: 'power' });
      assert.deepEqual(again.getMeta('k'), Uint8Array.of(7));
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should refuse a file that is not SQLite, and leave it untouched', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'blaze.db');
      writeFileSync(path, 'hello, this is not a database at all, but it is more than a hundred bytes long. '.repeat(3));
      const before = readFileSync(path);
      assert.throws(() => new SqliteStorage({ path }), NotABlazeStoreError);
      assert.deepEqual(readFileSync(path), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("should refuse another application's SQLite database, and leave it untouched", () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'blaze.db');
      const other = new DatabaseSync(path);
      other.exec('CREATE TABLE t(x); INSERT INTO t VALUES (1);');
      other.close();
      const before = readFileSync(path);
      const mtime = statSync(path).mtimeMs;
      assert.throws(() => new SqliteStorage({ path }), NotABlazeStoreError);
      assert.deepEqual(readFileSync(path), before);
      assert.equal(statSync(path).mtimeMs, mtime);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should refuse a store of a newer format version', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'blaze.db');
      new SqliteStorage({ path }).close();
      const raw = new DatabaseSync(path);
      raw.exec('PRAGMA journal_mode = DELETE; PRAGMA user_version = 99;');
      raw.close();
      const before = readFileSync(path);
      assert.throws(
        () => new SqliteStorage({ path }),
        (err: unknown) => err instanceof StoreVersionError && err.found === 99,
      );
      assert.deepEqual(readFileSync(path), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should migrate a format 1 store on open, keeping its data', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'blaze.db');
      const s = new SqliteStorage({ path });
      s.transaction(() => {
        s.setMeta('k', b(7));
        s.appendOp({ node: 'aa', seq: 1, collection: 'bugs', record: 'r1', payload: b(1) });
        s.appendOp({ node: 'aa', seq: 2, collection: 'bugs', record: 'r1', payload: b(2) });
        s.putRecord('bugs', 'r1', { state: b(3), doc: b(4) });
        s.setVersion('aa', { seq: 2, ahead: [] });
      });
      s.close();
      // Back to the format 1 schema: no blaze_compacted, user_version 1.
      const raw = new DatabaseSync(path);
      raw.exec('DROP TABLE blaze_compacted; PRAGMA user_version = 1; PRAGMA wal_checkpoint(TRUNCATE);');
      raw.close();
      assert.equal(headerVersion(path), 1);
      assert.equal(checkStoreFile(path), 'present');

      const again = new SqliteStorage({ path });
      // Checkpointed at once: the header is current while the store is still open.
      assert.equal(headerVersion(path), FORMAT_VERSION);
      assert.deepEqual(again.getMeta('k'), b(7));
      assert.deepEqual(again.getRecordAndOpCount('bugs', 'r1'), { row: { state: b(3), doc: b(4) }, opCount: 2 });
      assert.deepEqual(again.loadVersions().get('aa'), { seq: 2, ahead: [] });
      assert.equal(again.compactOps('aa', 1, 10).length, 1);
      assert.equal(again.opCountOfRecord('bugs', 'r1'), 2);
      again.close();

      const third = new SqliteStorage({ path }); // already current: nothing to migrate
      assert.equal(third.opCount(), 1);
      assert.equal(third.opCountOfRecord('bugs', 'r1'), 2);
      third.close();
      assert.equal(headerVersion(path), FORMAT_VERSION);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("should keep a snapshot reader apart from another connection's writes, seeing those before it", () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'blaze.db');
      const s = new SqliteStorage({ path });
      const other = new SqliteStorage({ path });
      other.transaction(() => other.putRecord('bugs', 'a', { state: b(1), doc: b(1) }));
      const snap = s.snapshotReader();
      other.transaction(() => {
        other.putRecord('bugs', 'b', { state: b(2), doc: b(2) });
        other.setVersion('aa', { seq: 1, ahead: [] });
      });
      assert.deepEqual(
        [...snap.records()].map((r) => r.id),
        ['a'],
      );
      assert.deepEqual(snap.versions(), new Map());
      snap.close();
      other.close();
      s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should close a snapshot reader in the middle of a scan', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'blaze.db');
      const s = new SqliteStorage({ path });
      s.transaction(() => {
        for (let i = 0; i < 100; i++) s.putRecord('bugs', `r${i}`, { state: b(i), doc: b(i) });
      });
      const snap = s.snapshotReader();
      const iter = snap.records()[Symbol.iterator]();
      assert.equal(iter.next().value?.id, 'r0');
      snap.close();
      assert.throws(() => iter.next());
      s.transaction(() => s.putRecord('bugs', 'late', { state: b(1), doc: null }));
      s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
