/**
 * GC over the real libp2p mesh: the home relay's signed announcement reaches peers over their
 * /blazedb/sync streams, they compact, and a new device starts from a snapshot streamed through
 * the libp2p stream adapter (chunks of 256 KiB with its backpressure).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../node/index.ts';
import { MeshPeer } from '../../node/mesh/mesh-peer.ts';

const FAST = { listen: ['/ip4/127.0.0.1/tcp/0'], backoffBaseMs: 50, backoffCapMs: 200 };

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const open = (gc: Record<string, unknown> = {}) => BlazeDB.open({ storage: 'memory', dbId: 'mesh-gc', gc: { intervalMs: 0, ...gc } });

describe('GC over the libp2p mesh', () => {
  it('should compact on every peer once the home relay announces, and start a new device from a snapshot', async () => {
    const relayDb = await open({ authority: true });
    const relay = await MeshPeer.start(relayDb, { ...FAST, role: 'relay' });
    const writer = await open();
    const fresh = await open();
    try {
      const address = relay.addresses[0] as string;
      await writer.enableSync({ relay: address, ...FAST });
      const bugs = writer.collection('bugs');
      await bugs.declare({ views: 'counter' });
      // Enough to need several chunks: about 1.2 MB of state.
      const ids = await bugs.insertMany(Array.from({ length: 3000 }, (_, i) => ({ title: `bug ${i}`, body: 'x'.repeat(300), views: i })));
      await writer.synced('relay-durable', { signal: AbortSignal.timeout(15_000) });
      await until(
        () => relayDb.stats().versionVector[writer.nodeId] === writer.stats().versionVector[writer.nodeId],
        'the relay holds all',
      );
      await until(async () => (await relayDb.compact()).opCount === 0, 'the relay compacts everything');
      await until(() => writer.stats().gc.frontier[writer.nodeId] === writer.stats().versionVector[writer.nodeId], 'the announcement');
      await writer.compact();
      assert.equal(writer.stats().opCount, 0);
      let snapshots = 0;
      fresh.onSnapshotProgress((p) => {
        if (p.done) snapshots++;
      });
      await fresh.enableSync({ relay: address, ...FAST });
      await until(async () => (await fresh.collection('bugs').find({})).length === 3000, 'the new device holds every record');
      assert.equal(snapshots, 1);
      // Merging goes on as before: a counter incremented on both sides adds up.
      await fresh.collection('bugs').increment(ids[7] as string, 'views', 100);
      await bugs.increment(ids[7] as string, 'views', 1000);
      await until(async () => (await fresh.collection('bugs').get(ids[7] as string))?.views === 1107, 'both increments on the new device');
      await until(async () => (await bugs.get(ids[7] as string))?.views === 1107, 'both increments on the writer');
    } finally {
      await fresh.close();
      await writer.close();
      await relay.stop();
      await relayDb.close();
    }
  });
});
