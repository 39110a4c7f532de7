/**
 * Standalone OPS frames (protocol 1.5): a node asked to share frames sends the same new ops to
 * every full peer in one frame encoded once; older peers, and every peer by default, still get
 * them in their session's interning stream.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchReadContext } from '../../src/codec/index.ts';
import { BlazeDB } from '../../src/db/index.ts';
import { SESSION_INTERN_CAPACITY } from '../../src/sync/constants.ts';
import { createPipe, databaseSource, SyncSession } from '../../src/sync/index.ts';
import { decodeMessage } from '../../src/sync/messages.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { helloFrame, settle } from '../helpers/sync.ts';

let seed = 7100;
const open = () => BlazeDB.open({ storage: 'memory', dbId: 'shared', random: new SeededRandom(seed++) });
const T_OPS = 0x02;

/** Connects a peer to the hub, keeping every OPS frame the hub sends it. */
function follow(hub: BlazeDB, peer: BlazeDB, shareFrames = true) {
  const [x, y] = createPipe();
  const frames: Uint8Array[] = [];
  const send = x.send.bind(x);
  x.send = (frame) => {
    if (frame[0] === T_OPS) frames.push(frame);
    return send(frame);
  };
  new SyncSession({ source: databaseSource(hub), duplex: x, shareFrames: () => shareFrames }).start();
  new SyncSession({ source: databaseSource(peer), duplex: y }).start();
  return frames;
}

describe('standalone OPS frames', () => {
  it('should send the same new ops to every full peer as one frame encoded once', async () => {
    const hub = await open();
    const peers = [await open(), await open(), await open()];
    try {
      const seen = peers.map((peer) => follow(hub, peer));
      await settle();
      for (const f of seen) f.length = 0;
      await hub.collection('bugs').insert({ title: 'for everyone' });
      await hub.collection('bugs').insert({ title: 'again' });
      await settle();
      assert.equal(seen[0]?.length, 2);
      for (const f of seen) assert.deepEqual(f, seen[0]);
      assert.deepEqual(
        seen[0]?.map((f) => f[1]),
        [0, 0],
        'standalone: no place in a stream',
      );
      for (let i = 0; i < 2; i++)
        assert.ok(
          seen.every((f) => f[i] === seen[0]?.[i]),
          'the very same bytes, not equal copies',
        );
      for (const peer of peers) assert.deepEqual(await peer.collection('bugs').find({}), await hub.collection('bugs').find({}));
      // Standalone: any reader decodes them without the session's tables, in any order.
      const ops = (seen[0] ?? []).map((f) => decodeMessage(f, 1 << 22, new BatchReadContext(SESSION_INTERN_CAPACITY)));
      assert.deepEqual(
        ops.map((m) => m.type === 'ops' && m.ops.map((op) => op.kind)),
        [['insert'], ['insert']],
      );
    } finally {
      for (const db of [hub, ...peers]) await db.close();
    }
  });

  it('should keep a peer of protocol 1.4 on its session stream', async () => {
    const hub = await open();
    const old = await open();
    try {
      await hub.collection('bugs').insert({ title: 'one' });
      await hub.collection('bugs').insert({ title: 'two' });
      const [x, y] = createPipe();
      const reader = new BatchReadContext(SESSION_INTERN_CAPACITY);
      const positions: number[] = [];
      y.onFrame((frame) => {
        if (decodeMessage(frame, 1 << 22, reader).type === 'ops') positions.push(frame[1] as number);
      });
      new SyncSession({ source: databaseSource(hub), duplex: x, batchOps: 1, shareFrames: () => true }).start();
      y.send(helloFrame({ nodeId: old.nodeId, minor: 4 }));
      await settle();
      // The byte after the type is the batch's place in the stream: 0 would be standalone.
      assert.deepEqual(positions, [1, 2]);
    } finally {
      for (const db of [hub, old]) await db.close();
    }
  });

  it('should keep every peer on its stream unless asked to share (record ids stay interned)', async () => {
    const hub = await open();
    const peer = await open();
    try {
      const frames = follow(hub, peer, false);
      await settle();
      frames.length = 0;
      await hub.collection('bugs').insert({ title: 'one' });
      await settle();
      assert.equal(frames.length, 1);
      assert.notEqual(frames[0]?.[1], 0);
      assert.deepEqual(await peer.collection('bugs').find({}), await hub.collection('bugs').find({}));
    } finally {
      for (const db of [hub, peer]) await db.close();
    }
  });
});
