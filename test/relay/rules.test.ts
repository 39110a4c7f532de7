import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BlazeDB } from '../../node/index.ts';
import { MeshPeer } from '../../node/mesh/mesh-peer.ts';
import { peerIdOfSeed } from '../../relay/data-dir.ts';
import { issueDeviceToken } from '../../relay/token-issuer.ts';
import { Rules } from '../../src/rules/index.ts';
import type { SyncFilterSpec } from '../../src/sync/filter.ts';
import { tempDir } from '../helpers/db.ts';
import { startHub, until } from '../helpers/relay.ts';

const execFileP = promisify(execFile);
const BLAZE = new URL('../../node/cli/blaze.ts', import.meta.url).pathname;

const FAST = { listen: ['/ip4/127.0.0.1/tcp/0'], backoffBaseMs: 50, backoffCapMs: 200 };
const TRUST_KEY = 'mesh_token_trust';
const MINE_OR_ADMIN = { $or: [{ assignee: { $auth: 'sub' } }, { '$auth.role': 'admin' }] };
const RULES = Rules.parse({
  collections: {
    bugs: { read: MINE_OR_ADMIN, write: MINE_OR_ADMIN },
    projects: { read: true, write: { '$auth.role': 'admin' } },
  },
});
const ADMIN: SyncFilterSpec = { collections: { bugs: {}, projects: {} } };
const ANNS: SyncFilterSpec = { collections: { bugs: { where: { assignee: 'ann' } } } };

type Hub = Awaited<ReturnType<typeof startHub>>;

async function device(filter?: SyncFilterSpec) {
  const db = await BlazeDB.open({ storage: 'memory', dbId: 'team' });
  if (filter) await db.setSyncFilter(filter);
  return { db, peerId: await peerIdOfSeed(db.deviceKeySeed()) };
}

function token(relay: Hub, sub: string, claims: Record<string, unknown> = {}): Promise<string> {
  return issueDeviceToken(relay.keys.tokenKey, { sub, dbId: 'team', claims, ttlSeconds: 3600, nowSeconds: Math.floor(Date.now() / 1000) });
}

/**
 * The reason the first session of `mesh` ended. Unless `admitting`, a session that reaches sync
 * fails the test (a LAN peer that dialed `mesh` may be admitted by it before it refuses `mesh`).
 */
function refusal(mesh: MeshPeer, admitting = false): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not refused')), 10_000);
    mesh.on('peer:disconnected', ({ reason }) => {
      clearTimeout(timer);
      resolve(reason);
    });
    if (!admitting) mesh.on('peer:connected', () => reject(new Error('admitted')));
  });
}

/** Whether any op of any of the records is in the store (a record's fields or its tombstone). */
const holdsAnyOf = (db: BlazeDB, ids: string[]) => ids.some((id) => db.engine.storage.opsOfRecord('bugs', id).length > 0);

describe('read rules at the relay and on the LAN', () => {
  it('should give each device only what its claims may read and refuse a filter that asks for more', async () => {
    await using relay = await startHub({ rules: RULES });
    const admin = await device(ADMIN);
    const ann = await device(ANNS);
    const greedy = await device({ collections: { bugs: {} } });
    const full = await device();
    try {
      await admin.db.enableSync({ ...FAST, relay: relay.address, token: await token(relay, 'root', { role: 'admin' }) });
      const bugs = admin.db.collection('bugs');
      const annIds = await Promise.all([1, 2, 3].map((n) => bugs.insert({ n, assignee: 'ann', note: `ann ${n}` })));
      const bobIds = await Promise.all([1, 2, 3].map((n) => bugs.insert({ n, assignee: 'bob', note: `secret ${n}` })));
      await bugs.delete(bobIds[2] as string);
      await admin.db.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });

      await ann.db.enableSync({ ...FAST, relay: relay.address, token: await token(relay, 'ann') });
      await until(async () => (await ann.db.collection('bugs').count()) === 3, "ann's bugs at ann");
      assert.deepEqual(
        (await ann.db.collection('bugs').find({})).map((b) => b.assignee),
        ['ann', 'ann', 'ann'],
      );
      assert.equal(holdsAnyOf(ann.db, bobIds as string[]), false, "no op of bob's bugs, their delete included");
      // A bug moved to ann reaches her; one moved away leaves her.
      await bugs.update(bobIds[0] as string, { assignee: 'ann' });
      await bugs.update(annIds[0] as string, { assignee: 'bob' });
      await until(async () => (await ann.db.collection('bugs').get(bobIds[0] as string)) !== undefined, 'a bug moved to ann');
      await until(async () => (await ann.db.collection('bugs').get(annIds[0] as string)) === undefined, 'a bug moved away');

      const relayOps = (await relay.hub.database('team')).stats().opCount;
      for (const [who, d, reason] of [
        ['a filter wider than the rules', greedy, /forbidden.*asks for more/],
        ['a full replica', full, /forbidden.*part of the database only/],
      ] as const) {
        await d.db.collection('bugs').insert({ assignee: 'ann', from: who });
        const mesh = await MeshPeer.start(d.db, { ...FAST, relay: relay.address, token: await token(relay, 'ann') });
        const why = await refusal(mesh).finally(() => mesh.stop());
        assert.match(why, reason, who);
        assert.match(why, /"assignee":"ann"/, `${who}: told what it may read`);
        assert.equal(await d.db.collection('bugs').count(), 1, `${who}: nothing sent`);
        assert.equal((await relay.hub.database('team')).stats().opCount, relayOps, `${who}: nothing applied`);
      }
      assert.match(await relay.hub.metrics.text(), /blaze_auth_failures_total\{reason="rules"\} 2/);
    } finally {
      for (const d of [admin, ann, greedy, full]) await d.db.close();
    }
  });

  it("should make LAN peers enforce the relay's signed rules when they serve each other", async () => {
    const relay = await startHub({ rules: RULES });
    const admin = await device(ADMIN);
    const ann = await device(ANNS);
    const greedy = await device({ collections: { bugs: {} } });
    const adminToken = await token(relay, 'root', { role: 'admin' });
    const annToken = await token(relay, 'ann');
    try {
      for (const [d, t] of [
        [admin, adminToken],
        [ann, annToken],
      ] as const) {
        const mesh = await MeshPeer.start(d.db, { ...FAST, relay: relay.address, token: t });
        await until(() => d.db.engine.storage.getMeta(TRUST_KEY) !== undefined, "the relay's key and rules learned");
        await mesh.stop();
      }
      const trust = admin.db.engine.storage.getMeta(TRUST_KEY) as Uint8Array;
      assert.match(new TextDecoder().decode(trust), /"rules":"ey/, 'the rules are kept as the relay signed them');
      await relay[Symbol.asyncDispose](); // LAN only from here
      const lanAdmin = await MeshPeer.start(admin.db, { ...FAST, token: adminToken });
      const lanAnn = await MeshPeer.start(ann.db, { ...FAST, peers: lanAdmin.addresses[0], token: annToken });
      const bugs = admin.db.collection('bugs');
      const mine = await bugs.insert({ assignee: 'ann', note: 'over the LAN' });
      const bobs = await bugs.insert({ assignee: 'bob', note: 'not for ann' });
      await until(async () => (await ann.db.collection('bugs').get(mine)) !== undefined, "ann's bug over the LAN");
      await admin.db.collection('projects').insert({ name: 'p' });
      await until(async () => (await admin.db.collection('bugs').count()) === 2, 'settled');
      assert.equal(holdsAnyOf(ann.db, [bobs]), false, "bob's bug never reached ann");

      // Another device of ann's that asks for every bug: refused by the admin's peer, nothing sent.
      greedy.db.engine.write(() => greedy.db.engine.storage.setMeta(TRUST_KEY, trust));
      const lanGreedy = await MeshPeer.start(greedy.db, { ...FAST, peers: lanAdmin.addresses[0], token: await token(relay, 'ann') });
      const why = await refusal(lanGreedy, true).finally(() => lanGreedy.stop());
      assert.match(why, /forbidden.*asks for more/);
      assert.equal(await greedy.db.collection('bugs').count(), 0);
      await lanAnn.stop();
      await lanAdmin.stop();
    } finally {
      for (const d of [admin, ann, greedy]) await d.db.close();
    }
  });

  it("should derive a device's filter from the relay's signed rules with filter: 'rules'", async () => {
    await using relay = await startHub({ rules: RULES });
    await using bare = await startHub();
    const admin = await device(ADMIN);
    const ann = await device();
    const other = await device();
    try {
      await admin.db.enableSync({ ...FAST, relay: relay.address, token: await token(relay, 'root', { role: 'admin' }) });
      const mine = await admin.db.collection('bugs').insert({ assignee: 'ann' });
      await admin.db.collection('bugs').insert({ assignee: 'bob' });
      await admin.db.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });

      await ann.db.enableSync({ ...FAST, relay: relay.address, token: await token(relay, 'ann'), filter: 'rules' });
      assert.deepEqual(ann.db.syncFilter, { collections: { bugs: { where: { assignee: 'ann' } }, projects: {} } });
      await until(async () => (await ann.db.collection('bugs').get(mine)) !== undefined, "ann's bug");
      assert.equal(await ann.db.collection('bugs').count(), 1);

      // The CLI: `blaze sync --once --rules-filter` (a process; the hub runs in this one).
      const dir = tempDir();
      try {
        const cli = (...args: string[]) =>
          execFileP(process.execPath, [BLAZE, '--db', dir.path, ...args], { encoding: 'utf8' }).catch(
            (err) => err as { stdout: string; stderr: string; code: number },
          );
        await cli('init', '--db-id', 'team');
        const synced = await cli(
          'sync',
          '--once',
          '--relay',
          relay.address,
          '--token',
          await token(relay, 'ann'),
          '--rules-filter',
          '--json',
        );
        // Caught up, though every op it lacked of bob's came as skipped dots (no ops to announce).
        assert.deepEqual(JSON.parse(synced.stdout), { caughtUp: true, peers: 1 }, synced.stderr);
        assert.deepEqual(JSON.parse((await cli('filter', '--json')).stdout).filter, ann.db.syncFilter);
        assert.equal(JSON.parse((await cli('find', 'bugs', '--json')).stdout).length, 1);
      } finally {
        dir.cleanup();
      }

      // A relay without rules: nothing to derive, and the store stays a full replica.
      await assert.rejects(
        other.db.enableSync({ ...FAST, relay: bare.address, token: await token(bare, 'ann'), filter: 'rules' }),
        (err: Error) => err.name === 'MeshRulesError' && /has no rules/.test(err.message),
      );
      assert.equal(other.db.syncFilter, undefined);
    } finally {
      for (const d of [admin, ann, other]) await d.db.close();
    }
  });
});
