import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import type { JWK } from 'jose';
import { BlazeDB } from '../../node/index.ts';
import { MeshPeer } from '../../node/mesh/mesh-peer.ts';
import { peerIdOfSeed } from '../../relay/data-dir.ts';
import { issueDeviceToken } from '../../relay/token-issuer.ts';
import { PROTOCOL_ID } from '../../src/sync/index.ts';
import { floodStreams, sendOversizeFrame, slowReader } from '../helpers/abusers.ts';
import { startHub, until } from '../helpers/relay.ts';

const TRUST_KEY = 'mesh_token_trust';
const trustOf = (db: BlazeDB) => db.engine.storage.getMeta(TRUST_KEY);
const FAST = { listen: ['/ip4/127.0.0.1/tcp/0'], backoffBaseMs: 50, backoffCapMs: 200 };

async function device(dbId = 'team') {
  const db = await BlazeDB.open({ storage: 'memory', dbId });
  return { db, peerId: await peerIdOfSeed(db.deviceKeySeed()) };
}

/**
 * Starts `db` syncing with the relay; resolves with the reason its first session ended. Unless
 * `admitted`, a session that reaches sync fails the test (the relay was to refuse it).
 */
async function refusedWith(db: BlazeDB, relay: string, token: string, admitted = false): Promise<string> {
  const mesh = await MeshPeer.start(db, { ...FAST, relay, token });
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('not refused')), 10_000);
      mesh.on('peer:disconnected', ({ reason }) => {
        clearTimeout(timer);
        resolve(reason);
      });
      if (!admitted) mesh.on('peer:connected', () => reject(new Error('admitted')));
    });
  } finally {
    await mesh.stop();
  }
}

describe('blaze-node hub', () => {
  it('should sync devices of a database through the relay with their tokens, each database in its own store', async () => {
    await using relay = await startHub();
    const a = await device();
    const b = await device();
    const other = await device('other-db');
    try {
      await a.db.enableSync({ ...FAST, relay: relay.address, token: await relay.token('ann', 'team', a.peerId) });
      // Without --peer: bound to the first peer id that presents it.
      await b.db.enableSync({ ...FAST, relay: relay.address, token: await relay.token('bob', 'team') });
      await other.db.enableSync({ ...FAST, relay: relay.address, token: await relay.token('cat', 'other-db') });
      const id = await a.db.collection('bugs').insert({ title: 'from ann' });
      await other.db.collection('bugs').insert({ title: 'other database' });
      await until(async () => (await b.db.collection('bugs').get(id)) !== undefined, 'ann -> relay -> bob');
      await a.db.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      await other.db.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      assert.deepEqual(relay.hub.databaseIds().sort(), ['other-db', 'team']);
      assert.equal(await b.db.collection('bugs').count(), 1); // nothing of other-db
      const team = await relay.hub.database('team');
      assert.equal(await team.collection('bugs').count(), 1);
      assert.equal(team.nodeId, (await relay.hub.database('other-db')).nodeId); // one relay key
      const metrics = await relay.hub.metrics.text();
      assert.match(metrics, /blaze_peers_connected\{db="team"\} 2/);
      assert.match(metrics, /blaze_ops_received_total\{db="team"\} [1-9]/);
      assert.match(metrics, /blaze_op_log_ops\{db="other-db"\} 1/);
    } finally {
      for (const d of [a, b, other]) await d.db.close();
    }
  });

  it('should refuse every bad token with a reason, sending and applying nothing', async () => {
    await using relay = await startHub();
    const owner = await device();
    await owner.db.enableSync({ ...FAST, relay: relay.address, token: await relay.token('ann', 'team', owner.peerId) });
    await owner.db.collection('bugs').insert({ secret: 'relay holds this' });
    await owner.db.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
    const now = Math.floor(Date.now() / 1000);
    const strangerJwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK;
    const stranger = { issuer: relay.keys.tokenKey.issuer, privateKey: strangerJwk, publicKey: { ...strangerJwk, d: undefined } };
    const thief = await device();
    const stolen = await relay.token('ann', 'team'); // unbound: the owner presents it first
    const first = await device();
    await first.db.enableSync({ ...FAST, relay: relay.address, token: stolen });
    await until(() => relay.hub.sessions().some((s) => s.sub === 'ann' && s.peer === first.peerId), 'the first presenter admitted');
    const cases: [string, string, RegExp][] = [
      [
        'signed with another key',
        await issueDeviceToken(stranger, { sub: 'x', dbId: 'team', ttlSeconds: 60, nowSeconds: now }),
        /signature/,
      ],
      [
        'expired',
        await issueDeviceToken(relay.keys.tokenKey, { sub: 'x', dbId: 'team', ttlSeconds: 1, nowSeconds: now - 3600 }),
        /expired/,
      ],
      ['another database', await relay.token('x', 'other-db'), /audience/],
      ['another peer id', await relay.token('x', 'team', owner.peerId), /peer/],
      ['bound to its first presenter', stolen, /bound to peer/],
      ['garbage', 'aaa.bbb.ccc', /malformed/],
    ];
    try {
      for (const [name, token, reason] of cases) {
        const before = (await relay.hub.database('team')).stats().opCount;
        await thief.db.collection('bugs').insert({ from: name });
        const why = await refusedWith(thief.db, relay.address, token);
        assert.match(why, /unauthorized/, name);
        assert.match(why, reason, name);
        assert.equal((await relay.hub.database('team')).stats().opCount, before, `${name}: nothing applied`);
        assert.equal(await thief.db.collection('bugs').count({ secret: 'relay holds this' }), 0, `${name}: nothing sent`);
      }
      const metrics = await relay.hub.metrics.text();
      assert.match(metrics, /blaze_auth_failures_total\{reason="signature"\} 1/);
      assert.match(metrics, /blaze_auth_failures_total\{reason="peer"\} 2/);
    } finally {
      for (const d of [owner, thief, first]) await d.db.close();
    }
  });

  it('should cut off a peer that sends ops faster than its limit, leaving the others syncing', async () => {
    await using relay = await startHub({ maxOpsPerSecondPerPeer: 100 }); // bursts of 500
    const flood = await device();
    const calm = await device();
    try {
      const calmMesh = await MeshPeer.start(calm.db, { ...FAST, relay: relay.address, token: await relay.token('cal', 'team') });
      await flood.db.collection('bugs').insertMany(Array.from({ length: 2000 }, (_, n) => ({ n })));
      const why = await refusedWith(flood.db, relay.address, await relay.token('flo', 'team'), true);
      assert.match(why, /rate-limited/);
      assert.match(await relay.hub.metrics.text(), /blaze_sessions_refused_total\{code="rate-limited"\} [1-9]/);
      await calm.db.collection('bugs').insert({ calm: true });
      await calm.db.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      assert.equal(calmMesh.state === 'offline', false);
      await calmMesh.stop();
    } finally {
      await flood.db.close();
      await calm.db.close();
    }
  });

  it('should cut off stream floods, oversize frames and a peer that stops reading, while an honest peer syncs on', async () => {
    await using relay = await startHub({ stallTimeoutSeconds: 1 });
    const honest = await device();
    try {
      await honest.db.enableSync({ ...FAST, relay: relay.address, token: await relay.token('ann', 'team') });
      // Incompressible, several MB: more than the transport buffers of a peer that stops reading.
      await honest.db.collection('bugs').insertMany(Array.from({ length: 3000 }, (_, n) => ({ n, text: randomBytes(1024) })));
      await honest.db.synced('relay-durable', { signal: AbortSignal.timeout(20_000) });

      const flood = await floodStreams(relay.address, 100);
      await flood.disconnected();
      const oversize = await sendOversizeFrame(relay.address);
      await oversize.disconnected();
      // Refused while cut off: Noise names the peer, the relay drops the connection.
      await assert.rejects(flood.host.dialProtocol(multiaddr(relay.address), PROTOCOL_ID, { signal: AbortSignal.timeout(5_000) }));
      const slow = await slowReader(relay.address, 'team', (peer) => relay.token('sly', 'team', peer));
      await Promise.race([slow.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('slow reader kept')), 20_000))]);

      const metrics = await relay.hub.metrics.text();
      assert.match(metrics, /blaze_peers_cut_off_total\{reason="stream-flood"\} 1/);
      assert.match(metrics, /blaze_peers_cut_off_total\{reason="frame-too-large"\} 1/);
      assert.match(metrics, /blaze_sessions_refused_total\{code="too-slow"\} 1/);
      await honest.db.collection('bugs').insert({ after: true });
      await honest.db.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      for (const a of [flood, oversize, slow]) await a.stop();
    } finally {
      await honest.db.close();
    }
  });

  it("should let LAN peers check each other's tokens offline with the relay's key once they reached it", async () => {
    const relayDir = await startHub();
    const a = await device();
    const b = await device();
    const c = await device();
    try {
      const meshA = await MeshPeer.start(a.db, { ...FAST, relay: relayDir.address, token: await relayDir.token('ann', 'team') });
      const meshB = await MeshPeer.start(b.db, { ...FAST, relay: relayDir.address, token: await relayDir.token('bob', 'team') });
      await a.db.collection('bugs').insert({ k: 1 });
      await until(async () => (await b.db.collection('bugs').count()) === 1, 'through the relay');
      await until(() => trustOf(a.db) !== undefined && trustOf(b.db) !== undefined, "the relay's token key learned");
      await meshA.stop();
      await meshB.stop();
      await relayDir[Symbol.asyncDispose](); // the relay is gone for good
      // LAN only now: A listens, B dials it directly; B's token checked with the key A kept.
      const lanA = await MeshPeer.start(a.db, { ...FAST, token: await relayDir.token('ann', 'team') });
      const lanB = await MeshPeer.start(b.db, { ...FAST, peers: lanA.addresses[0], token: await relayDir.token('bob', 'team') });
      await b.db.collection('bugs').insert({ k: 2 });
      await until(async () => (await a.db.collection('bugs').count()) === 2, 'B -> A over the LAN');
      // C reached the relay once (it knows the key) but its token is not the relay's: A refuses it.
      const trust = trustOf(a.db) as Uint8Array;
      c.db.engine.write(() => c.db.engine.storage.setMeta(TRUST_KEY, trust));
      const forgedJwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK;
      const forged = await issueDeviceToken(
        { issuer: relayDir.keys.tokenKey.issuer, privateKey: forgedJwk, publicKey: forgedJwk },
        { sub: 'mallory', dbId: 'team', ttlSeconds: 60, nowSeconds: Math.floor(Date.now() / 1000) },
      );
      await c.db.collection('bugs').insert({ k: 3 });
      const lanC = await MeshPeer.start(c.db, { ...FAST, peers: lanA.addresses[0], token: forged });
      const refused = await new Promise<string>((resolve) => lanC.on('peer:disconnected', ({ reason }) => resolve(reason)));
      assert.match(refused, /signature/);
      assert.equal(await a.db.collection('bugs').count(), 2);
      assert.equal(await c.db.collection('bugs').count(), 1);
      await lanC.stop();
      await lanB.stop();
      await lanA.stop();
    } finally {
      for (const d of [a, b, c]) await d.db.close();
    }
  });
});
