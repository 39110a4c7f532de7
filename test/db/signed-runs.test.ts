/**
 * Signed runs (src/db/signed-runs.ts): a device signs its own ops in bounded runs, once, and
 * keeps them across a restart; it keeps another device's run only when it can check it against
 * the ops it holds, from an author whose key names it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../src/db/index.ts';
import { MAX_RUN_OPS, type SignedRun } from '../../src/identity/run-signature.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { tempDir } from '../helpers/db.ts';

let seed = 7300;
const openMemory = () => BlazeDB.open({ storage: 'memory', dbId: 'shared', random: new SeededRandom(seed++) });

describe('signed runs', () => {
  it('should sign own ops in runs of at most MAX_RUN_OPS, once, and find them again after a restart', async () => {
    const dir = tempDir();
    try {
      let db = await BlazeDB.open({ path: dir.path, dbId: 'shared', random: new SeededRandom(1) });
      const bugs = db.collection('bugs');
      db.transaction(() => {
        for (let i = 0; i < MAX_RUN_OPS + 44; i++) bugs.insertNow({ n: i });
      });
      const made = db.signedRuns.signOwn(MAX_RUN_OPS + 44);
      assert.deepEqual(
        made.map((r) => [r.first, r.last]),
        [
          [1, MAX_RUN_OPS],
          [MAX_RUN_OPS + 1, MAX_RUN_OPS + 44],
        ],
      );
      assert.deepEqual(db.signedRuns.signOwn(MAX_RUN_OPS + 44), [], 'signed once');
      const node = db.nodeId;
      await db.close();
      db = await BlazeDB.open({ path: dir.path, random: new SeededRandom(2) });
      assert.deepEqual(
        db.signedRuns.overlapping(node, 200, 260).map((r) => r.first),
        [1, MAX_RUN_OPS + 1],
      );
      assert.equal(db.signedRuns.heldRunAt(node, 300)?.ops.length, 44);
      await db.close();
    } finally {
      dir.cleanup();
    }
  });

  it("should keep another device's run only from a known author, and only if it verifies against the ops held", async () => {
    const author = await openMemory();
    const keeper = await openMemory();
    try {
      for (let i = 0; i < 3; i++) await author.collection('bugs').insert({ n: i });
      const [run] = author.signedRuns.signOwn(3) as [SignedRun];
      const ops = author.engine.opsAfter(author.nodeId, 0, 10);
      const named = { node: author.nodeId, publicKey: author.publicKey, credentials: new Uint8Array(0) };
      assert.equal(keeper.signedRuns.keep(run, ops), false, 'no author known yet');
      assert.equal(keeper.signedRuns.keepAuthor({ ...named, publicKey: keeper.publicKey }), false, 'a key that does not name it');
      assert.ok(keeper.signedRuns.keepAuthor(named));
      assert.equal(keeper.signedRuns.keep(run), false, 'its ops are not held here');
      keeper.engine.applySync([{ kind: 'ops', ops: ops.slice(0, 2) }]);
      assert.equal(keeper.signedRuns.keep(run), false, 'not all of them');
      assert.equal(keeper.signedRuns.keep({ ...run, signature: new Uint8Array(64) }, ops), false, 'a bad signature');
      keeper.engine.applySync([{ kind: 'ops', ops: ops.slice(2) }]);
      assert.ok(keeper.signedRuns.keep(run));
      assert.deepEqual(keeper.signedRuns.heldRunAt(author.nodeId, 2)?.run, run);
    } finally {
      for (const db of [author, keeper]) await db.close();
    }
  });

  it('should end a run at a gap left by a voided op', async () => {
    const db = await openMemory();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await db.collection('bugs').insert({ n: i }));
      // A relay refused the second write (a void): its op leaves the log.
      db.engine.applySync([{ kind: 'void', node: db.nodeId, from: 2, to: 2 }]);
      assert.deepEqual(
        db.signedRuns.signOwn(4).map((r) => [r.first, r.last]),
        [
          [1, 1],
          [3, 4],
        ],
      );
    } finally {
      await db.close();
    }
  });
});
