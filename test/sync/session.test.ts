import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchReadContext, BatchWriteContext } from '../../src/codec/index.ts';
import { BlazeDB } from '../../src/db/index.ts';
import type { Op } from '../../src/ops/op.ts';
import { createPipe, databaseSource, type FrameDuplex, SyncSession, type SyncSessionInit } from '../../src/sync/index.ts';
import { decodeMessage, encodeMessage } from '../../src/sync/messages.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { helloFrame, manualScheduler, settle } from '../helpers/sync.ts';

let seed = 1;
async function openDb(dbId = 'shared', start = 1_800_000_000_000) {
  const wall = { time: start, now: () => wall.time };
  const db = await BlazeDB.open({ storage: 'memory', dbId, wallClock: wall, random: new SeededRandom(seed++) });
  return { db, wall };
}

/** Connects two databases over an in-memory pipe; returns both sessions. */
function connect(a: BlazeDB, b: BlazeDB, options: Partial<SyncSessionInit> = {}, pipe = createPipe()) {
  const sa = new SyncSession({ source: databaseSource(a), duplex: pipe[0], ...options });
  const sb = new SyncSession({ source: databaseSource(b), duplex: pipe[1], ...options });
  sa.start();
  sb.start();
  return [sa, sb] as const;
}

/** Two stores, a with three records, and a pipe whose a-side duplicates its 2nd OPS frame or sends its 1st after the 2nd. */
async function faultyOpsPipe(fault: 'duplicate' | 'reorder') {
  const { db: a } = await openDb();
  const { db: b } = await openDb();
  for (let i = 0; i < 3; i++) await a.collection('bugs').insert({ k: i, title: `t${i}` }, { id: `r${i}` });
  const [x, y] = createPipe();
  const send = x.send.bind(x);
  let held: Uint8Array | undefined;
  let opsFrames = 0;
  x.send = (frame) => {
    if (frame[0] !== 0x02) return send(frame);
    opsFrames++;
    if (fault === 'duplicate' && opsFrames === 2) return send(frame) && send(frame);
    if (fault === 'reorder' && opsFrames === 1) {
      held = frame;
      return true;
    }
    const ok = send(frame);
    if (held) send(held);
    held = undefined;
    return ok;
  };
  return { a, b, x, y };
}

async function snapshot(db: BlazeDB, collection = 'bugs') {
  return (await db.collection(collection).find({}, { sort: { k: 1 } })).map((r) => ({ ...r }));
}

describe('sync sessions', () => {
  it('should exchange what each side lacks, then push live writes both ways', async () => {
    const { db: a } = await openDb();
    const { db: b } = await openDb();
    await a.collection('bugs').insert({ k: 1, title: 'from a' }, { id: 'x' });
    await b.collection('bugs').insert({ k: 2, title: 'from b' }, { id: 'y' });
    const [sa, sb] = connect(a, b);
    await settle();
    assert.equal(sa.state, 'syncing');
    assert.deepEqual(await snapshot(a), await snapshot(b));
    assert.equal((await snapshot(a)).length, 2);

    let seen = 0;
    b.collection('bugs').subscribe({ k: 3 }, (r) => {
      seen = r.records.length;
    });
    await a.collection('bugs').insert({ k: 3 }, { id: 'z' });
    await settle();
    assert.equal(seen, 1);
    await b.collection('bugs').update('z', { title: 'edited on b' });
    await settle();
    assert.equal((await a.collection('bugs').get('z'))?.title, 'edited on b');
    assert.deepEqual(sa.peerAck?.version.get(a.nodeId), a.stats().versionVector[a.nodeId]);
    assert.equal(sb.peer?.nodeId, a.nodeId);
  });

  it('should merge concurrent offline edits of every field kind, counters exact', async () => {
    const { db: a, wall: wa } = await openDb();
    const { db: b, wall: wb } = await openDb();
    for (const db of [a, b]) await db.collection('bugs').declare({ views: 'counter', tags: 'set', owner: 'mv' });
    const [sa] = connect(a, b);
    await a.collection('bugs').insert({ k: 1, title: 't', views: 0, tags: ['ui'], owner: 'ann', status: 'open' }, { id: 'r' });
    await settle();
    sa.close();
    await settle();
    // Offline: both edit.
    wa.time += 10;
    wb.time += 20;
    for (let i = 0; i < 5; i++) {
      await a.collection('bugs').increment('r', 'views', 1);
      await b.collection('bugs').increment('r', 'views', 2);
    }
    await a.collection('bugs').update('r', { title: 'a title', owner: 'bob' });
    await b.collection('bugs').update('r', { status: 'closed', owner: 'cid' });
    await a.collection('bugs').remove('r', 'tags', 'ui');
    await b.collection('bugs').add('r', 'tags', 'ui');
    await b.collection('bugs').add('r', 'tags', 'login');
    connect(a, b);
    await settle();
    const ra = await a.collection('bugs').get('r');
    assert.deepEqual(ra, await b.collection('bugs').get('r'));
    assert.equal(ra?.views, 15);
    assert.equal(ra?.title, 'a title');
    assert.equal(ra?.status, 'closed');
    assert.deepEqual(ra?.tags, ['login', 'ui']); // b's concurrent add wins over a's remove
    assert.deepEqual((await a.collection('bugs').conflicts('r'))[0]?.values.slice().sort(), ['bob', 'cid']);
  });

  it('should forward across hops (A - relay - C) and converge in a cycle without a storm', async () => {
    const nodes = await Promise.all([openDb(), openDb(), openDb(), openDb(), openDb()]);
    const [a, r, c] = nodes.map((n) => n.db) as [BlazeDB, BlazeDB, BlazeDB];
    connect(a, r);
    connect(r, c);
    await a.collection('bugs').insert({ k: 1 }, { id: 'hop' });
    await settle();
    assert.deepEqual(await c.collection('bugs').get('hop'), { _id: 'hop', k: 1 });

    // A 5-node ring plus one chord: every node writes, everyone converges.
    const dbs = nodes.map((n) => n.db);
    const frames = { count: 0 };
    const counted = () => {
      const [x, y] = createPipe();
      for (const end of [x, y]) {
        const send = end.send.bind(end);
        end.send = (f) => {
          frames.count++;
          return send(f);
        };
      }
      return [x, y] as [FrameDuplex, FrameDuplex];
    };
    const links: [number, number][] = [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 0],
      [0, 2],
    ];
    for (const [i, j] of links) connect(dbs[i] as BlazeDB, dbs[j] as BlazeDB, {}, counted());
    for (const [i, db] of dbs.entries()) for (let n = 0; n < 10; n++) await db.collection('bugs').insert({ k: i * 100 + n });
    await settle();
    const first = await snapshot(dbs[0] as BlazeDB);
    assert.equal(first.length, 51);
    for (const db of dbs) assert.deepEqual(await snapshot(db), first);
    // Each of the 50 writes crosses each link at most once per direction, plus acks and hellos.
    assert.ok(frames.count < links.length * 2 * (50 + 50 + 2), `${frames.count} frames`);
  });

  it('should stay exact with duplicated sessions between the same two nodes', async () => {
    const { db: a } = await openDb();
    const { db: b } = await openDb();
    for (const db of [a, b]) await db.collection('bugs').declare({ n: 'counter' });
    await a.collection('bugs').insert({ k: 1, n: 0 }, { id: 'c' });
    // Three sessions at once between the same pair, writes on both sides while they run.
    for (let i = 0; i < 3; i++) connect(a, b, { batchOps: 3 });
    for (let i = 0; i < 20; i++) {
      await a.collection('bugs').increment('c', 'n', 1);
      await settle();
      await b.collection('bugs').increment('c', 'n', 10);
    }
    await settle();
    assert.equal((await a.collection('bugs').get('c'))?.n, 220);
    assert.equal((await b.collection('bugs').get('c'))?.n, 220);
    assert.equal(a.stats().opCount, b.stats().opCount);
  });

  it('should resume after a drop: nothing applied twice, nothing skipped', async () => {
    const { db: a } = await openDb();
    const { db: b } = await openDb();
    await a.collection('bugs').declare({ n: 'counter' });
    await a.collection('bugs').insert({ k: 1, n: 0 }, { id: 'c' });
    for (let i = 0; i < 300; i++) await a.collection('bugs').increment('c', 'n', 1);
    // Small frames and a tiny pipe (the sender waits for drains); the first session is dropped
    // right after B applied its first frame.
    const [sa] = connect(a, b, { batchOps: 7 }, createPipe({ highWaterMark: 200 }));
    const stop = b.engine.onOps(() => {
      stop();
      sa.close();
    });
    await settle();
    const partial = (await b.collection('bugs').get('c'))?.n as number | undefined;
    connect(a, b, { batchOps: 7 });
    await settle();
    assert.equal((await b.collection('bugs').get('c'))?.n, 300);
    assert.ok(partial === undefined || partial < 300, 'the first session should not have finished');
  });

  it('should stop a restored store from writing once a peer shows it holds more of its own id', async () => {
    const dir = (await import('../helpers/db.ts')).tempDir();
    const { cpSync } = await import('node:fs');
    try {
      const original = await BlazeDB.open({ path: `${dir.path}/device`, dbId: 'shared' });
      await original.collection('bugs').insert({ k: 1 }, { id: 'x' });
      await original.close();
      cpSync(`${dir.path}/device`, `${dir.path}/backup`, { recursive: true });
      const device = await BlazeDB.open({ path: `${dir.path}/device` });
      await device.collection('bugs').update('x', { k: 2 });
      const { db: peer } = await openDb();
      connect(device, peer);
      await settle();
      await device.close();
      const restored = await BlazeDB.open({ path: `${dir.path}/backup` });
      connect(restored, peer);
      await settle();
      await assert.rejects(restored.collection('bugs').update('x', { k: 3 }), { name: 'IdentityReusedError' });
      assert.equal((await restored.collection('bugs').get('x'))?.k, 2); // it got the lost write back
      await restored.close();
      // Still refused after a restart: the store holds ops of its id that it did not issue.
      const reopened = await BlazeDB.open({ path: `${dir.path}/backup` });
      await assert.rejects(reopened.collection('bugs').update('x', { k: 3 }), { name: 'IdentityReusedError' });
      const oldId = reopened.nodeId;
      const newId = await reopened.renewIdentity();
      assert.notEqual(newId, oldId);
      await reopened.collection('bugs').update('x', { k: 3 });
      connect(reopened, peer);
      await settle();
      assert.equal((await peer.collection('bugs').get('x'))?.k, 3);
      assert.equal(peer.stats().versionVector[newId], 1);
      await reopened.close();
      const again = await BlazeDB.open({ path: `${dir.path}/backup` });
      assert.equal(again.nodeId, newId);
      await again.collection('bugs').update('x', { k: 4 });
      await again.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should refuse another database, an unknown major version and refused credentials, sending nothing', async () => {
    const { db: a } = await openDb('one');
    const { db: b } = await openDb('two');
    await a.collection('bugs').insert({ k: 1 });
    const [sa, sb] = connect(a, b);
    await settle();
    assert.equal(sa.closeReason?.code, 'wrong-database');
    assert.ok(sb.closeReason);
    assert.equal(await b.collection('bugs').count(), 0);

    const { db: c } = await openDb('one');
    const [sa2] = connect(a, c, { authorize: (hello) => (hello.credentials.length > 0 ? true : 'no token') });
    await settle();
    assert.equal(sa2.closeReason?.code, 'unauthorized');
    assert.equal(await c.collection('bugs').count(), 0);

    const [x, y] = createPipe();
    const session = new SyncSession({ source: databaseSource(a), duplex: x });
    session.start();
    const received: Uint8Array[] = [];
    y.onFrame((f) => received.push(f));
    y.send(helloFrame({ major: 2, dbId: 'one', nodeId: c.nodeId }));
    await settle();
    assert.equal(session.closeReason?.code, 'version-unsupported');
    assert.equal(received.length, 2); // its HELLO and the CLOSE, no ops
  });

  it('should wait for an asynchronous authorizer, keeping the frames that arrive meanwhile in order', async () => {
    const { db: a } = await openDb('one');
    const { db: b } = await openDb('one');
    for (let k = 0; k < 50; k++) await a.collection('bugs').insert({ k });
    await b.collection('bugs').insert({ k: 100 });
    const slowYes = async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return true as const;
    };
    // b judges slowly; a (which does not wait) sends its ops right after its HELLO.
    const pipe = createPipe();
    const sa = new SyncSession({ source: databaseSource(a), duplex: pipe[0] });
    const sb = new SyncSession({ source: databaseSource(b), duplex: pipe[1], authorize: slowYes });
    sa.start();
    sb.start();
    await new Promise((resolve) => setTimeout(resolve, 60));
    await settle();
    assert.equal(sb.closeReason, undefined);
    assert.equal(await b.collection('bugs').count(), 51);
    assert.equal(await a.collection('bugs').count(), 51);

    const { db: c } = await openDb('one');
    const slowNo = async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return 'token expired';
    };
    const [sa2, sc] = connect(a, c, { authorize: slowNo });
    await new Promise((resolve) => setTimeout(resolve, 60));
    await settle();
    assert.equal(sc.closeReason?.code, 'unauthorized');
    assert.equal(sa2.closeReason?.code, 'unauthorized');
    assert.equal(await c.collection('bugs').count(), 0);
  });

  it('should still send a peer what it lacks after the peer sent back an op this side already had', async () => {
    // Found by the simulator: a duplicate from the peer used to mark everything this side held
    // of that origin as held by the peer, so ops waiting for the batch window never went.
    const { db: c } = await openDb();
    const { db: fake } = await openDb();
    await c.collection('bugs').insert({ k: 1 }, { id: 'one' });
    const scheduler = manualScheduler();
    const [x, y] = createPipe();
    const session = new SyncSession({ source: databaseSource(c), duplex: x, scheduler, batchWindowMs: 10 });
    const received: number[] = [];
    const inStream = new BatchReadContext();
    y.onFrame((frame) => {
      const m = decodeMessage(frame, 1 << 22, inStream);
      if (m.type === 'ops') for (const op of m.ops) received.push(op.seq);
    });
    session.start();
    y.send(helloFrame({ nodeId: fake.nodeId, version: new Map([[c.nodeId, 1]]) }));
    await settle();
    await c.collection('bugs').insert({ k: 2 }, { id: 'two' }); // waits for the batch window
    const [own] = c.engine.opsAfter(c.nodeId, 0, 1);
    y.send(encodeMessage({ type: 'ops', ops: [own as Op] }, new BatchWriteContext()));
    await settle();
    scheduler.advance(10);
    await settle();
    assert.equal(session.state, 'syncing');
    assert.deepEqual(received, [2]);
  });

  it('should refuse a duplicated or reordered OPS frame instead of misreading the interning stream', async () => {
    for (const fault of ['duplicate', 'reorder'] as const) {
      const { a, b, x, y } = await faultyOpsPipe(fault);
      const sa = new SyncSession({ source: databaseSource(a), duplex: x, batchOps: 1 });
      const sb = new SyncSession({ source: databaseSource(b), duplex: y, batchOps: 1 });
      sa.start();
      sb.start();
      await settle();
      assert.equal(sb.closeReason?.code, 'malformed-frame', fault);
      // What was applied is exactly what arrived in order; a clean session then completes it.
      for (const r of await b.collection('bugs').find({})) assert.deepEqual(r, await a.collection('bugs').get(r._id));
      connect(a, b);
      await settle();
      assert.deepEqual(await snapshot(b), await snapshot(a), fault);
    }
  });

  it('should apply a duplicated standalone OPS frame once and close on a reordered one, applying nothing past the gap', async () => {
    for (const fault of ['duplicate', 'reorder'] as const) {
      const { a, b, x, y } = await faultyOpsPipe(fault);
      const sa = new SyncSession({ source: databaseSource(a), duplex: x, batchOps: 1, shareFrames: () => true });
      const sb = new SyncSession({ source: databaseSource(b), duplex: y, batchOps: 1 });
      sa.start();
      sb.start();
      await settle();
      if (fault === 'duplicate') {
        assert.equal(sb.state, 'syncing');
        assert.equal(sb.stats.duplicateOpsReceived, 1);
        assert.deepEqual(await snapshot(b), await snapshot(a));
        continue;
      }
      assert.equal(sb.closeReason?.code, 'gap');
      assert.deepEqual(await snapshot(b), [], 'the op after the gap is not applied');
      connect(a, b);
      await settle();
      assert.deepEqual(await snapshot(b), await snapshot(a), fault);
    }
  });

  it('should close on a malformed frame, an oversize frame and an op that skips ahead, applying nothing', async () => {
    const cases: [string, (peer: FrameDuplex, a: BlazeDB) => void][] = [
      ['malformed-frame', (peer) => peer.send(Uint8Array.of(0x02, 0x00, 0x12, 0xff))],
      ['frame-too-large', (peer) => peer.send(new Uint8Array(5000))],
      [
        'gap',
        (peer, a) =>
          peer.send(
            encodeMessage(
              {
                type: 'ops',
                ops: [
                  {
                    node: 'abcdefabcdefabcd' as never,
                    seq: 5,
                    wall: 1,
                    counter: 0,
                    collection: 'bugs',
                    record: 'x',
                    kind: 'insert',
                    fields: [],
                  },
                ],
                // The first batch of the sender's stream, as a real session would number it.
              },
              new BatchWriteContext(),
            ),
          ) && void a,
      ],
    ];
    for (const [code, attack] of cases) {
      const { db: a } = await openDb();
      const { db: evil } = await openDb();
      const [x, y] = createPipe();
      const session = new SyncSession({ source: databaseSource(a), duplex: x, maxFrameBytes: 4096 });
      session.start();
      y.send(helloFrame({ nodeId: evil.nodeId }));
      await settle();
      attack(y, a);
      await settle();
      assert.equal(session.closeReason?.code, code);
      assert.equal(a.stats().opCount, 0, `${code}: nothing applied`);
      // The peer can reconnect cleanly afterwards.
      const [s2] = connect(a, evil);
      await settle();
      assert.equal(s2.state, 'syncing', code);
    }
  });
});
