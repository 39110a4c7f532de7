/**
 * Snapshot and announcement edge cases: a record state bigger than a frame travels in pieces;
 * what a snapshot brought goes on to peers connected before it arrived; announcements stay
 * within a frame however many members were evicted over the years.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MAX_ANNOUNCED_EVICTED } from '../../src/gc/gc-state.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import { DAY, link, openGcDb, testClock } from '../helpers/gc.ts';
import { settle } from '../helpers/sync.ts';

describe('snapshot and announcement edge cases', () => {
  it('should let a new device start from a snapshot holding a 4.5 MB record', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true } });
    const writer = await openGcDb(clock);
    const files = writer.collection('files');
    const id = await files.insert({ name: 'big' });
    // Five legal writes of ~900 KB each (every op is below MAX_OP_BYTES = 1 MiB).
    for (let i = 0; i < 5; i++) await files.update(id, { [`part${i}`]: new Uint8Array(randomBytes(900 * 1024)) });
    const lw = await link(writer, relay, 'relay');
    await relay.compact();
    await settle();
    assert.equal(relay.stats().opCount, 0, 'the relay compacted everything');

    const fresh = await openGcDb(clock);
    const lf = await link(fresh, relay, 'relay');
    await settle();
    assert.deepEqual(
      lf.closed.map((c) => `${c.code}: ${c.message}`),
      [],
      'the session should not close',
    );
    const doc = await fresh.collection('files').get(id);
    assert.equal(doc?.name, 'big');
    await lf.close();
    await lw.close();
  });

  it('should pass what a snapshot brought on to a peer connected before it arrived', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true } });
    const writer = await openGcDb(clock);
    for (let i = 0; i < 10; i++) await writer.collection('bugs').insert({ title: `bug ${i}` });
    const lw = await link(writer, relay, 'relay');
    await relay.compact();
    await settle();
    assert.equal(relay.stats().opCount, 0);

    // Two new devices on a LAN, connected to each other first.
    const hub = await openGcDb(clock);
    const other = await openGcDb(clock);
    const lan = await link(other, hub);
    // The hub then reaches the relay and starts from a snapshot.
    const lr = await link(hub, relay, 'relay');
    await settle();
    assert.equal((await hub.collection('bugs').find({})).length, 10, 'the hub took the snapshot');
    for (let i = 0; i < 20; i++) await settle();
    assert.deepEqual(lan.closed, []);
    assert.equal((await other.collection('bugs').find({})).length, 10, 'the LAN peer got it from the hub');
    await lan.close();
    await lr.close();
    await lw.close();
  });

  it('should keep syncing after the home relay evicted more than 4,096 members (announcements list the latest 1,024)', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true, evictAfterMs: 30 * DAY } });
    // Devices seen over the years, long gone.
    for (let i = 0; i < 4100; i++) relay.gcCollector.state.memberSeen(i.toString(16).padStart(16, '0') as NodeId, clock.time, false);
    clock.time += 31 * DAY;
    await relay.compact();
    assert.equal(relay.gcCollector.state.latest?.evicted.length, MAX_ANNOUNCED_EVICTED, 'the most recent evicted members only');
    const device = await openGcDb(clock);
    const l = await link(device, relay, 'relay');
    await settle();
    assert.deepEqual(
      l.closed.map((c) => `${c.code}: ${c.message}`),
      [],
    );
    await l.close();
  });
});
