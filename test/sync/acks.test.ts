import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeValue, encodeValue } from '../../src/codec/index.ts';
import { BlazeDB, SyncNotEnabledError } from '../../src/db/index.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import { createPipe, databaseSource, SyncSession } from '../../src/sync/index.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { tempDir } from '../helpers/db.ts';
import { manualScheduler, settle } from '../helpers/sync.ts';

describe('acknowledgements', () => {
  it("should resolve synced('relay-durable') once a relay acknowledged every local write", async () => {
    const device = await BlazeDB.open({ storage: 'memory', dbId: 'acks', random: new SeededRandom(1) });
    const relay = await BlazeDB.open({ storage: 'memory', dbId: 'acks', random: new SeededRandom(2) });
    await assert.rejects(device.synced('relay-durable'), SyncNotEnabledError);
    await device.synced('local-durable');
    await device.collection('bugs').insert({ n: 1 });
    const [a, b] = createPipe();
    const mine = new SyncSession({ source: databaseSource(device), duplex: a });
    const theirs = new SyncSession({ source: databaseSource(relay), duplex: b, role: 'relay' });
    let done = false;
    const waiting = device.synced('relay-durable').then(() => {
      done = true;
    });
    assert.equal(done, false);
    mine.start();
    theirs.start();
    await waiting;
    assert.equal(device.acks.all()[0]?.level, 'relay-durable');
    // A peer (not a relay) acknowledging does not make a write relay-durable.
    const peer = await BlazeDB.open({ storage: 'memory', dbId: 'acks', random: new SeededRandom(3) });
    theirs.close();
    await settle();
    const [c, d] = createPipe();
    new SyncSession({ source: databaseSource(device), duplex: c }).start();
    new SyncSession({ source: databaseSource(peer), duplex: d }).start();
    await device.collection('bugs').insert({ n: 2 });
    await settle();
    const aborted = new AbortController();
    const late = device.synced('relay-durable', { signal: aborted.signal });
    aborted.abort(new Error('gave up'));
    await assert.rejects(late, /gave up/);
  });

  it('should learn at once that writes the relay already holds are relay-durable', async () => {
    const device = await BlazeDB.open({ storage: 'memory', dbId: 'acks', random: new SeededRandom(5) });
    const relay = await BlazeDB.open({ storage: 'memory', dbId: 'acks', random: new SeededRandom(6) });
    await device.collection('bugs').insert({ n: 1 });
    const [a, b] = createPipe();
    new SyncSession({ source: databaseSource(device), duplex: a }).start();
    new SyncSession({ source: databaseSource(relay), duplex: b, role: 'relay' }).start();
    await device.synced('relay-durable');
    // A new session with nothing to send still confirms it.
    const [c, d] = createPipe();
    new SyncSession({ source: databaseSource(device), duplex: c }).start();
    new SyncSession({ source: databaseSource(relay), duplex: d, role: 'relay' }).start();
    await settle();
    await device.synced('relay-durable');
  });

  it('should acknowledge periodically what arrived through other sessions', async () => {
    const [a, b, c] = await Promise.all(
      [7, 8, 9].map((n) => BlazeDB.open({ storage: 'memory', dbId: 'acks', random: new SeededRandom(n) })),
    );
    const scheduler = manualScheduler();
    const [x, y] = createPipe();
    new SyncSession({ source: databaseSource(a!), duplex: x, scheduler, ackIntervalMs: 1000 }).start();
    const bSide = new SyncSession({ source: databaseSource(b!), duplex: y, scheduler, ackIntervalMs: 1000 });
    bSide.start();
    await settle();
    // C's write reaches A through another session; B gets the op from A, but learns that A
    // holds it (A's acknowledgement) only from A's periodic ACK.
    const [p, q] = createPipe();
    new SyncSession({ source: databaseSource(c!), duplex: p }).start();
    new SyncSession({ source: databaseSource(a!), duplex: q }).start();
    await c!.collection('bugs').insert({ n: 1 });
    await settle();
    assert.equal(bSide.peerAck?.version.get(c!.nodeId), undefined);
    scheduler.advance(1000);
    await settle();
    assert.equal(bSide.peerAck?.version.get(c!.nodeId), 1);
  });

  it('should keep acknowledgements across a restart', async () => {
    const dir = tempDir();
    try {
      const device = await BlazeDB.open({ path: dir.path, dbId: 'acks' });
      const relay = await BlazeDB.open({ storage: 'memory', dbId: 'acks', random: new SeededRandom(4) });
      await device.collection('bugs').insert({ n: 1 });
      const [a, b] = createPipe();
      new SyncSession({ source: databaseSource(device), duplex: a }).start();
      new SyncSession({ source: databaseSource(relay), duplex: b, role: 'relay' }).start();
      await device.synced('relay-durable');
      await device.close();
      const again = await BlazeDB.open({ path: dir.path });
      assert.deepEqual(
        again.acks.all().map((x) => [x.peer, x.level, x.version.get(again.nodeId)]),
        [[relay.nodeId, 'relay-durable', 1]],
      );
      await again.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should read acknowledgements a format 2 store wrote as maps, and store them as vectors when they move', async () => {
    const dir = tempDir();
    try {
      const peer = 'fedcba9876543210' as NodeId;
      const first = await BlazeDB.open({ path: dir.path, dbId: 'acks' });
      const own = first.nodeId;
      // What format 2 wrote: the list of peers, and [peer, level, {origin: seq}] per peer.
      await first.transaction(() => {
        first.engine.storage.setMeta('acks', encodeValue([peer]));
        first.engine.storage.setMeta(`ack:${peer}`, encodeValue([peer, 'relay-durable', { [own]: 3, '0123456789abcdef': 7 }]));
      });
      await first.close();
      const again = await BlazeDB.open({ path: dir.path });
      assert.deepEqual(Object.fromEntries(again.acks.get(peer)?.version ?? []), { [own]: 3, '0123456789abcdef': 7 });
      again.acks.record({ peer, level: 'relay-durable', version: new Map([[own, 5]]) });
      await again.close();
      const third = await BlazeDB.open({ path: dir.path });
      assert.deepEqual(Object.fromEntries(third.acks.get(peer)?.version ?? []), { [own]: 5, '0123456789abcdef': 7 });
      const stored = decodeValue(third.engine.storage.getMeta(`ack:${peer}`) as Uint8Array) as unknown[];
      assert.ok(stored[2] instanceof Uint8Array, 'stored as an encoded vector');
      await third.close();
    } finally {
      dir.cleanup();
    }
  });
});
