import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../src/db/index.ts';
import { OpTailCache } from '../../src/db/op-tail-cache.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import type { Op } from '../../src/ops/op.ts';
import { SeededRandom } from '../../src/util/prng.ts';

const op = (node: string, seq: number) => ({ node: node as NodeId, seq, collection: 'c', record: `r${seq}` }) as unknown as Op;
const seqs = (ops: Op[] | undefined) => ops?.map((o) => o.seq);

describe('op tail cache', () => {
  it('should answer only reads that start inside a gapless run, bounded like the log', () => {
    const cache = new OpTailCache(100);
    for (let s = 5; s <= 9; s++) cache.add(op('a', s), 10);
    assert.deepEqual(seqs(cache.opsAfter('a', 4, 100, Infinity, Infinity)), [5, 6, 7, 8, 9]);
    assert.deepEqual(seqs(cache.opsAfter('a', 6, 2, Infinity, Infinity)), [7, 8]);
    assert.deepEqual(seqs(cache.opsAfter('a', 6, 100, 25, Infinity)), [7, 8]);
    assert.deepEqual(seqs(cache.opsAfter('a', 6, 100, 5, Infinity)), [7], 'at least one op');
    assert.deepEqual(seqs(cache.opsAfter('a', 4, 100, Infinity, 6)), [5, 6]);
    assert.equal(cache.opsAfter('a', 3, 100, Infinity, Infinity), undefined, 'seq 4 is not in the run: the log answers');
    assert.equal(cache.opsAfter('a', 9, 100, Infinity, Infinity), undefined);
    assert.equal(cache.opsAfter('b', 0, 100, Infinity, Infinity), undefined);
    // A gap (ops written elsewhere) starts the run again.
    cache.add(op('a', 12), 10);
    assert.equal(cache.opsAfter('a', 4, 100, Infinity, Infinity), undefined);
    assert.deepEqual(seqs(cache.opsAfter('a', 11, 100, Infinity, Infinity)), [12]);
    cache.add(op('a', 13), 10);
    cache.add(op('a', 14), 10);
    // Compaction removed a's ops through 13: reads from before 14 go to the log.
    cache.forget('a', 13);
    assert.equal(cache.opsAfter('a', 12, 100, Infinity, Infinity), undefined);
    assert.deepEqual(seqs(cache.opsAfter('a', 13, 100, Infinity, Infinity)), [14]);
    cache.clear();
    assert.equal(cache.opsAfter('a', 13, 100, Infinity, Infinity), undefined);
  });

  it('should keep at most its limit, dropping the oldest ops of the quietest origins first', () => {
    const cache = new OpTailCache(10);
    for (let s = 1; s <= 6; s++) cache.add(op('a', s), 1);
    for (let s = 1; s <= 6; s++) cache.add(op('b', s), 1);
    // 12 > 10: down to 9, from a's front.
    assert.equal(cache.opsAfter('a', 0, 100, Infinity, Infinity), undefined);
    assert.deepEqual(seqs(cache.opsAfter('a', 3, 100, Infinity, Infinity)), [4, 5, 6]);
    assert.deepEqual(seqs(cache.opsAfter('b', 0, 100, Infinity, Infinity)), [1, 2, 3, 4, 5, 6]);
    cache.limit = 0;
    assert.equal(cache.opsAfter('b', 3, 100, Infinity, Infinity), undefined);
  });

  it('should give sync sessions what the log holds, before and after compaction', async () => {
    const db = await BlazeDB.open({ storage: 'memory', dbId: 'tail', random: new SeededRandom(3) });
    db.engine.onOps(() => {}); // a listener, as a sync session would be
    const bugs = db.collection('bugs');
    for (let i = 0; i < 20; i++) await bugs.insert({ n: i });
    const node = db.nodeId;
    const fromLog = (after: number) => db.engine.storage.opsAfter(node, after, 1000).map((s) => db.engine.decodeStoredOp(s));
    for (const after of [0, 5, 19, 20]) assert.deepEqual(db.engine.opsAfter(node, after, 1000), fromLog(after));
    db.engine.compactOps(node, 10, 1000);
    assert.deepEqual(db.engine.opsAfter(node, 0, 1000), fromLog(0));
    assert.equal(db.engine.opsAfter(node, 0, 1000)[0]?.seq, 11);
    await db.close();
  });
});
