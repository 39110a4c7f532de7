/**
 * Selective sync: partial replicas hold the records their filter matches (without excluded
 * fields), records entering the filter arrive whole, records leaving it are dropped locally,
 * skipped dots advance the partial replica's vector, and a partial replica serves full peers
 * only its own writes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BlazeDB } from '../../src/db/index.ts';
import {
  createPipe,
  databaseSource,
  FilterError,
  SyncFilter,
  SyncSession,
  type SyncSessionInit,
  type SyncSource,
} from '../../src/sync/index.ts';
import { encodeMessage } from '../../src/sync/messages.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { tempDir } from '../helpers/db.ts';
import { checkProperty } from '../helpers/property.ts';
import { helloFrame, manualScheduler, settle, watchSent } from '../helpers/sync.ts';

let seed = 500;
async function openDb() {
  return BlazeDB.open({ storage: 'memory', dbId: 'shared', random: new SeededRandom(seed++) });
}

function connect(a: BlazeDB, b: BlazeDB, options: Partial<SyncSessionInit> = {}) {
  const [x, y] = createPipe();
  const sa = new SyncSession({ source: databaseSource(a), duplex: x, ...options });
  const sb = new SyncSession({ source: databaseSource(b), duplex: y, ...options });
  sa.start();
  sb.start();
  return [sa, sb] as const;
}

const ANNS = { collections: { bugs: { where: { assignee: 'ann' }, exclude: ['notes'] } } };

/** A full replica with bugs for ann and bob, a counter, a set, and a collection outside the filter. */
async function seeded() {
  const server = await openDb();
  const bugs = server.collection('bugs');
  await bugs.declare({ votes: 'counter', tags: 'set' });
  for (let i = 0; i < 6; i++) {
    await bugs.insert(
      { title: `bug ${i}`, assignee: i % 2 === 0 ? 'ann' : 'bob', votes: i, tags: ['t'], notes: 'secret' },
      { id: `b${i}` },
    );
  }
  await server.collection('users').insert({ name: 'ann' }, { id: 'ann' });
  return server;
}

async function ids(db: BlazeDB, collection = 'bugs') {
  return (await db.collection(collection).find({}, { sort: { title: 1 } })).map((r) => r._id);
}

/** A database as a sync source that records each read of its op log (the origin asked for). */
function countingReads(db: BlazeDB) {
  const source = databaseSource(db);
  const reads: string[] = [];
  const counting: SyncSource = {
    ...source,
    opsAfter: (...args) => {
      reads.push(args[0]);
      return source.opsAfter(...args);
    },
  };
  return { source: counting, reads };
}

/** What the partial replica should show: the server's matching records without excluded fields. */
async function expectedFor(server: BlazeDB, where: Record<string, unknown>, exclude: string[] = ['notes']) {
  const records = await server.collection('bugs').find(where, { sort: { title: 1 } });
  return records.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !exclude.includes(k))));
}

describe('selective sync', () => {
  it('should refuse bad filters with a typed error and keep the replica as it was', async () => {
    const db = await openDb();
    const bad: unknown[] = [
      undefined,
      null,
      [],
      {},
      { collections: {} },
      { collections: { bugs: 1 } },
      { collections: { bugs: { where: { $bogus: 1 } } } },
      { collections: { bugs: { where: { notes: 'x' }, exclude: ['notes'] } } },
      { collections: { bugs: { exclude: 'notes' } } },
      { collections: { bugs: { exclude: [3] } } },
      { collections: { bugs: { sort: 1 } } },
      { collections: { '': {} } },
      { collections: { bugs: {} }, extra: true },
    ];
    for (const filter of bad) {
      await assert.rejects(db.setSyncFilter(filter as never), (err: Error) => err instanceof FilterError, JSON.stringify(filter));
    }
    assert.equal(db.syncFilter, undefined);
    await db.setSyncFilter(ANNS);
    await assert.rejects(db.setSyncFilter(undefined as never), FilterError);
    assert.deepEqual(db.syncFilter, ANNS);
  });

  it('should send a partial replica only matching records, without excluded fields, and count every dot', async () => {
    const server = await seeded();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    const [ss] = connect(server, phone);
    await settle();
    assert.deepEqual(await phone.collection('bugs').find({}, { sort: { title: 1 } }), await expectedFor(server, { assignee: 'ann' }));
    assert.deepEqual(await ids(phone, 'users'), []);
    assert.equal((await phone.collection('bugs').get('b0'))?.votes, 0);
    // Skipped dots count: the partial replica's vector is the server's, and its ACK says so.
    assert.deepEqual(phone.stats().versionVector, server.stats().versionVector);
    assert.deepEqual(Object.fromEntries(ss.peerAck?.version ?? []), server.stats().versionVector);
    assert.ok(phone.stats().opCount < server.stats().opCount);
  });

  it('should skip commits with nothing for a live partial peer without reading them back from the log', async () => {
    const server = await seeded();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    const { source: counting, reads } = countingReads(server);
    const [x, y] = createPipe();
    new SyncSession({ source: counting, duplex: x }).start();
    new SyncSession({ source: databaseSource(phone), duplex: y }).start();
    await settle();
    const readsWhenLive = reads.length;
    // Bob's bugs and another collection: dots the phone counts as skipped, judged per commit.
    for (let i = 0; i < 20; i++) await server.collection('bugs').insert({ title: `bob ${i}`, assignee: 'bob' });
    await server.collection('users').insert({ name: 'bob' });
    await settle();
    assert.equal(reads.length, readsWhenLive);
    assert.deepEqual(phone.stats().versionVector, server.stats().versionVector);
    // What is for the phone still goes through the pump, whole.
    await server.collection('bugs').insert({ title: 'for ann', assignee: 'ann', votes: 1 }, { id: 'ann1' });
    await server.collection('bugs').update('b1', { assignee: 'ann' });
    await settle();
    assert.ok(reads.length > readsWhenLive);
    assert.deepEqual(await phone.collection('bugs').find({}, { sort: { title: 1 } }), await expectedFor(server, { assignee: 'ann' }));
    assert.deepEqual(phone.stats().versionVector, server.stats().versionVector);
  });

  it('should skip forwarded commits with nothing for a partial peer once their forward delay is over, still without reading them back', async () => {
    const server = await seeded();
    const laptop = await openDb();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    const scheduler = manualScheduler();
    const { source: counting, reads } = countingReads(server);
    const link = (a: SyncSource, b: BlazeDB) => {
      const [x, y] = createPipe();
      new SyncSession({ source: a, duplex: x, scheduler, forwardDelayMs: 100, skipDelayMs: 0 }).start();
      new SyncSession({ source: databaseSource(b), duplex: y, scheduler, forwardDelayMs: 100, skipDelayMs: 0 }).start();
    };
    link(counting, phone);
    link(databaseSource(server), laptop);
    const run = async (ms: number) => {
      for (let t = 0; t < ms; t += 10) {
        await settle();
        scheduler.advance(10);
      }
      await settle();
    };
    await run(200);
    const readsWhenLive = reads.length;
    await laptop.collection('bugs').insert({ title: 'bob again', assignee: 'bob' });
    await run(50);
    // Forwarded from the laptop's session: held back for the delay, so the phone lacks it still.
    assert.notDeepEqual(phone.stats().versionVector, server.stats().versionVector);
    await run(100);
    assert.deepEqual(phone.stats().versionVector, server.stats().versionVector);
    assert.equal(reads.length, readsWhenLive);
  });

  it('should bring a record that starts to match whole, and drop one that stops matching', async () => {
    const server = await seeded();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    connect(server, phone);
    await settle();
    const live: string[][] = [];
    phone.collection('bugs').subscribe({}, (r) => live.push(r.records.map((x) => x._id as string).sort()));
    // b1 was bob's: its votes, tags and title were never sent. Reassigned to ann, it arrives whole.
    await server.collection('bugs').increment('b1', 'votes', 10);
    await server.collection('bugs').update('b1', { assignee: 'ann' });
    await settle();
    assert.deepEqual(await phone.collection('bugs').get('b1'), { _id: 'b1', title: 'bug 1', assignee: 'ann', votes: 11, tags: ['t'] });
    // Later changes travel as ops (the excluded field never does).
    await server.collection('bugs').update('b1', { title: 'renamed', notes: 'still secret' });
    await server.collection('bugs').increment('b1', 'votes', 1);
    await settle();
    assert.deepEqual(await phone.collection('bugs').get('b1'), { _id: 'b1', title: 'renamed', assignee: 'ann', votes: 12, tags: ['t'] });
    // Reassigned away, and deleted: both leave the partial replica, which was not told of a delete.
    await server.collection('bugs').update('b0', { assignee: 'bob' });
    await server.collection('bugs').delete('b2');
    await settle();
    assert.equal(await phone.collection('bugs').get('b0'), undefined);
    assert.equal(await phone.collection('bugs').get('b2'), undefined);
    assert.deepEqual(await phone.collection('bugs').find({}, { sort: { title: 1 } }), await expectedFor(server, { assignee: 'ann' }));
    assert.deepEqual(live.at(-1), ['b1', 'b4']);
    // The ops stay in the partial replica's log (history), only the record is dropped.
    assert.ok(phone.history('bugs', 'b0').length > 0);
    assert.deepEqual(phone.stats().versionVector, server.stats().versionVector);
  });

  it('should send the partial replica own writes up, drop what they move out, and complete what they move in', async () => {
    const server = await seeded();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    connect(server, phone);
    await settle();
    await phone.collection('bugs').update('b0', { title: 'edited on the phone' });
    await phone.collection('bugs').update('b4', { assignee: 'cid' });
    assert.equal(await phone.collection('bugs').get('b4'), undefined, 'a local write that moves a record out drops it');
    // b3 is bob's and not on the phone: the phone writes it under its id (an insert merges with
    // the server's record) and, the record now in its filter, gets it whole.
    await phone.collection('bugs').insert({ assignee: 'ann' }, { id: 'b3' });
    await settle();
    assert.equal((await server.collection('bugs').get('b0'))?.title, 'edited on the phone');
    assert.equal((await server.collection('bugs').get('b4'))?.assignee, 'cid');
    assert.deepEqual(await phone.collection('bugs').get('b3'), { _id: 'b3', title: 'bug 3', assignee: 'ann', votes: 3, tags: ['t'] });
    assert.deepEqual(await phone.collection('bugs').find({}, { sort: { title: 1 } }), await expectedFor(server, { assignee: 'ann' }));
  });

  it('should serve a full peer only its own writes, and a peer with the same filter everything it holds', async () => {
    const server = await seeded();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    connect(server, phone);
    await settle();
    await phone.collection('bugs').insert({ title: 'from the phone', assignee: 'ann' }, { id: 'p1' });
    await settle();
    // A full laptop syncing only with the phone gets the phone's write, nothing the phone skipped.
    const laptop = await openDb();
    connect(phone, laptop);
    await settle();
    assert.deepEqual(await ids(laptop), ['p1']);
    assert.deepEqual(laptop.stats().versionVector, { [phone.nodeId]: phone.stats().versionVector[phone.nodeId] });
    // A tablet with the same filter gets everything the phone holds, with the skipped dots.
    const tablet = await openDb();
    await tablet.setSyncFilter(ANNS);
    connect(phone, tablet);
    await settle();
    assert.deepEqual(
      await tablet.collection('bugs').find({}, { sort: { title: 1 } }),
      await phone.collection('bugs').find({}, { sort: { title: 1 } }),
    );
    assert.deepEqual(tablet.stats().versionVector, phone.stats().versionVector);
    // The laptop then meets the server and gets the rest: full replicas converge.
    connect(laptop, server);
    await settle();
    assert.deepEqual(
      await laptop.collection('bugs').find({}, { sort: { title: 1 } }),
      await server.collection('bugs').find({}, { sort: { title: 1 } }),
    );
    assert.deepEqual(laptop.stats().versionVector, server.stats().versionVector);
  });

  it('should drop at a partial peer what left the filter of the partial replica serving it, live and at the next session', async () => {
    const server = await seeded();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    connect(server, phone);
    // The tablet wants less than the phone (no votes either): the phone serves it all it holds.
    const tablet = await openDb();
    await tablet.setSyncFilter({ collections: { bugs: { where: { assignee: 'ann' }, exclude: ['notes', 'votes'] } } });
    const [toTablet] = connect(phone, tablet);
    await settle();
    assert.deepEqual(await ids(tablet), ['b0', 'b2', 'b4']);
    // Live: the phone drops b0 on the server's GONE; the tablet only gets skipped dots from the
    // phone, which no longer holds b0, so the phone must say it is gone.
    await server.collection('bugs').update('b0', { assignee: 'bob' });
    await settle();
    assert.deepEqual(await ids(phone), ['b2', 'b4']);
    assert.deepEqual(await ids(tablet), ['b2', 'b4']);
    // Away: b2 leaves while the tablet is offline; the tablet lists it at the next session.
    toTablet.close();
    await settle();
    await server.collection('bugs').update('b2', { assignee: 'bob' });
    await settle();
    assert.deepEqual(await ids(tablet), ['b2', 'b4']);
    connect(phone, tablet);
    await settle();
    assert.deepEqual(await ids(tablet), ['b4']);
    assert.deepEqual(
      await tablet.collection('bugs').find({}, { sort: { title: 1 } }),
      await expectedFor(server, { assignee: 'ann' }, ['notes', 'votes']),
    );
    assert.deepEqual(tablet.stats().versionVector, server.stats().versionVector);
  });

  it('should bring what a wider filter adds at the next session, and drop what a narrower one removes at once', async () => {
    const server = await seeded();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    const [ss] = connect(server, phone);
    await settle();
    ss.close();
    const wider = { collections: { bugs: { where: { $or: [{ assignee: 'ann' }, { assignee: 'bob' }] }, exclude: ['notes'] }, users: {} } };
    await phone.setSyncFilter(wider);
    connect(server, phone);
    await settle();
    assert.deepEqual(
      await phone.collection('bugs').find({}, { sort: { title: 1 } }),
      await expectedFor(server, wider.collections.bugs.where),
    );
    assert.deepEqual(await ids(phone, 'users'), ['ann']);
    // Narrowing (fewer collections, more exclusions) drops records and fields locally at once.
    await phone.setSyncFilter({ collections: { bugs: { ...wider.collections.bugs, exclude: ['notes', 'tags'] } } });
    assert.deepEqual(await ids(phone, 'users'), []);
    assert.deepEqual(await phone.collection('bugs').get('b1'), { _id: 'b1', title: 'bug 1', assignee: 'bob', votes: 1 });
  });

  it('should bring a record whose RECORD was lost with the connection at the next session', async () => {
    const server = await seeded();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    const [x, y] = createPipe();
    let lose = false;
    const send = x.send.bind(x);
    x.send = (frame) => (lose ? true : send(frame));
    const ss = new SyncSession({ source: databaseSource(server), duplex: x });
    new SyncSession({ source: databaseSource(phone), duplex: y }).start();
    ss.start();
    await settle();
    // Bob's tablet (another filter) hands b3 to ann and tells the phone directly: the phone only
    // parks the op (it cannot get the record whole from the tablet). The server then sends b3
    // whole, and that RECORD is lost with the connection. The phone's vector already counts
    // the op, so only reconciling at the next session can bring b3.
    const tablet = await openDb();
    await tablet.setSyncFilter({ collections: { bugs: { where: { assignee: 'bob' } } } });
    const [st] = connect(server, tablet);
    connect(tablet, phone);
    await settle();
    lose = true;
    st.close();
    await tablet.collection('bugs').update('b3', { assignee: 'ann' });
    await settle();
    connect(server, tablet);
    await settle();
    ss.close();
    await settle();
    assert.equal(await phone.collection('bugs').get('b3'), undefined);
    assert.deepEqual(phone.stats().versionVector, server.stats().versionVector);
    connect(server, phone);
    await settle();
    assert.deepEqual(await phone.collection('bugs').get('b3'), { _id: 'b3', title: 'bug 3', assignee: 'ann', votes: 3, tags: ['t'] });
  });

  it('should send a held-back op of a record that entered the filter meanwhile, though another server skipped it to the peer', async () => {
    // The relay holds the writer's op back from the phone (forward delay) while a LAN server
    // skips it to the phone at once (the record is bob's there). The record then enters the
    // phone's filter at the relay, which sends it whole without the op (not counted at the
    // phone yet); the phone counts it by the LAN server's skip, and the LAN server goes away.
    // Only the relay can still bring the op, and its pump sees it counted.
    const writer = await seeded();
    const relay = await openDb();
    const lan = await openDb();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    const scheduler = manualScheduler();
    const link = (a: BlazeDB, b: BlazeDB, forwardDelayMs: number) => {
      const [x, y] = createPipe();
      // Periodic ACKs well within the relay's delay: the phone says it counted the op in time.
      const options = { scheduler, forwardDelayMs, skipDelayMs: 0, ackIntervalMs: 100 };
      const sa = new SyncSession({ source: databaseSource(a), duplex: x, ...options });
      sa.start();
      new SyncSession({ source: databaseSource(b), duplex: y, ...options }).start();
      return sa;
    };
    const run = async (ms: number) => {
      for (let t = 0; t < ms; t += 5) {
        await settle();
        scheduler.advance(5);
      }
      await settle();
    };
    link(writer, relay, 500);
    link(writer, lan, 500);
    link(relay, phone, 500);
    const lanToPhone = link(lan, phone, 10);
    await run(1_000);
    assert.equal(await phone.collection('bugs').get('b1'), undefined);
    await writer.collection('bugs').update('b1', { title: 'renamed' });
    await relay.collection('bugs').update('b1', { assignee: 'ann' });
    await run(20);
    const counted = (db: BlazeDB) => db.stats().versionVector[writer.nodeId];
    assert.equal(counted(phone), counted(writer), 'the LAN server skipped the op to the phone');
    lanToPhone.close();
    await run(1_000);
    assert.equal((await phone.collection('bugs').get('b1'))?.title, 'renamed');
    assert.deepEqual(await phone.collection('bugs').get('b1'), (await expectedFor(relay, { title: 'renamed' }))[0]);
  });

  it('should keep counters exact across a drop mid-stream and a reconnect', async () => {
    const server = await seeded();
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    for (let i = 0; i < 200; i++) await server.collection('bugs').increment(`b${(i % 3) * 2}`, 'votes', 1);
    const [ss] = connect(server, phone, { batchOps: 7 });
    await Promise.resolve();
    ss.close();
    await settle();
    connect(server, phone, { batchOps: 7 });
    await settle();
    assert.deepEqual(await phone.collection('bugs').find({}, { sort: { title: 1 } }), await expectedFor(server, { assignee: 'ann' }));
    assert.deepEqual(phone.stats().versionVector, server.stats().versionVector);
  });

  it('should persist the filter and the skipped dots on SQLite', async () => {
    const server = await seeded();
    const dir = tempDir();
    const phone = await BlazeDB.open({ path: dir.path, dbId: 'shared', random: new SeededRandom(seed++) });
    try {
      await phone.setSyncFilter(ANNS);
      const [ss] = connect(server, phone);
      await settle();
      ss.close();
      await phone.close();
      const again = await BlazeDB.open({ path: dir.path, random: new SeededRandom(seed++) });
      assert.deepEqual(again.syncFilter, ANNS);
      assert.deepEqual(again.stats().versionVector, server.stats().versionVector);
      await server.collection('bugs').update('b5', { assignee: 'ann' });
      connect(server, again);
      await settle();
      assert.deepEqual(await again.collection('bugs').find({}, { sort: { title: 1 } }), await expectedFor(server, { assignee: 'ann' }));
      await again.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should close the session on messages meant for the other kind of replica, and on a bad filter', async () => {
    const full = await openDb();
    const [x, y] = createPipe();
    const session = new SyncSession({ source: databaseSource(full), duplex: x });
    session.start();
    const other = await openDb();
    y.send(helloFrame({ nodeId: other.nodeId }));
    y.send(encodeMessage({ type: 'skip', ranges: [{ node: other.nodeId, from: 1, to: 5 }] }));
    await settle();
    assert.equal(session.closeReason?.code, 'protocol');
    assert.deepEqual(full.stats().versionVector, {});

    const [x2, y2] = createPipe();
    const s2 = new SyncSession({ source: databaseSource(full), duplex: x2 });
    s2.start();
    y2.send(helloFrame({ nodeId: other.nodeId }));
    y2.send(encodeMessage({ type: 'need', records: [{ collection: 'bugs', id: 'x' }] }));
    await settle();
    assert.equal(s2.closeReason?.code, 'protocol');

    // A HELLO whose filter does not parse is a malformed frame.
    const hello = helloFrame({ nodeId: other.nodeId, filter: SyncFilter.parse(ANNS) });
    const broken = new Uint8Array(hello);
    broken[broken.length - 2] = 0xff;
    const [x3, y3] = createPipe();
    const s3 = new SyncSession({ source: databaseSource(full), duplex: x3 });
    s3.start();
    y3.send(broken);
    await settle();
    assert.equal(s3.closeReason?.code, 'malformed-frame');

    // A skip that jumps ahead of what the partial replica holds is a gap.
    const phone = await openDb();
    await phone.setSyncFilter(ANNS);
    const [x4, y4] = createPipe();
    const s4 = new SyncSession({ source: databaseSource(phone), duplex: x4 });
    s4.start();
    y4.send(helloFrame({ nodeId: other.nodeId }));
    y4.send(encodeMessage({ type: 'skip', ranges: [{ node: other.nodeId, from: 3, to: 5 }] }));
    await settle();
    assert.equal(s4.closeReason?.code, 'gap');
    assert.deepEqual(phone.stats().versionVector, {});
  });
});

type Step =
  | { do: 'write'; who: number; what: number; id: number; n: number }
  | { do: 'link' | 'unlink'; a: number; b: number }
  | { do: 'settle' };

const plain = { noNullPrototype: true } as const;
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      { do: fc.constant('write' as const), who: fc.nat(3), what: fc.nat(6), id: fc.nat(4), n: fc.integer({ min: -3, max: 5 }) },
      plain,
    ),
  },
  { weight: 2, arbitrary: fc.record({ do: fc.constantFrom('link' as const, 'unlink' as const), a: fc.nat(3), b: fc.nat(3) }, plain) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('settle' as const) }, plain) },
);

/** Replicas 0 and 1 are full; 2 and 3 partial, with different filters. */
const FILTERS = [
  undefined,
  undefined,
  { collections: { bugs: { where: { v: { $gte: 0 } }, exclude: ['w'] } } },
  { collections: { bugs: { where: { tags: 't1' } } } },
];

async function randomWrite(db: BlazeDB, s: Extract<Step, { do: 'write' }>): Promise<void> {
  const c = db.collection('bugs');
  const id = `r${s.id}`;
  try {
    if ((await c.get(id)) === undefined) {
      await c.insert({ v: s.n, n: 0, tags: s.n > 2 ? ['t1'] : [] }, { id });
      return;
    }
    if (s.what === 0) await c.update(id, { v: s.n });
    else if (s.what === 1) await c.increment(id, 'n', s.n);
    else if (s.what === 2) await c.add(id, 'tags', `t${Math.abs(s.n) % 3}`);
    else if (s.what === 3) await c.remove(id, 'tags', `t${Math.abs(s.n) % 3}`);
    else if (s.what === 4) await c.delete(id);
    else await c.update(id, { w: s.n });
  } catch (err) {
    if ((err as Error).name !== 'NotFoundError' && (err as Error).name !== 'AlreadyExistsError') throw err;
  }
}

describe('selective sync under random links', () => {
  it('should leave every partial replica holding exactly its filter of the full replicas, counters exact', async () => {
    await checkProperty(
      'random partial mesh',
      fc.asyncProperty(fc.array(stepArb, { minLength: 10, maxLength: 60 }), async (steps) => {
        // One virtual clock and fixed seeds: a replayed case runs exactly as it failed.
        const wall = { time: 1_800_000_000_000, now: () => wall.time };
        const dbs: BlazeDB[] = [];
        for (const [i, filter] of FILTERS.entries()) {
          const db = await BlazeDB.open({ storage: 'memory', dbId: 'mesh', wallClock: wall, random: new SeededRandom(9000 + i) });
          await db.collection('bugs').declare({ n: 'counter', tags: 'set' });
          if (filter) await db.setSyncFilter(filter);
          dbs.push(db);
        }
        const n = dbs.length;
        const links = new Map<string, SyncSession>();
        const link = (a: number, b: number) => {
          const key = `${Math.min(a, b)}-${Math.max(a, b)}`;
          if (a === b || links.has(key)) return;
          const [x, y] = createPipe({ highWaterMark: 2048 });
          const sa = new SyncSession({ source: databaseSource(dbs[a] as BlazeDB), duplex: x, batchOps: 3 });
          const sb = new SyncSession({ source: databaseSource(dbs[b] as BlazeDB), duplex: y, batchOps: 3 });
          sa.start();
          sb.start();
          links.set(key, sa);
        };
        try {
          for (const s of steps) {
            if (s.do === 'write') {
              wall.time += s.id % 2; // some writes share a millisecond
              await randomWrite(dbs[s.who % n] as BlazeDB, s);
            } else if (s.do === 'link') link(s.a % n, s.b % n);
            else if (s.do === 'unlink') {
              const key = `${Math.min(s.a % n, s.b % n)}-${Math.max(s.a % n, s.b % n)}`;
              links.get(key)?.close();
              links.delete(key);
            } else await settle();
          }
          for (const [, s] of links) s.close();
          links.clear();
          await settle();
          for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) link(a, b);
          await settle();
          await settle();
          const full = dbs[0] as BlazeDB;
          const all = await full.collection('bugs').find({}, { sort: { v: 1, n: 1 } });
          assert.deepEqual(await (dbs[1] as BlazeDB).collection('bugs').find({}, { sort: { v: 1, n: 1 } }), all);
          for (let i = 2; i < n; i++) {
            const spec = FILTERS[i]?.collections.bugs as { where: Record<string, unknown>; exclude?: string[] };
            const expected = (await full.collection('bugs').find(spec.where, { sort: { v: 1, n: 1 } })).map((r) =>
              Object.fromEntries(Object.entries(r).filter(([k]) => !spec.exclude?.includes(k))),
            );
            assert.deepEqual(await (dbs[i] as BlazeDB).collection('bugs').find({}, { sort: { v: 1, n: 1 } }), expected, `replica ${i}`);
          }
          for (const db of dbs) assert.deepEqual(db.stats().versionVector, full.stats().versionVector);
          for (const [, s] of links) assert.equal(s.state, 'syncing', s.closeReason?.message);
        } finally {
          for (const [, s] of links) s.close();
          for (const db of dbs) await db.close();
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('selective sync on encrypted SQLite', () => {
  it('should enter, leave and park records on an encrypted partial replica without tripping its tamper checks', async () => {
    const server = await seeded();
    const dir = tempDir();
    const key = new SeededRandom(77).bytes(32);
    const phone = await BlazeDB.open({ path: dir.path, dbId: 'shared', encryption: { key }, random: new SeededRandom(seed++) });
    try {
      await phone.setSyncFilter(ANNS);
      connect(server, phone);
      await settle();
      await server.collection('bugs').update('b1', { assignee: 'ann' });
      await server.collection('bugs').update('b0', { assignee: 'bob' });
      await settle();
      assert.deepEqual(await phone.collection('bugs').find({}, { sort: { title: 1 } }), await expectedFor(server, { assignee: 'ann' }));
      assert.equal(await phone.collection('bugs').get('b0'), undefined);
      // A tablet with another filter sends the phone its own write to a record the phone does
      // not hold: the phone parks it (in the log, in no record) and reads stay clean.
      const tablet = await openDb();
      await tablet.setSyncFilter({ collections: { bugs: { where: { assignee: 'bob' } } } });
      connect(server, tablet);
      await settle();
      connect(tablet, phone);
      await settle();
      await tablet.collection('bugs').update('b3', { title: 'bob edits' });
      await settle();
      assert.equal(await phone.collection('bugs').get('b3'), undefined);
      assert.ok(phone.history('bugs', 'b3').some((h) => h.node === tablet.nodeId));
      assert.deepEqual(await phone.collection('bugs').find({}, { sort: { title: 1 } }), await expectedFor(server, { assignee: 'ann' }));
      await phone.close();
      const again = await BlazeDB.open({ path: dir.path, encryption: { key }, random: new SeededRandom(seed++) });
      assert.deepEqual(await again.collection('bugs').find({}, { sort: { title: 1 } }), await expectedFor(server, { assignee: 'ann' }));
      await again.close();
    } finally {
      dir.cleanup();
    }
  });
});

describe('NEED answered late', () => {
  it('should send a partial peer a record it asked for before this side had it, once the peer counts its ops', async () => {
    const scheduler = manualScheduler();
    const author = await openDb();
    const partial = await openDb();
    const relay = await openDb();
    try {
      await partial.setSyncFilter({ collections: { bugs: { where: { team: 'red' } } } });
      const id = await author.collection('bugs').insert({ team: 'red', title: 'from the LAN' });
      const open = (db: BlazeDB, role: 'peer' | 'relay', duplex: ReturnType<typeof createPipe>[0]) =>
        new SyncSession({ source: databaseSource(db), duplex, role, scheduler }).start();
      const [p, r] = createPipe();
      open(partial, 'peer', p);
      open(relay, 'relay', r);
      await settle();
      scheduler.advance(0);
      await settle();
      // The partial replica gets the author's op over its LAN first: it holds the op, not the
      // record, and asks the relay for it whole, which has nothing of it yet.
      partial.engine.applySync([{ kind: 'ops', ops: author.engine.opsAfter(author.nodeId, 0, 10) }]);
      await settle();
      scheduler.advance(0);
      await settle();
      // The author reaches the relay: its op waits out the forward delay towards the partial
      // replica, and meanwhile an ACK of the partial replica says it counts that op already.
      const [a, ra] = createPipe();
      open(author, 'peer', a);
      open(relay, 'relay', ra);
      await settle();
      scheduler.advance(0);
      await settle();
      await relay.collection('bugs').insert({ team: 'red', title: 'the relay writes' }); // the partial replica ACKs it
      scheduler.advance(0);
      await settle();
      scheduler.advance(1_000);
      await settle();
      assert.equal((await partial.collection('bugs').get(id))?.title, 'from the LAN');
    } finally {
      for (const db of [author, partial, relay]) await db.close();
    }
  });
});

describe("a partial peer's own insert", () => {
  it('should not come back from the server, yet fold in ops of the record the peer had parked', async () => {
    const author = await openDb();
    const partial = await openDb();
    const server = await openDb();
    try {
      await partial.setSyncFilter({ collections: { bugs: { where: { team: 'red' } } } });
      await author.collection('bugs').insert({ team: 'red', title: 'from the LAN' }, { id: 'x1' });
      // The author's insert reaches the partial replica alone (a LAN peer passing it on): parked,
      // not held, and no session to ask for it whole.
      partial.engine.applySync([{ kind: 'ops', ops: author.engine.opsAfter(author.nodeId, 0, 10) }]);
      assert.equal(await partial.collection('bugs').get('x1'), undefined);
      const [x, y] = createPipe();
      const fromServer: string[] = [];
      watchSent(y, (m) => fromServer.push(m.type));
      const toServer = new SyncSession({ source: databaseSource(partial), duplex: x });
      toServer.start();
      new SyncSession({ source: databaseSource(server), duplex: y }).start();
      await settle();
      // An insert under a fresh id is the record's only op: the server does not send it back.
      fromServer.length = 0;
      const fresh = await partial.collection('bugs').insert({ team: 'red', title: 'fresh' });
      await settle();
      assert.ok(!fromServer.includes('record') && !fromServer.includes('ops'), fromServer.join());
      assert.deepEqual(await server.collection('bugs').get(fresh), { _id: fresh, team: 'red', title: 'fresh' });
      // Under the id of the parked record: the partial replica asks for it whole and folds the
      // parked insert in, though the server has nothing of the author's.
      await partial.collection('bugs').insert({ team: 'red', votes: 1 }, { id: 'x1' });
      await settle();
      assert.equal(
        await server
          .collection('bugs')
          .get('x1')
          .then((r) => r?.title),
        undefined,
      );
      const shown = await partial.collection('bugs').get('x1');
      assert.equal(shown?.title, 'from the LAN');
      assert.equal(shown?.votes, 1);
      assert.equal(toServer.state, 'syncing');
    } finally {
      for (const db of [author, partial, server]) await db.close();
    }
  });
});
