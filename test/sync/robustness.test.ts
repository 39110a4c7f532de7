/** Failure modes found in review: each asserts the fixed behaviour. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchReadContext } from '../../src/codec/index.ts';
import { BlazeDB } from '../../src/db/index.ts';
import { SESSION_INTERN_CAPACITY } from '../../src/sync/constants.ts';
import {
  createPipe,
  DuplexHandlers,
  databaseSource,
  decodeMessage,
  encodeMessage,
  type FrameDuplex,
  SyncSession,
} from '../../src/sync/index.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { helloFrame, manualScheduler, settle } from '../helpers/sync.ts';

let seed = 100;
const open = (dbId = 'robust') => BlazeDB.open({ storage: 'memory', dbId, random: new SeededRandom(seed++) });

describe('sync robustness', () => {
  it('should cut batches by size so large records never exceed the frame limit', async () => {
    const a = await open();
    const b = await open();
    const random = new SeededRandom(7);
    const text = () => Buffer.from(random.bytes(3000)).toString('base64'); // ~4 KB, incompressible
    await a.collection('docs').insertMany(Array.from({ length: 200 }, () => ({ body: text() })));
    const [x, y] = createPipe();
    const sa = new SyncSession({ source: databaseSource(a), duplex: x, maxFrameBytes: 64 * 1024 });
    const sb = new SyncSession({ source: databaseSource(b), duplex: y, maxFrameBytes: 64 * 1024 });
    sa.start();
    sb.start();
    await settle();
    assert.equal(sb.state, 'syncing', sb.closeReason?.message);
    assert.equal(await b.collection('docs').count(), 200);
  });

  it('should end its sessions when the database closes, without throwing into the peer', async () => {
    const a = await open();
    const b = await open();
    const [x, y] = createPipe();
    const sa = new SyncSession({ source: databaseSource(a), duplex: x });
    const sb = new SyncSession({ source: databaseSource(b), duplex: y });
    sa.start();
    sb.start();
    await settle();
    await a.collection('c').insert({ n: 1 });
    await a.close();
    await settle();
    assert.equal(sa.closeReason?.code, 'local-close');
    assert.equal(sb.state, 'closed');
    await b.collection('c').insert({ n: 2 }); // no session left to push into a closed store
    await settle();
  });

  it('should not count a peer as a relay because it says so in an ACK', async () => {
    const device = await open();
    const liar = await open();
    await device.collection('c').insert({ n: 1 });
    const [x, y] = createPipe();
    new SyncSession({ source: databaseSource(device), duplex: x }).start();
    // The liar runs as a peer but acknowledges at relay level.
    new SyncSession({ source: databaseSource(liar), duplex: y, ackLevel: 'relay-durable' }).start();
    await settle();
    assert.equal(device.acks.all()[0]?.level, 'local-durable');
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await assert.rejects(device.synced('relay-durable', { signal: controller.signal }), /stop/);
  });

  it("should ignore made-up origins in a peer's vectors", async () => {
    const device = await open();
    await device.collection('c').insert({ n: 1 });
    const evil = await open();
    const [x, y] = createPipe();
    new SyncSession({ source: databaseSource(device), duplex: x }).start();
    const huge = new Map(Array.from({ length: 5000 }, (_, i) => [i.toString(16).padStart(16, '0') as never, 1]));
    y.send(helloFrame({ dbId: 'robust', nodeId: evil.nodeId, version: huge }));
    await settle();
    y.send(encodeMessage({ type: 'ack', level: 'local-durable', version: huge }));
    await settle();
    assert.ok((device.acks.all()[0]?.version.size ?? 0) <= 1);
  });

  it('should tell a peer nothing about itself before that peer passed the checks (helloAfterPeer)', async () => {
    const a = await open();
    await a.collection('c').insert({ secret: 1 });
    const seen = async (dbId: string) => {
      const [x, y] = createPipe();
      const types: string[] = [];
      y.onFrame((frame) => types.push(decodeMessage(frame, 1 << 22, new BatchReadContext(SESSION_INTERN_CAPACITY)).type));
      new SyncSession({ source: databaseSource(a), duplex: x, helloAfterPeer: true }).start();
      await settle();
      assert.deepEqual(types, [], 'silent until the peer speaks');
      const peer = await open(dbId);
      y.send(helloFrame({ dbId, nodeId: peer.nodeId }));
      await settle();
      return types;
    };
    assert.deepEqual(await seen('another-db'), ['close']);
    assert.equal((await seen('robust'))[0], 'hello');
  });

  it('should drop a peer that connects and never says HELLO', async () => {
    const a = await open();
    const scheduler = manualScheduler();
    const [x] = createPipe();
    const session = new SyncSession({ source: databaseSource(a), duplex: x, scheduler, handshakeTimeoutMs: 1000 });
    session.start();
    scheduler.advance(999);
    assert.equal(session.state, 'handshake');
    scheduler.advance(1);
    assert.equal(session.closeReason?.code, 'protocol');
  });

  it('should close with too-slow a session whose peer reads nothing for the stall timeout, and not one that drains', async () => {
    const a = await open();
    await a.collection('c').insertMany(Array.from({ length: 50 }, (_, n) => ({ n })));
    /** A transport that takes two frames, then stays full until the test drains it. */
    class FullDuplex extends DuplexHandlers implements FrameDuplex {
      sent = 0;
      send(): boolean {
        return ++this.sent <= 2;
      }
      close(): void {}
      drain(): void {
        this.sent = 0;
        this.emitDrain();
      }
      hear(frame: Uint8Array): void {
        this.emitFrame(frame);
      }
    }
    const run = async (drainAt?: number) => {
      const scheduler = manualScheduler();
      const duplex = new FullDuplex();
      const session = new SyncSession({ source: databaseSource(a), duplex, scheduler, stallTimeoutMs: 5_000, batchOps: 5 });
      session.start();
      duplex.hear(helloFrame({ dbId: 'robust', nodeId: (await open()).nodeId }));
      await settle();
      scheduler.advance(4_999);
      if (drainAt !== undefined) duplex.drain();
      await settle();
      scheduler.advance(1);
      return session;
    };
    assert.equal((await run()).closeReason?.code, 'too-slow');
    const drained = await run(4_999);
    assert.equal(drained.state === 'closed', false, 'a drain before the timeout keeps it');
  });
});
