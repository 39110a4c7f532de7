/**
 * Signed runs (src/db/signed-runs.ts): a device signs its own ops in bounded runs, once, and
 * keeps them across a restart; it keeps another device's run only when it can check it against
 * the ops it holds, from an author whose key names it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../src/db/index.ts';
import { MAX_RUN_OPS, type SignedRun } from '../../src/identity/run-signature.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { tempDir } from '../helpers/db.ts';
import { link, openGcDb, testClock } from '../helpers/gc.ts';
import { settle } from '../helpers/sync.ts';

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

  it('should forget runs once GC compacted their ops (every live member holds them)', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true } });
    const device = await openGcDb(clock);
    try {
      for (let i = 0; i < 3; i++) await device.collection('bugs').insert({ n: i });
      assert.equal(device.signedRuns.signOwn(3).length, 1);
      const session = await link(device, relay, 'relay');
      await relay.compact();
      await settle();
      await session.close();
      assert.ok((await device.compact()).removed > 0, 'the device compacted its ops');
      assert.deepEqual(device.signedRuns.overlapping(device.nodeId, 1, 3), []);
      assert.equal([...device.engine.storage.scanMeta('run:')].length, 0, 'gone from the store too');
    } finally {
      for (const db of [relay, device]) await db.close();
    }
  });

  it("should seal other devices' tokens in an encrypted store, and read them back", async () => {
    const dir = tempDir();
    const key = new SeededRandom(5).bytes(32);
    const author = await openMemory();
    try {
      const token = new TextEncoder().encode('eyJ.a-device-token-that-must-not-be-readable.sig');
      let db = await BlazeDB.open({ path: dir.path, dbId: 'shared', encryption: { key }, random: new SeededRandom(6) });
      assert.ok(db.signedRuns.keepAuthor({ node: author.nodeId, publicKey: author.publicKey, credentials: token }));
      await db.close();
      const needle = Buffer.from('a-device-token-that-must-not-be-readable');
      for (const file of readdirSync(dir.path)) assert.equal(readFileSync(join(dir.path, file)).indexOf(needle), -1, `plain in ${file}`);
      db = await BlazeDB.open({ path: dir.path, encryption: { key }, random: new SeededRandom(7) });
      assert.deepEqual(db.signedRuns.author(author.nodeId)?.credentials, token);
      await db.close();
    } finally {
      await author.close();
      dir.cleanup();
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
