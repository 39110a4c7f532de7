/**
 * Which committed inserts started their record (Engine.startsRecord): answered from the commit
 * for the op objects ops listeners get, the same as counting the record's ops in the store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../src/db/index.ts';
import type { Op } from '../../src/ops/op.ts';
import { SeededRandom } from '../../src/util/prng.ts';

describe('record starts', () => {
  it("should say an insert started its record only when it is the record's one op, on a full replica", async () => {
    const db = await BlazeDB.open({ storage: 'memory', dbId: 'starts', random: new SeededRandom(1) });
    try {
      const committed: Op[][] = [];
      db.engine.onOps((ops) => committed.push([...ops]));
      const bugs = db.collection('bugs');
      const starts = () => (committed.pop() as Op[]).map((op) => `${op.kind}:${db.engine.startsRecord(op)}`);
      await bugs.insert({ title: 'new' }, { id: 'a' });
      assert.deepEqual(starts(), ['insert:true']);
      await bugs.update('a', { title: 'edited' });
      assert.deepEqual(starts(), ['update:false']);
      await db.transaction(() => {
        bugs.insertNow({ title: 'b' }, { id: 'b' });
        bugs.updateNow('b', { title: 'b2' });
        bugs.insertNow({ title: 'c' }, { id: 'c' });
      });
      assert.deepEqual(starts(), ['insert:false', 'update:false', 'insert:true'], 'b has two ops in the log');
      await bugs.delete('c');
      assert.deepEqual(starts(), ['delete:false']);
      // An op object no commit here handed out (one decoded elsewhere): not known.
      assert.equal(db.engine.startsRecord({ ...(db.engine.opsAfter(db.nodeId, 0, 1, Infinity, Infinity)[0] as Op) }), undefined);
    } finally {
      await db.close();
    }
  });

  it('should know nothing on a partial replica (ops of records it does not hold may be parked)', async () => {
    const db = await BlazeDB.open({ storage: 'memory', dbId: 'starts', random: new SeededRandom(2) });
    try {
      await db.setSyncFilter({ collections: { bugs: { where: { team: 'red' } } } });
      const committed: Op[] = [];
      db.engine.onOps((ops) => committed.push(...ops));
      await db.collection('bugs').insert({ team: 'red' });
      assert.equal(db.engine.startsRecord(committed[0] as Op), undefined);
    } finally {
      await db.close();
    }
  });
});
