import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BlazeDB } from '../../src/db/index.ts';
import { HistoryRetentionError, OpNotFoundError } from '../../src/db/index.ts';
import { tempDir } from '../helpers/db.ts';
import { DAY, link, openGcDb, testClock } from '../helpers/gc.ts';
import { settle } from '../helpers/sync.ts';

/** Every record of `bugs`, canonical, for comparing replicas. */
async function contents(db: BlazeDB): Promise<string> {
  const records = await db.collection('bugs').find({});
  records.sort((a, b) => (String(a._id) < String(b._id) ? -1 : 1));
  return JSON.stringify(records);
}

async function declareBugs(db: BlazeDB): Promise<void> {
  await db.collection('bugs').declare({ tags: 'set', views: 'counter', owner: 'mv' });
}

describe('distributed GC', () => {
  it('should compact what every member holds, only once the home relay announced it', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true } });
    const a = await openGcDb(clock);
    const b = await openGcDb(clock);
    await declareBugs(a);
    const bugs = a.collection('bugs');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await bugs.insert({ title: `bug ${i}`, views: 1, tags: ['x'] }));
    for (const id of ids) await bugs.increment(id, 'views', 2);
    // A non-authority never decides: compacting now removes nothing.
    assert.equal((await a.compact()).removed, 0);
    const ra = await link(a, relay, 'relay');
    const rb = await link(b, relay, 'relay');
    // The relay holds everything, but b has not acknowledged a's ops to it yet... it has now:
    assert.equal(await contents(b), await contents(a));
    const decided = await relay.compact();
    assert.ok(decided.removed > 0, 'the relay compacts what every member acknowledged');
    await settle();
    // The announcement reached both peers through their sessions.
    assert.deepEqual(a.stats().gc.frontier, relay.stats().gc.frontier);
    assert.deepEqual(b.stats().gc.frontier, relay.stats().gc.frontier);
    const before = a.stats().opCount;
    const result = await a.compact();
    assert.equal(result.removed, before - a.stats().opCount);
    assert.equal(a.stats().opCount, 0);
    // Merge information stays: later writes on both sides still merge, counters exactly.
    await b.collection('bugs').increment(ids[0] as string, 'views', 5);
    await bugs.increment(ids[0] as string, 'views', 7);
    await b.collection('bugs').add(ids[1] as string, 'tags', 'y');
    await bugs.remove(ids[1] as string, 'tags', 'x');
    await settle();
    assert.equal((await bugs.get(ids[0] as string))?.views, 15);
    assert.deepEqual((await b.collection('bugs').get(ids[1] as string))?.tags, ['y']);
    assert.equal(await contents(b), await contents(a));
    await ra.close();
    await rb.close();
  });

  it('should hold the frontier back for a silent member until the home relay evicts it', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true, evictAfterMs: 30 * DAY } });
    const a = await openGcDb(clock);
    const quiet = await openGcDb(clock);
    await declareBugs(a);
    const rq = await link(quiet, relay, 'relay');
    await rq.close();
    const ra = await link(a, relay, 'relay');
    const id = await a.collection('bugs').insert({ title: 'one', views: 1 });
    await settle();
    // `quiet` lacks a's op: nothing of it is stable.
    await relay.compact();
    assert.equal(relay.stats().gc.frontier[a.nodeId], undefined);
    clock.time += 31 * DAY;
    await a.collection('bugs').update(id, { title: 'two' });
    await settle();
    await relay.compact();
    const status = relay.stats().gc;
    assert.ok(status.members.find((m) => m.id === quiet.nodeId)?.evicted);
    assert.equal(status.frontier[a.nodeId], 3, 'declare, insert, update');
    assert.equal(relay.stats().opCount, 0, 'ops of every origin are compacted on the relay');
    // The evicted member comes back with an offline write: it is told (the announcement lists
    // it), gets a snapshot, and its own write still merges.
    await declareBugs(quiet);
    const offline = await quiet.collection('bugs').insert({ title: 'offline', views: 3 });
    const progress: boolean[] = [];
    quiet.onSnapshotProgress((p) => progress.push(p.done));
    let told = 0;
    quiet.onEvicted(() => told++);
    const again = await link(quiet, relay, 'relay');
    await settle();
    assert.ok(quiet.stats().gc.frontier !== undefined);
    assert.ok(progress.includes(true), 'the returning member resynced from a snapshot');
    assert.equal(told, 1, 'it was told it had been evicted');
    assert.equal(await contents(quiet), await contents(relay));
    assert.equal((await a.collection('bugs').get(offline))?.title, 'offline');
    assert.equal((await quiet.collection('bugs').get(id))?.title, 'two');
    await again.close();
    await ra.close();
  });

  it('should learn from peers the acknowledgements of members the home relay never meets', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true } });
    const a = await openGcDb(clock);
    const lanOnly = await openGcDb(clock);
    const ra = await link(a, relay, 'relay');
    await a.collection('bugs').insert({ n: 1 });
    // A device on a's LAN that never reaches the relay gets the op and acknowledges it to a,
    // which passes that on to the relay.
    const lan = await link(lanOnly, a);
    await lan.close();
    await a.collection('bugs').insert({ n: 2 });
    // Something for a to acknowledge (without a scheduler there are no periodic ACKs here).
    await relay.collection('bugs').insert({ n: 3 });
    await settle();
    await relay.compact();
    const status = relay.stats().gc;
    assert.ok(
      status.members.some((m) => m.id === lanOnly.nodeId && !m.evicted),
      'the LAN-only device is a member',
    );
    assert.equal(status.frontier[a.nodeId], 1, 'the frontier waits for what the LAN-only device holds');
    await ra.close();
  });

  it('should keep members and acknowledgements across a rolled-back write and a reopen', async () => {
    const dir = tempDir();
    try {
      const clock = testClock();
      const peer = await openGcDb(clock);
      let db = await openGcDb(clock, { storage: 'sqlite', path: dir.path });
      // The peer has nothing to send: its HELLO and ACK change nothing but the member table
      // and the acknowledgements, which ride along with the next write.
      const l = await link(db, peer);
      await l.close();
      // A long write (a snapshot's) stores what is pending midway, the member and its ACK with
      // it, then fails and rolls back.
      assert.throws(() =>
        db.engine.write(() => {
          db.collection('bugs').insertNow({ n: 2 });
          db.engine.flushWithinWrite();
          throw new Error('a later chunk failed');
        }),
      );
      await db.close();
      db = await openGcDb(clock, { storage: 'sqlite', path: dir.path });
      assert.ok(db.stats().gc.members.some((m) => m.id === peer.nodeId));
      assert.ok(db.acks.all().some((a) => a.peer === peer.nodeId));
      await db.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should never let a node evict on its own', async () => {
    const clock = testClock();
    const peer = await openGcDb(clock, { gc: { evictAfterMs: 1 } });
    const other = await openGcDb(clock);
    const l = await link(peer, other);
    await l.close();
    clock.time += 100 * DAY;
    await peer.compact();
    assert.equal(peer.stats().gc.members.find((m) => m.id === other.nodeId)?.evicted, false);
    assert.deepEqual(peer.stats().gc.frontier, {});
  });

  it('should answer history from the base state, and refuse times before the horizon', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true } });
    const a = await openGcDb(clock);
    await declareBugs(a);
    const bugs = a.collection('bugs');
    const id = await bugs.insert({ title: 'first', views: 1 });
    clock.time += 1000;
    await bugs.update(id, { title: 'second' });
    const l = await link(a, relay, 'relay');
    await relay.compact();
    await settle();
    await a.compact();
    const compactedAt = clock.time;
    clock.time += 1000;
    await bugs.update(id, { title: 'third' });
    await bugs.increment(id, 'views', 4);
    const history = a.history('bugs', id);
    assert.equal(history.length, 2, 'only ops still in the log');
    assert.deepEqual(history[0]?.changes[0], { field: 'title', op: 'set', before: 'second', after: 'third' });
    assert.throws(() => a.asOf(new Date(compactedAt - 5000)), HistoryRetentionError);
    const then = await a.asOf(new Date(compactedAt)).collection('bugs').get(id);
    assert.equal(then?.title, 'second');
    assert.equal(then?.views, 1);
    const found = await a.asOf(new Date(clock.time)).collection('bugs').find({});
    assert.equal(found[0]?.views, 5);
    await assert.rejects(a.undo(`${a.nodeId}:2`), OpNotFoundError);
    await l.close();
  });

  it('should keep ops younger than historyRetentionMs', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true } });
    const a = await openGcDb(clock, { gc: { historyRetentionMs: 10 * DAY } });
    const bugs = a.collection('bugs');
    const id = await bugs.insert({ title: 'old' });
    clock.time += 20 * DAY;
    await bugs.update(id, { title: 'new' });
    const l = await link(a, relay, 'relay');
    await relay.compact();
    await settle();
    const result = await a.compact();
    assert.equal(result.removed, 1, 'only the op older than the retention');
    assert.equal(a.stats().opCount, 1);
    await l.close();
  });

  it('should hold the frontier while a partial replica is a live member', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true } });
    const a = await openGcDb(clock);
    const partial = await openGcDb(clock);
    await partial.setSyncFilter({ collections: { bugs: { where: { mine: true } } } });
    const lp = await link(partial, relay, 'relay');
    const la = await link(a, relay, 'relay');
    await a.collection('bugs').insert({ title: 't' });
    await settle();
    await relay.compact();
    assert.deepEqual(relay.stats().gc.frontier, {});
    await lp.close();
    await la.close();
  });
});
