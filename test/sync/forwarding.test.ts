/** Forwarding in meshes with cycles: delta ACKs, and no duplicate storms once paths are learned. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchReadContext, BatchWriteContext } from '../../src/codec/index.ts';
import { BlazeDB } from '../../src/db/index.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import { SESSION_INTERN_CAPACITY } from '../../src/sync/constants.ts';
import { createPipe, databaseSource, encodeMessage, SyncSession } from '../../src/sync/index.ts';
import { decodeMessage } from '../../src/sync/messages.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { tempDir } from '../helpers/db.ts';
import { helloFrame, manualScheduler, settle, watchSent } from '../helpers/sync.ts';

let seed = 500;
const open = () => BlazeDB.open({ storage: 'memory', dbId: 'shared', random: new SeededRandom(seed++) });

describe('forwarding in a mesh', () => {
  it('should stop sending duplicates around a triangle once each side learned the other paths', async () => {
    const dbs = [await open(), await open(), await open()];
    const scheduler = manualScheduler();
    const sessions: SyncSession[] = [];
    for (let i = 0; i < 3; i++) {
      for (let j = i + 1; j < 3; j++) {
        const [x, y] = createPipe();
        for (const [db, duplex] of [
          [dbs[i], x],
          [dbs[j], y],
        ] as const) {
          const s = new SyncSession({ source: databaseSource(db as BlazeDB), duplex, scheduler, forwardDelayMs: 20 });
          sessions.push(s);
          s.start();
        }
      }
    }
    await settle();
    const duplicates = () => sessions.reduce((n, s) => n + s.stats.duplicateOpsReceived, 0);
    const received = () => sessions.reduce((n, s) => n + s.stats.opsReceived, 0);
    const round = async (writes: number) => {
      for (let k = 0; k < writes; k++) for (const db of dbs) await db.collection('c').insert({ k });
      // Pumps, then ACKs (each delivered before the next timer, as on a real link), then the
      // forward delay ends.
      for (const ms of [0, 0, 25]) {
        await settle();
        scheduler.advance(ms);
      }
      await settle();
    };
    // Even while learning, the delay lets ACKs arrive first.
    await round(3);
    const learnedDuplicates = duplicates();
    const receivedBefore = received();
    await round(20);
    for (const db of dbs) assert.equal(await db.collection('c').count(), 3 * 23);
    // Afterwards each op reaches each of the two others once: no duplicates at all.
    assert.equal(received() - receivedBefore, 3 * 20 * 2);
    assert.equal(duplicates(), learnedDuplicates);
  });

  it('should send ACKs as deltas after the first, and refuse a delta ACK before a full one', async () => {
    const [a, b, c, d] = [await open(), await open(), await open(), await open()];
    for (const db of [a, c, d]) await db.collection('c').insert({ from: 'origin' });
    // a learns c's and d's ops first, so its vector has three origins.
    for (const other of [c, d]) {
      const [x, y] = createPipe();
      new SyncSession({ source: databaseSource(a), duplex: x }).start();
      new SyncSession({ source: databaseSource(other), duplex: y }).start();
    }
    await settle();
    const [x, y] = createPipe();
    const acks: { delta: boolean; size: number }[] = [];
    watchSent(x, (m) => {
      if (m.type === 'ack') acks.push({ delta: m.delta === true, size: m.version.size });
    });
    new SyncSession({ source: databaseSource(a), duplex: x }).start();
    new SyncSession({ source: databaseSource(b), duplex: y }).start();
    await settle();
    for (let i = 0; i < 3; i++) {
      await b.collection('c').insert({ i });
      await settle();
    }
    assert.deepEqual(acks[0], { delta: false, size: 3 });
    assert.ok(acks.length >= 4);
    assert.ok(
      acks.slice(1).every((ack) => ack.delta && ack.size === 1),
      JSON.stringify(acks),
    );

    const [p, q] = createPipe();
    const fresh = new SyncSession({ source: databaseSource(c), duplex: p });
    fresh.start();
    q.send(helloFrame({ dbId: 'shared', nodeId: b.nodeId }));
    q.send(encodeMessage({ type: 'ack', level: 'local-durable', version: new Map([[b.nodeId, 1]]), delta: true }));
    await settle();
    assert.equal(fresh.closeReason?.code, 'protocol');
    assert.match(fresh.closeReason?.message ?? '', /delta ACK before a full one/);
  });

  it('should never hold back for good ops that arrived by other means during a forward delay', async () => {
    // p forwards x's ops to l. While a delay runs, more of x's ops reach p's store through
    // another process (picked up, not from a session): they must still reach l.
    const dir = tempDir();
    try {
      const p = await BlazeDB.open({ path: dir.path, dbId: 'shared', random: new SeededRandom(seed++) });
      const [x, l] = [await open(), await open()];
      const scheduler = manualScheduler();
      const link = (one: BlazeDB, two: BlazeDB, withScheduler: boolean) => {
        const [d1, d2] = createPipe();
        const options = withScheduler ? { scheduler, forwardDelayMs: 100 } : {};
        const pair = [
          new SyncSession({ source: databaseSource(one), duplex: d1, ...options }),
          new SyncSession({ source: databaseSource(two), duplex: d2, ...options }),
        ];
        for (const session of pair) session.start();
        return pair;
      };
      link(p, l, true);
      const [pToX] = link(p, x, true) as [SyncSession];
      await x.collection('c').insert({ n: 1 });
      for (let i = 0; i < 3; i++) {
        await settle();
        scheduler.advance(0);
      }
      await settle();
      pToX.close();
      await x.collection('c').insert({ n: 2 });
      const other = await BlazeDB.open({ path: dir.path, random: new SeededRandom(seed++) });
      link(other, x, false);
      await settle();
      await other.close();
      assert.ok(p.engine.pickUpExternalWrites() > 0);
      for (let i = 0; i < 5; i++) {
        await settle();
        scheduler.advance(1_000);
      }
      await settle();
      assert.equal(await l.collection('c').count(), 2);
      await p.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should send 1.0 peers full ACKs only, and close on ACKs naming too many origins', async () => {
    const a = await open();
    const [x, y] = createPipe();
    const reader = new BatchReadContext(SESSION_INTERN_CAPACITY);
    const acks: boolean[] = [];
    y.onFrame((frame) => {
      const m = decodeMessage(frame, 1 << 22, reader);
      if (m.type === 'ack') acks.push(m.delta === true);
    });
    const session = new SyncSession({ source: databaseSource(a), duplex: x });
    session.start();
    const old = await open();
    y.send(helloFrame({ nodeId: old.nodeId })); // minor 0
    await settle();
    const writer = new BatchWriteContext(SESSION_INTERN_CAPACITY);
    for (let i = 0; i < 3; i++) {
      y.send(encodeMessage({ type: 'ops', ops: [old.engine.replica.insert('c', `r${i}`, { i })] }, writer));
      await settle();
    }
    assert.equal(await a.collection('c').count(), 3);
    assert.ok(acks.length >= 4, `${acks.length} ACKs`);
    assert.ok(acks.every((delta) => !delta));

    const b = await open();
    const [p, q] = createPipe();
    const strict = new SyncSession({ source: databaseSource(b), duplex: p });
    strict.start();
    q.send(helloFrame({ nodeId: old.nodeId, minor: 1 }));
    q.send(encodeMessage({ type: 'ack', level: 'local-durable', version: new Map() }));
    const many = (from: number) =>
      new Map(Array.from({ length: 3000 }, (_, i) => [(from + i).toString(16).padStart(16, '0') as NodeId, 1]));
    q.send(encodeMessage({ type: 'ack', level: 'local-durable', version: many(0), delta: true }));
    q.send(encodeMessage({ type: 'ack', level: 'local-durable', version: many(3000), delta: true }));
    await settle();
    assert.equal(strict.closeReason?.code, 'protocol');
    assert.match(strict.closeReason?.message ?? '', /more than \d+ origins/);
  });

  it('should lengthen the forward delay when the peer reports duplicates', async () => {
    const [p, x, peer] = [await open(), await open(), await open()];
    const scheduler = manualScheduler();
    // x -> p over a session; p -> a hand-driven peer that reports duplicates of x.
    const [px, xp] = createPipe();
    new SyncSession({ source: databaseSource(p), duplex: px, scheduler }).start();
    new SyncSession({ source: databaseSource(x), duplex: xp, scheduler }).start();
    const [pl, lp] = createPipe();
    new SyncSession({ source: databaseSource(p), duplex: pl, scheduler, forwardDelayMs: 100 }).start();
    const reader = new BatchReadContext(SESSION_INTERN_CAPACITY);
    const opsSeen: number[] = [];
    lp.onFrame((frame) => {
      const m = decodeMessage(frame, 1 << 22, reader);
      if (m.type === 'ops') opsSeen.push(...m.ops.map((op) => op.seq));
    });
    lp.send(helloFrame({ dbId: 'shared', nodeId: peer.nodeId, minor: 1 }));
    lp.send(encodeMessage({ type: 'ack', level: 'local-durable', version: new Map() }));
    await settle();
    lp.send(encodeMessage({ type: 'ack', level: 'local-durable', version: new Map(), delta: true, duplicates: [x.nodeId] }));
    await settle();
    await x.collection('c').insert({ n: 1 });
    for (let i = 0; i < 2; i++) {
      await settle();
      scheduler.advance(0); // x's batch window, then p's apply
    }
    await settle();
    scheduler.advance(150);
    await settle();
    assert.deepEqual(opsSeen, [], 'still held: the delay doubled to 200 ms');
    scheduler.advance(60);
    await settle();
    assert.deepEqual(opsSeen, [1]);
  });

  it('should round-trip ACKs with deltas and duplicates lists, and refuse unknown flags', () => {
    const nodes = ['00112233445566ff', 'aabbccddeeff0011'] as NodeId[];
    const decode = (frame: Uint8Array) => decodeMessage(frame, 1 << 20);
    const ack = {
      type: 'ack' as const,
      level: 'relay-durable' as const,
      version: new Map([[nodes[0] as NodeId, 7]]),
      delta: true,
      duplicates: nodes,
    };
    assert.deepEqual(decode(encodeMessage(ack)), ack);
    const plain = { type: 'ack' as const, level: 'local-durable' as const, version: new Map([[nodes[1] as NodeId, 3]]) };
    assert.deepEqual(decode(encodeMessage(plain)), plain);
    const bad = encodeMessage(plain);
    bad[1] = (bad[1] as number) | 0x40;
    assert.throws(() => decode(bad), /unknown ack flags/);
  });

  it('should forward at once in a star once it saw the peer relies on it', async () => {
    // a relay in the middle, two peers that reach each other only through it
    const [relay, a, b] = [await open(), await open(), await open()];
    const scheduler = manualScheduler();
    for (const peer of [a, b]) {
      const [x, y] = createPipe();
      new SyncSession({ source: databaseSource(relay), duplex: x, scheduler, forwardDelayMs: 1_000, role: 'relay' }).start();
      new SyncSession({ source: databaseSource(peer), duplex: y, scheduler, forwardDelayMs: 1_000 }).start();
    }
    await settle();
    const hop = async (ms: number) => {
      for (let i = 0; i < 2; i++) {
        await settle();
        scheduler.advance(ms);
      }
      await settle();
    };
    // The first forwards wait: b might have another path. After three that found b lacking
    // them, the relay forwards a's ops at once.
    for (let i = 0; i < 3; i++) {
      const id = await a.collection('c').insert({ i });
      await hop(0);
      assert.equal(await b.collection('c').get(id), undefined, `forward ${i} waits`);
      await hop(1_000);
      assert.ok(await b.collection('c').get(id));
    }
    for (let i = 3; i < 8; i++) {
      const id = await a.collection('c').insert({ i });
      await hop(0); // each hop's batch window, never the forward delay
      assert.ok(await b.collection('c').get(id), `op ${i} forwarded by the relay at once`);
    }
  });

  it('should forward a new origin at once to a peer that lacked ten forwards in a row, and hold back again on a sign of another path', async () => {
    // A relay with one listening peer b and twelve writers that reach b only through it.
    const relay = await open();
    const b = await open();
    const scheduler = manualScheduler();
    const link = (x: BlazeDB, y: BlazeDB) => {
      const [p, q] = createPipe();
      new SyncSession({ source: databaseSource(x), duplex: p, scheduler, forwardDelayMs: 1_000, role: 'relay' }).start();
      new SyncSession({ source: databaseSource(y), duplex: q, scheduler, forwardDelayMs: 1_000 }).start();
    };
    link(relay, b);
    const writers: BlazeDB[] = [];
    for (let i = 0; i < 12; i++) {
      writers.push(await open());
      link(relay, writers[i] as BlazeDB);
    }
    const hop = async (ms: number) => {
      for (let i = 0; i < 2; i++) {
        await settle();
        scheduler.advance(ms);
      }
      await settle();
    };
    await hop(0);
    // Ten writers, one op each: every forward to b waits out the delay and finds b lacking it.
    for (let i = 0; i < 10; i++) {
      const id = await (writers[i] as BlazeDB).collection('c').insert({ i });
      await hop(0);
      assert.equal(await b.collection('c').get(id), undefined, `writer ${i}'s op waits`);
      await hop(1_000);
      assert.ok(await b.collection('c').get(id));
    }
    // The eleventh writer is new to b, yet its first op goes at once.
    const eleventh = await (writers[10] as BlazeDB).collection('c').insert({ i: 10 });
    await hop(0);
    assert.ok(await b.collection('c').get(eleventh), "a new origin's first op goes at once");
    // b shows another path (it holds the twelfth writer's op before the relay sends it): the
    // relay holds back again.
    const twelfth = writers[11] as BlazeDB;
    const [p, q] = createPipe();
    new SyncSession({ source: databaseSource(twelfth), duplex: p, scheduler }).start();
    new SyncSession({ source: databaseSource(b), duplex: q, scheduler }).start();
    await hop(0);
    await twelfth.collection('c').insert({ i: 11 });
    await hop(0);
    const later = await (writers[0] as BlazeDB).collection('c').insert({ i: 12 });
    await hop(0);
    assert.equal(await b.collection('c').get(later), undefined, 'held back again');
  });
});
