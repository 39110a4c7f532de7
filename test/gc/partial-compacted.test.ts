/**
 * Partial replicas and compaction. A partial replica holds the frontier while it is a live
 * member, also when the relay knows it only through a LAN peer. One whose vector covers a
 * server's horizon anyway (evicted, then back) must not be sent records whole from the ops
 * compaction left: it would rebuild them without what the compacted ops wrote. Until filtered
 * snapshots exist the server refuses with a typed reason, and it never shows a wrong record.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DAY, link, openGcDb, testClock } from '../helpers/gc.ts';
import { settle } from '../helpers/sync.ts';

describe('partial replicas and compacted records', () => {
  it('should hold the frontier for a LAN partial replica the relay knows only through its peer', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true } });
    const full = await openGcDb(clock);
    const partial = await openGcDb(clock);
    await partial.setSyncFilter({ collections: { bugs: { where: { mine: true } } } });
    const lr = await link(full, relay, 'relay');
    const id = await full.collection('bugs').insert({ title: 'hello', mine: false });
    // The partial replica syncs only with its LAN peer, which tells the relay about it.
    const lp = await link(partial, full);
    await lp.close();
    await relay.collection('bugs').insert({ title: 'from the relay' }); // something for full to ACK
    await settle();
    await relay.compact();
    await settle();
    await full.compact();
    assert.ok(
      relay.stats().gc.members.some((m) => m.id === partial.nodeId && m.partial),
      'a partial member, through gossip',
    );
    assert.deepEqual(relay.stats().gc.frontier, {}, 'held while the partial replica is live');
    assert.equal(full.stats().opCount, 2, 'nothing compacted on the LAN peer');
    // The record enters the partial replica's filter and arrives whole and right.
    await full.collection('bugs').update(id, { mine: true });
    const lp2 = await link(partial, full);
    await settle();
    assert.deepEqual(lp2.closed, []);
    assert.equal((await partial.collection('bugs').get(id))?.title, 'hello');
    await lp2.close();
    await lr.close();
  });

  it('should refuse an evicted partial member that returns a record whose insert was compacted', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true, evictAfterMs: 30 * DAY } });
    const writer = await openGcDb(clock);
    const partial = await openGcDb(clock);
    await partial.setSyncFilter({ collections: { bugs: { where: { mine: true } } } });
    const id = await writer.collection('bugs').insert({ title: 'hello', mine: false });
    const lw = await link(writer, relay, 'relay');
    const lp = await link(partial, relay, 'relay');
    await lp.close();
    await relay.compact();
    assert.deepEqual(relay.stats().gc.frontier, {}, 'held while the partial replica is live');
    clock.time += 31 * DAY;
    await relay.compact();
    assert.equal(relay.stats().opCount, 0);
    await writer.collection('bugs').update(id, { mine: true });
    await settle();
    const lp2 = await link(partial, relay, 'relay');
    await settle();
    const doc = await partial.collection('bugs').get(id);
    assert.deepEqual(
      lp2.closed.map((c) => c.code),
      ['snapshot-unavailable'],
    );
    assert.ok(doc === undefined || doc.title === 'hello', `partial replica shows ${JSON.stringify(doc)}`);
    await lp2.close();
    await lw.close();
  });
});
