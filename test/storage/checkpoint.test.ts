import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../src/db/index.ts';
import { tempDir } from '../helpers/db.ts';

describe('WAL checkpoints', () => {
  it('should move committed pages into the main file from the worker thread, not in commits', async () => {
    const dir = tempDir();
    try {
      const db = await BlazeDB.open({ path: dir.path });
      const file = join(dir.path, 'blaze.db');
      const before = statSync(file).size;
      const bugs = db.collection('bugs');
      // Well under the 1,000 pages after which SQLite itself would checkpoint.
      for (let b = 0; b < 4; b++)
        db.transaction(() => Array.from({ length: 50 }, (_, i) => bugs.insertNow({ b, i, body: 'x'.repeat(100) })));
      // The store's own connection never checkpoints (autocheckpoint off): only the worker can
      // grow the main file while the store is open.
      const deadline = Date.now() + 10_000;
      while (statSync(file).size <= before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(statSync(file).size > before, 'the main file never grew: no checkpoint ran');
      assert.equal(await bugs.count(), 200);
      await db.close();
    } finally {
      dir.cleanup();
    }
  });
});
