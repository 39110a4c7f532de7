/**
 * VOID over sessions: a relay's verdicts reach full and partial peers (at admission and live),
 * devices pass them on to each other, void dots never stall the pump, and a relay takes no
 * verdict from a device.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../src/db/index.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import type { Op } from '../../src/ops/op.ts';
import { createPipe, databaseSource, type SyncError, SyncSession, type SyncSessionInit } from '../../src/sync/index.ts';
import { encodeMessage } from '../../src/sync/messages.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { makeReplica, node } from '../helpers/replicas.ts';
import { helloFrame, manualScheduler, settle } from '../helpers/sync.ts';

let seed = 900;
const openDb = () => BlazeDB.open({ storage: 'memory', dbId: 'shared', random: new SeededRandom(seed++) });

function connect(a: BlazeDB, b: BlazeDB, roles: { a?: SyncSessionInit['role']; b?: SyncSessionInit['role'] } = {}) {
  const [x, y] = createPipe();
  const sa = new SyncSession({ source: databaseSource(a), duplex: x, role: roles.a ?? 'peer' });
  const sb = new SyncSession({ source: databaseSource(b), duplex: y, role: roles.b ?? 'peer' });
  sa.start();
  sb.start();
  return [sa, sb] as const;
}

/** An author's three inserts; the judge at `relay` refuses the ones titled 'bad'. */
function authorOps(titles: string[]): Op[] {
  // Stamped in the past, so the databases' later writes (wall clock) win over them.
  const { replica } = makeReplica(node('a'), 1_700_000_000_000);
  return titles.map((title, i) => replica.insert('bugs', `b${i}`, { title }));
}
const refuseBad = (_op: Op, _before: unknown, after: { title?: unknown } | undefined) => after?.title !== 'bad';

describe('voids over sync sessions', () => {
  it('should count void dots at full and partial peers, at admission and live, without stalling later ops', async () => {
    const relay = await openDb();
    const peerRelay = await openDb();
    const partial = await openDb();
    await partial.setSyncFilter({ collections: { bugs: {} } });
    try {
      const [ok, bad, late] = authorOps(['ok', 'bad', 'bad']) as [Op, Op, Op];
      // A void at the tail of the author's dots, before any session.
      relay.engine.applySync([{ kind: 'ops', ops: [ok, bad] }], undefined, refuseBad);
      connect(relay, peerRelay, { a: 'relay', b: 'relay' });
      connect(relay, partial, { a: 'relay' });
      await settle();
      for (const db of [peerRelay, partial]) {
        assert.equal(db.engine.replica.version.get(node('a')), 2, 'both dots counted');
        assert.ok(db.engine.isVoid(bad.node, bad.seq), 'the verdict came at admission');
        assert.deepEqual(await db.collection('bugs').find({}), [{ _id: 'b0', title: 'ok' }]);
      }
      // Later ops of any origin still flow (an origin whose last dots are void is not "behind"):
      // an update of a record the peers hold goes through the pump.
      await relay.collection('bugs').update('b0', { title: 'edited at the relay' });
      await settle();
      for (const db of [peerRelay, partial]) assert.equal((await db.collection('bugs').get('b0'))?.title, 'edited at the relay');
      // A verdict made live goes to both at once.
      relay.engine.applySync([{ kind: 'ops', ops: [late] }], undefined, refuseBad);
      await settle();
      for (const db of [peerRelay, partial]) {
        assert.ok(db.engine.isVoid(late.node, late.seq));
        assert.equal(db.engine.replica.version.get(node('a')), 3);
      }
    } finally {
      for (const db of [relay, peerRelay, partial]) await db.close();
    }
  });

  it('should send a partial peer a record again when a void undoes the write that had moved it out of its filter', async () => {
    const relay = await openDb();
    const partial = await openDb();
    await partial.setSyncFilter({ collections: { bugs: { where: { team: 'red' } } } });
    try {
      const { replica } = makeReplica(node('a'), 1_700_000_000_000);
      const insert = replica.insert('bugs', 'x', { team: 'red', title: 'red bug' });
      const moveOut = replica.update('bugs', 'x', { team: 'blue' });
      relay.engine.applySync([{ kind: 'ops', ops: [insert] }]);
      connect(relay, partial, { a: 'relay' });
      await settle();
      assert.equal((await partial.collection('bugs').get('x'))?.title, 'red bug');
      relay.engine.applySync([{ kind: 'ops', ops: [moveOut] }]);
      await settle();
      assert.equal(await partial.collection('bugs').get('x'), undefined, 'gone from the partial replica');
      // Another relay's verdict: the move was refused. Nothing else will tell the partial peer.
      relay.engine.applySync([{ kind: 'void', node: moveOut.node, from: moveOut.seq, to: moveOut.seq }]);
      await settle();
      assert.deepEqual(await partial.collection('bugs').get('x'), { _id: 'x', team: 'red', title: 'red bug' });
    } finally {
      for (const db of [relay, partial]) await db.close();
    }
  });

  it('should not hold later ops back behind void dots while skipped dots wait to be merged', async () => {
    const relay = await openDb();
    const partial = await openDb();
    await partial.setSyncFilter({ collections: { bugs: { where: { team: 'red' } } } });
    try {
      const mine = await relay.collection('bugs').insert({ team: 'red', title: 'red' });
      const { replica } = makeReplica(node('a'), 1_700_000_000_000);
      const blue = replica.insert('bugs', 'blue', { team: 'blue', title: 'blue' });
      const bad = replica.insert('bugs', 'bad', { team: 'red', title: 'bad' });
      relay.engine.applySync([{ kind: 'ops', ops: [blue, bad] }], undefined, refuseBad);
      // The relay merges skipped dots for a while (a relay's 2 s): the author's first dot waits.
      const scheduler = manualScheduler();
      const [x, y] = createPipe();
      new SyncSession({ source: databaseSource(relay), duplex: x, role: 'relay', scheduler, skipDelayMs: 2_000 }).start();
      new SyncSession({ source: databaseSource(partial), duplex: y, scheduler }).start();
      await settle();
      scheduler.advance(0);
      await settle();
      assert.equal((await partial.collection('bugs').get(mine))?.title, 'red');
      await relay.collection('bugs').update(mine, { title: 'red, edited' });
      scheduler.advance(0);
      await settle();
      assert.equal((await partial.collection('bugs').get(mine))?.title, 'red, edited', 'not held back behind the void');
    } finally {
      for (const db of [relay, partial]) await db.close();
    }
  });

  it('should remove a refused op from a device that had it, and pass the verdict on to a device that never meets the relay', async () => {
    const relay = await openDb();
    const phone = await openDb();
    const laptop = await openDb();
    try {
      const [ok, bad] = authorOps(['ok', 'bad']) as [Op, Op];
      // Both devices got the author's ops directly (a LAN), before any relay judged them.
      for (const db of [phone, laptop]) db.engine.applySync([{ kind: 'ops', ops: [ok, bad] }]);
      assert.equal(await laptop.collection('bugs').count(), 2);
      relay.engine.applySync([{ kind: 'ops', ops: [ok, bad] }], undefined, refuseBad);
      connect(phone, laptop);
      connect(relay, phone, { a: 'relay' });
      await settle();
      for (const db of [phone, laptop]) {
        assert.ok(db.engine.isVoid(bad.node, bad.seq));
        assert.deepEqual(await db.collection('bugs').find({}), [{ _id: 'b0', title: 'ok' }]);
        assert.equal(db.engine.storage.getOp(bad.node, bad.seq), undefined);
      }
    } finally {
      for (const db of [relay, phone, laptop]) await db.close();
    }
  });

  it('should send a long verdict in parts, and close a peer that sends more than a frame may hold', async () => {
    const relay = await openDb();
    const device = await openDb();
    const other = await openDb();
    try {
      // Two and a half million void dots of one origin (a flood of refused writes).
      relay.engine.applySync([{ kind: 'void', node: node('a'), from: 1, to: 2_500_000 }]);
      connect(relay, device, { a: 'relay' });
      await settle();
      assert.equal(device.engine.replica.version.get(node('a')), 2_500_000);
      assert.deepEqual(device.engine.voidRanges(), [{ node: node('a'), from: 1, to: 2_500_000 }]);

      const [x, y] = createPipe();
      const session = new SyncSession({ source: databaseSource(other), duplex: x });
      const closed = new Promise<SyncError>((resolve) => session.onClose(resolve));
      session.start();
      y.send(helloFrame({ nodeId: node('r') as NodeId, minor: 3, dbId: 'shared', role: 'relay' }));
      y.send(encodeMessage({ type: 'void', ranges: [{ node: node('a'), from: 1, to: 2 ** 40 }] }));
      const reason = await closed;
      assert.equal(reason.code, 'protocol');
      assert.match(reason.message, /at most 1000000 per frame/);
      assert.equal(other.engine.replica.version.get(node('a')), 0);
    } finally {
      for (const db of [relay, device, other]) await db.close();
    }
  });

  it('should close a session whose device sends a relay a VOID, applying nothing', async () => {
    const relay = await openDb();
    try {
      const [ok] = authorOps(['ok']) as [Op];
      relay.engine.applySync([{ kind: 'ops', ops: [ok] }]);
      const [x, y] = createPipe();
      const session = new SyncSession({ source: databaseSource(relay), duplex: x, role: 'relay' });
      const closed = new Promise<SyncError>((resolve) => session.onClose(resolve));
      session.start();
      y.send(helloFrame({ nodeId: node('d') as NodeId, minor: 3, dbId: 'shared' }));
      y.send(encodeMessage({ type: 'void', ranges: [{ node: ok.node, from: 1, to: 1 }] }));
      const reason = await closed;
      assert.equal(reason.code, 'protocol');
      assert.equal(relay.engine.isVoid(ok.node, 1), false);
      assert.equal((await relay.collection('bugs').get('b0'))?.title, 'ok');
    } finally {
      await relay.close();
    }
  });
});
