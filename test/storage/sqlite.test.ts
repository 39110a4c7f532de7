import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { NotABlazeStoreError, SqliteStorage, StoreVersionError } from '../../src/storage/index.ts';
import { runStorageTests } from './suite.ts';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'blaze-sqlite-'));
}

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
});
