import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import { BlazeDB, ClosedError } from '../../node/index.ts';
import { askForIntroductions } from '../../node/mesh/introductions.ts';
import { type MeshOptions, MeshPeer } from '../../node/mesh/mesh-peer.ts';
import type { SyncNetworkEvents } from '../../src/db/index.ts';
import { ValidationError } from '../../src/errors.ts';

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];
const FAST = { listen: LOOPBACK, backoffBaseMs: 50, backoffCapMs: 200 };

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function memoryDb(dbId = 'mesh-test'): Promise<BlazeDB> {
  return BlazeDB.open({ storage: 'memory', dbId });
}

/** A relay on loopback (a mesh peer with role 'relay'), stopped with its database on dispose. */
async function startRelay(options: MeshOptions) {
  const db = await memoryDb();
  const peer = await MeshPeer.start(db, { ...FAST, role: 'relay', ...options });
  return {
    peer,
    db,
    async [Symbol.asyncDispose]() {
      await peer.stop();
      await db.close();
    },
  };
}

describe('mesh peer over loopback', () => {
  it('should sync two peers through a relay, both ways, and report live', async () => {
    await using started = await startRelay({});
    const relay = started.peer;
    const a = await memoryDb();
    const b = await memoryDb();
    try {
      const relayAddress = relay.addresses[0] as string;
      const meshA = await a.enableSync({ relay: relayAddress, ...FAST });
      const states: string[] = [];
      meshA.on('state', (s) => states.push(s));
      await b.enableSync({ relay: relayAddress, ...FAST });
      const idA = await a.collection('bugs').insert({ title: 'from A', votes: 1 });
      const idB = await b.collection('bugs').insert({ title: 'from B' });
      await a.collection('bugs').update(idA, { votes: 3 });
      await until(async () => (await b.collection('bugs').get(idA))?.votes === 3, 'A -> relay -> B');
      await until(async () => (await a.collection('bugs').get(idB)) !== undefined, 'B -> relay -> A');
      await a.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      await until(() => meshA.state === 'live', 'A live');
      assert.ok(states.includes('live'));
      assert.equal(relay.sessions().length, 2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('should report records left with concurrent values by synced ops', async () => {
    await using started = await startRelay({});
    const relay = started.peer;
    const [a, b] = [await memoryDb(), await memoryDb()];
    try {
      await a.collection('bugs').declare({ assignee: 'mv' });
      const id = await a.collection('bugs').insert({ assignee: 'ann' });
      const meshA = await a.enableSync({ ...FAST, relay: relay.addresses[0] as string });
      await b.enableSync({ ...FAST, relay: relay.addresses[0] as string });
      await until(async () => (await b.collection('bugs').get(id)) !== undefined, 'the record on b');
      const conflicts: { collection: string; id: string; fields: string[] }[] = [];
      meshA.on('conflict', (c) => conflicts.push(c));
      await a.disableSync();
      await a.collection('bugs').update(id, { assignee: 'bob' });
      await b.collection('bugs').update(id, { assignee: 'cat' });
      const again = await a.enableSync({ ...FAST, relay: relay.addresses[0] as string });
      again.on('conflict', (c) => conflicts.push(c));
      await until(() => conflicts.length > 0, 'a conflict event');
      assert.deepEqual(conflicts[0], { collection: 'bugs', id, fields: ['assignee'] });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('should introduce peers only to peers in sync with the relay', async () => {
    await using started = await startRelay({ webrtc: true, token: 'right' });
    const relay = started.peer;
    const [a, b, stranger] = [await memoryDb(), await memoryDb(), await memoryDb()];
    try {
      const address = multiaddr(relay.addresses[0] as string);
      const options = { ...FAST, relay: relay.addresses[0] as string, webrtc: true, token: 'right' };
      // Only b holds a reservation (so no WebRTC link forms here): a just asks.
      const meshA = (await a.enableSync({ ...options, webrtc: false })) as MeshPeer;
      const meshB = (await b.enableSync(options)) as MeshPeer;
      const ask = () => askForIntroductions(meshA.libp2p, address, 5_000).catch(() => [] as string[]);
      await until(async () => (await ask()).includes(meshB.peerId), 'b introduced to a');
      const refused = (await stranger.enableSync({ ...options, webrtc: false, token: 'wrong' })) as MeshPeer;
      await assert.rejects(askForIntroductions(refused.libp2p, address, 5_000));
    } finally {
      for (const db of [a, b, stranger]) await db.close();
    }
  });

  it('should sync with a relay over WebSockets', async () => {
    await using started = await startRelay({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] });
    const relay = started.peer;
    const device = await memoryDb();
    try {
      const address = relay.addresses.find((a) => a.includes('/ws/')) as string;
      assert.ok(address, relay.addresses.join(' '));
      await device.enableSync({ ...FAST, relay: address });
      const id = await device.collection('bugs').insert({ title: 'over a websocket' });
      await device.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      assert.equal((await started.db.collection('bugs').get(id))?.title, 'over a websocket');
    } finally {
      await device.close();
    }
  });

  it('should refuse a peer with the wrong token or another database, and apply nothing from it', async () => {
    await using started = await startRelay({ token: 'right' });
    const relay = started.peer;
    const intruder = await memoryDb();
    const stranger = await memoryDb('another-db');
    try {
      await intruder.collection('bugs').insert({ title: 'should not arrive' });
      await stranger.collection('bugs').insert({ title: 'nor this' });
      const reasons: string[] = [];
      const m1 = await intruder.enableSync({ relay: relay.addresses[0] as string, ...FAST, token: 'wrong' });
      const m2 = await stranger.enableSync({ relay: relay.addresses[0] as string, ...FAST, token: 'right' });
      const onClose = (e: SyncNetworkEvents['peer:disconnected']) => reasons.push(e.reason);
      m1.on('peer:disconnected', onClose);
      m2.on('peer:disconnected', onClose);
      await until(() => reasons.some((r) => r.startsWith('unauthorized')) && reasons.some((r) => r.includes('database')), 'refusals');
      assert.equal(started.db.stats().opCount, 0);
      assert.deepEqual(started.db.collectionNames(), []);
    } finally {
      await intruder.close();
      await stranger.close();
    }
  });

  it('should refuse bad addresses with a typed error, changing nothing', async () => {
    const db = await memoryDb();
    try {
      await assert.rejects(db.enableSync({ relay: '/ip4/127.0.0.1/tcp/4001', ...FAST }), ValidationError);
      await assert.rejects(db.enableSync({ relay: 'not a multiaddr', ...FAST }), ValidationError);
      await assert.rejects(db.enableSync({ relay: '/ip4/127.0.0.1/tcp/4001/p2p/notapeerid', ...FAST }), /not a peer id/);
      await assert.rejects(db.enableSync({ ...FAST, listen: ['garbage'] }), ValidationError);
      await assert.rejects(db.enableSync({ ...FAST, filter: { collections: 'bugs' } as never }), /filter/i);
      assert.equal(db.network, undefined);
      assert.equal(db.syncFilter, undefined);
    } finally {
      await db.close();
    }
  });

  it('should not redial a relay that refused it, nor trust a peer that only says it is a relay', async () => {
    await using started = await startRelay({ token: 'right' });
    const relay = started.peer;
    const device = await memoryDb();
    const fakeDb = await memoryDb();
    try {
      const refusals: string[] = [];
      const mesh = await device.enableSync({ relay: relay.addresses[0] as string, ...FAST, token: 'wrong' });
      mesh.on('peer:disconnected', (e) => refusals.push(e.reason));
      await until(() => refusals.length > 0, 'the refusal');
      await new Promise((r) => setTimeout(r, 600)); // three backoff caps
      assert.equal(refusals.length, 1, 'refused once, never redialed');

      // A peer that claims the relay role without being configured as a relay is refused.
      const fake = await MeshPeer.start(fakeDb, { ...FAST, role: 'relay' });
      const honest = await memoryDb();
      try {
        const reasons: string[] = [];
        const m = await honest.enableSync({ ...FAST, peers: [fake.addresses[0] as string] });
        m.on('peer:disconnected', (e) => reasons.push(e.reason));
        await until(() => reasons.some((r) => r.includes('not a configured')), 'the refusal of a self-declared relay');
        assert.equal(honest.acks.all().length, 0);
      } finally {
        await honest.close();
        await fake.stop();
      }
    } finally {
      await device.close();
      await fakeDb.close();
    }
  });

  it('should start one network at a time, stop it when the database closes meanwhile, and keep the identity while syncing', async () => {
    const db = await memoryDb();
    const starting = db.enableSync({ ...FAST, relay: [] });
    await assert.rejects(db.enableSync({ ...FAST }), /already enabled/);
    const mesh = (await starting) as MeshPeer;
    await assert.rejects(db.renewIdentity(), /disable sync/);
    await db.disableSync();
    assert.equal(mesh.libp2p.status, 'stopped');

    const racing = db.enableSync({ ...FAST });
    await db.close();
    await assert.rejects(racing, ClosedError);
  });
});
