import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BlazeDB } from '../../src/db/index.ts';
import type { FrameDuplex } from '../../src/sync/duplex.ts';
import { createPipe, databaseSource, SyncSession } from '../../src/sync/index.ts';
import { tempDir } from '../helpers/db.ts';
import { link, openGcDb, testClock } from '../helpers/gc.ts';
import { settle } from '../helpers/sync.ts';

async function contents(db: BlazeDB): Promise<string> {
  const records = await db.collection('bugs').find({});
  records.sort((a, b) => (String(a._id) < String(b._id) ? -1 : 1));
  return JSON.stringify(records);
}

/** A relay and a writer that compacted everything: a new device can only start from a snapshot. */
async function compactedPair(records: number, options: { relayPath?: string } = {}) {
  const clock = testClock();
  const relay = await openGcDb(clock, {
    gc: { authority: true },
    ...(options.relayPath ? { path: options.relayPath, storage: 'sqlite' } : {}),
  });
  const writer = await openGcDb(clock);
  await writer.collection('bugs').declare({ tags: 'set', views: 'counter', owner: 'mv' });
  const bugs = writer.collection('bugs');
  const ids = await bugs.insertMany(Array.from({ length: records }, (_, i) => ({ title: `bug ${i}`, views: i, tags: ['a', `t${i % 3}`] })));
  await bugs.delete(ids[0] as string);
  await bugs.increment(ids[1] as string, 'views', 10);
  const l = await link(writer, relay, 'relay');
  await relay.compact();
  await settle();
  await writer.compact();
  assert.equal(relay.stats().opCount, 0);
  return { clock, relay, writer, ids, link: l };
}

/** Passes frames through, damaging the first snapshot chunk once. */
function corruptingFirstChunk(inner: FrameDuplex): FrameDuplex {
  let damaged = false;
  return {
    send(frame) {
      if (!damaged && frame[0] === 0x0d) {
        damaged = true;
        const copy = frame.slice();
        copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 0xff;
        return inner.send(copy);
      }
      return inner.send(frame);
    },
    close: () => inner.close(),
    onFrame: (h) => inner.onFrame(h),
    onDrain: (h) => inner.onDrain(h),
    onClose: (h) => inner.onClose(h),
  };
}

describe('snapshots', () => {
  it('should start a new device from a snapshot plus the ops after it, with progress', async () => {
    const { clock, relay, writer, ids, link: l } = await compactedPair(3000);
    await writer.collection('bugs').update(ids[2] as string, { title: 'after the snapshot' });
    await settle();
    const fresh = await openGcDb(clock);
    const progress: { chunks: number; done: boolean; records?: number }[] = [];
    fresh.onSnapshotProgress((p) => progress.push(p));
    const lf = await link(fresh, relay, 'relay');
    assert.equal(await contents(fresh), await contents(writer));
    assert.ok(
      progress.some((p) => !p.done && p.chunks >= 1),
      'progress while chunks arrive',
    );
    assert.equal(progress.at(-1)?.done, true);
    // Counters stay exact and merge on: an increment on the new device reaches the writer.
    await fresh.collection('bugs').increment(ids[1] as string, 'views', 5);
    await settle();
    assert.equal((await writer.collection('bugs').get(ids[1] as string))?.views, 16);
    assert.equal(await fresh.collection('bugs').get(ids[0] as string), undefined, 'the delete holds');
    // Its log holds only what came after the snapshot; history and time travel start from it.
    assert.ok(fresh.stats().opCount < 5);
    const snapshotAt = clock.time;
    clock.time += 1000;
    await fresh.collection('bugs').update(ids[3] as string, { title: 'later' });
    const history = fresh.history('bugs', ids[3] as string);
    assert.equal(history.length, 1);
    assert.equal(history[0]?.changes[0]?.before, 'bug 3');
    const past = fresh.asOf(new Date(snapshotAt)).collection('bugs');
    assert.equal((await past.get(ids[3] as string))?.title, 'bug 3');
    assert.equal((await past.find({ title: 'bug 4' })).length, 1, 'records untouched since the snapshot show too');
    assert.equal(
      (
        await fresh
          .asOf(new Date(clock.time))
          .collection('bugs')
          .get(ids[3] as string)
      )?.title,
      'later',
    );
    await lf.close();
    await l.close();
  });

  it('should drop a snapshot with a damaged chunk, apply nothing, and fetch it again next session', async () => {
    const { clock, relay, writer, link: l } = await compactedPair(4000);
    const fresh = await openGcDb(clock);
    const [x, y] = createPipe();
    const mine = new SyncSession({ source: databaseSource(fresh), duplex: x });
    const theirs = new SyncSession({ source: databaseSource(relay), duplex: corruptingFirstChunk(y), role: 'relay' });
    const reasons: string[] = [];
    mine.onClose((r) => reasons.push(r.code));
    mine.start();
    theirs.start();
    await settle();
    assert.deepEqual(reasons, ['corrupt-snapshot']);
    assert.equal((await fresh.collection('bugs').find({})).length, 0, 'nothing of it applied');
    assert.deepEqual(fresh.stats().versionVector, {});
    const again = await link(fresh, relay, 'relay');
    assert.equal(await contents(fresh), await contents(writer));
    await again.close();
    await l.close();
  });

  it('should serve a snapshot from a SQLite relay while writes go on, and from an encrypted store', async () => {
    const dir = tempDir();
    try {
      const { clock, relay, writer, link: l } = await compactedPair(500, { relayPath: dir.path });
      const fresh = await openGcDb(clock, { encryption: { key: new Uint8Array(32).fill(7) } });
      const lf = await link(fresh, relay, 'relay');
      assert.equal(await contents(fresh), await contents(writer));
      // The encrypted device compacts too, and serves its own snapshot to the next one.
      await relay.compact();
      await settle();
      await fresh.compact();
      const third = await openGcDb(clock);
      const lt = await link(third, fresh);
      assert.equal(await contents(third), await contents(writer));
      await lt.close();
      await lf.close();
      await l.close();
      await relay.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should refuse a partial replica that lacks compacted ops, with a typed reason', async () => {
    const { clock, relay, link: l } = await compactedPair(10);
    const partial = await openGcDb(clock);
    await partial.setSyncFilter({ collections: { bugs: { where: { views: 3 } } } });
    const lp = await link(partial, relay, 'relay');
    assert.deepEqual(
      lp.closed.map((c) => c.code),
      ['snapshot-unavailable'],
    );
    await l.close();
  });
});
