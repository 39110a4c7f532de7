/**
 * Write rules at the relay: a write the rules refuse becomes a void. Its author gets a
 * `rejected` event and loses its effects, no other device ever sees it, and an op that is not
 * the sending device's own write closes the session with nothing applied.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import { BlazeDB } from '../../node/index.ts';
import { tokenCredentials } from '../../node/mesh/auth.ts';
import { createHost } from '../../node/mesh/host.ts';
import { streamDuplex } from '../../node/mesh/stream-duplex.ts';
import { peerIdOfSeed } from '../../relay/data-dir.ts';
import { issueDeviceToken } from '../../relay/token-issuer.ts';
import type { RejectedWrite } from '../../src/db/index.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import { realScheduler } from '../../src/platform/index.ts';
import { Rules } from '../../src/rules/index.ts';
import type { SyncFilterSpec } from '../../src/sync/filter.ts';
import { databaseSource, PROTOCOL_ID, type SyncError, SyncSession } from '../../src/sync/index.ts';
import { encodeMessage } from '../../src/sync/messages.ts';
import { startHub, until } from '../helpers/relay.ts';

const FAST = { listen: ['/ip4/127.0.0.1/tcp/0'], backoffBaseMs: 50, backoffCapMs: 200 };
const MINE_OR_ADMIN = { $or: [{ assignee: { $auth: 'sub' } }, { '$auth.role': 'admin' }] };
const RULES = Rules.parse({
  collections: {
    bugs: { read: MINE_OR_ADMIN, write: MINE_OR_ADMIN },
    projects: { read: true, write: { '$auth.role': 'admin' } },
  },
});
const RULES_WITH_AUDIT = Rules.parse({ collections: { ...RULES.spec.collections, audit: { read: { '$auth.role': 'admin' } } } });
const ADMIN: SyncFilterSpec = { collections: { bugs: {}, projects: {} } };
const ANNS: SyncFilterSpec = { collections: { bugs: { where: { assignee: 'ann' } }, projects: {} } };

type Hub = Awaited<ReturnType<typeof startHub>>;

/** Whether `check` holds within `ms` (a cell that should hold once ops have travelled). */
async function eventually(check: () => Promise<boolean>, ms = 5_000): Promise<boolean> {
  return until(check, 'a cell', ms).then(
    () => true,
    () => false,
  );
}

async function device(filter: SyncFilterSpec) {
  const db = await BlazeDB.open({ storage: 'memory', dbId: 'team' });
  await db.setSyncFilter(filter);
  return db;
}

function token(relay: Hub, sub: string, claims: Record<string, unknown> = {}): Promise<string> {
  return issueDeviceToken(relay.keys.tokenKey, { sub, dbId: 'team', claims, ttlSeconds: 3600, nowSeconds: Math.floor(Date.now() / 1000) });
}

/** `ann` syncs with the relay and writes one bug of hers there (relay-durable); the relay's store. */
async function oneWriteAtRelay(relay: Hub, ann: BlazeDB) {
  await ann.enableSync({ ...FAST, relay: relay.address, token: await token(relay, 'ann') });
  await ann.collection('bugs').insert({ assignee: 'ann', title: 'real' });
  await ann.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
  return relay.hub.database('team');
}

describe('write rules at the relay', () => {
  it('should void a refused write everywhere, tell its author, and keep every allowed one', async () => {
    await using relay = await startHub({ rules: RULES });
    const admin = await device(ADMIN);
    const ann = await device(ANNS);
    try {
      await admin.enableSync({ ...FAST, relay: relay.address, token: await token(relay, 'root', { role: 'admin' }) });
      const annSync = await ann.enableSync({ ...FAST, relay: relay.address, token: await token(relay, 'ann') });
      const rejected: RejectedWrite[] = [];
      annSync.on('rejected', (r) => rejected.push(r));
      const bugs = ann.collection('bugs');
      const mine = await bugs.insert({ assignee: 'ann', title: 'mine' });
      await ann.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      await until(async () => (await admin.collection('bugs').get(mine)) !== undefined, "ann's bug at the admin");

      // Allowed: an update of her own bug. Refused: handing it to bob (it would leave what she
      // may write), a bug for bob, a project (admins only).
      await bugs.update(mine, { title: 'renamed' });
      await bugs.update(mine, { assignee: 'bob' });
      const forBob = await bugs.insert({ assignee: 'bob', title: 'for bob' });
      const project = await ann.collection('projects').insert({ name: 'not hers to make' });
      await until(() => rejected.length === 3, 'three rejected events', 10_000);
      assert.deepEqual(
        rejected.map((r) => [r.collection, r.id, r.kind]),
        [
          ['bugs', mine, 'update'],
          ['bugs', forBob, 'insert'],
          ['projects', project, 'insert'],
        ],
      );
      // Her replica lost their effects: the bug is hers again, the others never existed.
      assert.deepEqual(await bugs.get(mine), { _id: mine, assignee: 'ann', title: 'renamed' });
      assert.equal(await ann.collection('projects').get(project), undefined);
      assert.equal(ann.engine.storage.opsOfRecord('bugs', forBob).length, 0, 'its op left her log');

      // Everything she wrote is accounted for at the relay; only the allowed writes are there.
      await ann.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      const relayDb = await relay.hub.database('team');
      await until(async () => (await admin.collection('bugs').get(mine))?.title === 'renamed', 'the allowed update at the admin');
      await admin.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      assert.equal((await admin.collection('bugs').get(mine))?.assignee, 'ann');
      assert.equal(await admin.collection('bugs').get(forBob), undefined);
      assert.equal(await admin.collection('projects').get(project), undefined);
      for (const db of [admin, relayDb]) {
        for (const [collection, id] of [
          ['bugs', forBob],
          ['projects', project],
        ] as const) {
          assert.equal(db.engine.storage.opsOfRecord(collection, id).length, 0, `no op of ${collection}/${id}`);
        }
      }
      assert.deepEqual(
        relayDb.engine.voidRanges().map((r) => [r.node, r.to - r.from + 1]),
        [[ann.nodeId, 3]],
        "ann's three refused writes, one after another: one range",
      );
      assert.match(await relay.hub.metrics.text(), /blaze_ops_rejected_total\{db="team",collection="bugs"\} 2/);
      assert.match(await relay.hub.metrics.text(), /blaze_ops_rejected_total\{db="team",collection="projects"\} 1/);

      // The admin may do what ann may not.
      const adminsProject = await admin.collection('projects').insert({ name: 'p' });
      await until(async () => (await ann.collection('projects').get(adminsProject)) !== undefined, "the admin's project at ann");
    } finally {
      await ann.close();
      await admin.close();
    }
  });

  it('should close the session of a device that sends an op that is not its own write, applying nothing', async () => {
    await using relay = await startHub({ rules: RULES });
    const ann = await device(ANNS);
    const mallory = await device(ANNS);
    try {
      const relayDb = await oneWriteAtRelay(relay, ann);
      const opsBefore = relayDb.stats().opCount;

      // Mallory's own writes go out under ann's node id (her dot 1 again): ops ann never wrote.
      await mallory.collection('bugs').insert({ assignee: 'ann', title: 'forged' });
      const seed = mallory.deviceKeySeed();
      const host = await createHost({ seed, listen: [], maxConnections: 8 });
      try {
        const stream = await host.dialProtocol(multiaddr(relay.address), PROTOCOL_ID);
        const source = databaseSource(mallory);
        const annId = ann.nodeId as NodeId;
        const forging = {
          ...source,
          opsAfter: (node: NodeId, seq: number, limit: number, maxBytes: number, upTo: number) =>
            source.opsAfter(node, seq, limit, maxBytes, upTo).map((op) => ({ ...op, node: annId })),
        };
        const credentials = tokenCredentials(await token(relay, 'ann'), 'team', mallory.nodeId);
        assert.equal(host.peerId.toString(), (await peerIdOfSeed(seed)).toString());
        const session = new SyncSession({ source: forging, duplex: streamDuplex(stream), credentials, scheduler: realScheduler });
        const closed = new Promise<SyncError>((resolve) => session.onClose(resolve));
        session.start();
        const reason = await closed;
        assert.equal(reason.code, 'forbidden', reason.message);
        assert.match(reason.message, /not this device's own write/);
      } finally {
        await host.stop();
      }
      assert.equal(relayDb.stats().opCount, opsBefore, 'nothing applied');
      assert.equal(relayDb.engine.replica.version.get(ann.nodeId as NodeId), 1, "ann's vector entry did not move");
      assert.match(await relay.hub.metrics.text(), /blaze_auth_failures_total\{reason="authorship"\} 1/);
    } finally {
      await ann.close();
      await mallory.close();
    }
  });

  it('should close the session of a device that sends the relay a snapshot, applying nothing', async () => {
    await using relay = await startHub({ rules: RULES });
    const ann = await device(ANNS);
    const mallory = await device(ANNS);
    try {
      const relayDb = await oneWriteAtRelay(relay, ann);
      const before = relayDb.engine.replica.version.toMap();
      const host = await createHost({ seed: mallory.deviceKeySeed(), listen: [], maxConnections: 8 });
      try {
        const duplex = streamDuplex(await host.dialProtocol(multiaddr(relay.address), PROTOCOL_ID));
        const credentials = tokenCredentials(await token(relay, 'ann'), 'team', mallory.nodeId);
        const session = new SyncSession({ source: databaseSource(mallory), duplex, credentials, scheduler: realScheduler });
        const closed = new Promise<SyncError>((resolve) => session.onClose(resolve));
        session.onStateChange((state) => {
          if (state !== 'syncing') return;
          // Merge states no rule can judge, and a vector that claims ann's future dots.
          duplex.send(encodeMessage({ type: 'snapshot-begin', version: new Map([[ann.nodeId as NodeId, 1000]]) }));
          duplex.send(encodeMessage({ type: 'snapshot-chunk', index: 0, body: new Uint8Array([0, 0]) }));
          duplex.send(encodeMessage({ type: 'snapshot-end', chunks: 1, records: 0 }));
        });
        session.start();
        const timeout = new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('the relay did not close the session')), 10_000).unref(),
        );
        const reason = await Promise.race([closed, timeout]);
        assert.equal(reason.code, 'forbidden', reason.message);
        assert.match(reason.message, /no snapshot/);
      } finally {
        await host.stop();
      }
      assert.deepEqual(relayDb.engine.replica.version.toMap(), before, 'nothing counted');
    } finally {
      await ann.close();
      await mallory.close();
    }
  });

  it('should hold every collection x operation x role cell of the rules', async () => {
    await using relay = await startHub({ rules: RULES_WITH_AUDIT });
    const admin = await device({ collections: { bugs: {}, projects: {}, audit: {} } });
    const ann = await device(ANNS);
    const bob = await device({ collections: { bugs: { where: { assignee: 'bob' } }, projects: {} } });
    const roles = { admin, ann, bob };
    const rejected = new Map<BlazeDB, RejectedWrite[]>();
    const settle = async () => {
      for (const db of Object.values(roles)) await db.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      await new Promise((r) => setTimeout(r, 300)); // the verdicts' VOIDs and the relay's pushes land
    };
    try {
      for (const [db, sub, claims] of [
        [admin, 'root', { role: 'admin' }],
        [ann, 'ann', {}],
        [bob, 'bob', {}],
      ] as const) {
        const net = await db.enableSync({ ...FAST, relay: relay.address, token: await token(relay, sub, claims) });
        const mine: RejectedWrite[] = [];
        rejected.set(db, mine);
        net.on('rejected', (r) => mine.push(r));
      }
      // Subscriptions: each device's live query on bugs fires only for what it may read.
      const seenBy = new Map<BlazeDB, Set<string>>();
      for (const db of Object.values(roles)) {
        const seen = new Set<string>();
        seenBy.set(db, seen);
        db.collection('bugs').subscribe({}, (result) => {
          for (const r of result.added) seen.add(String((r as { title?: unknown }).title));
        });
      }

      // insert: bugs (own or admin), projects (admin), audit (nobody: no write rule).
      const annsBug = await ann.collection('bugs').insert({ assignee: 'ann', title: 'ann by ann' });
      const bugForBob = await ann.collection('bugs').insert({ assignee: 'bob', title: 'bob by ann' });
      const bobsBug = await bob.collection('bugs').insert({ assignee: 'bob', title: 'bob by bob' });
      const adminsBug = await admin.collection('bugs').insert({ assignee: 'ann', title: 'ann by admin' });
      const project = await admin.collection('projects').insert({ name: 'p', owner: 'root' });
      const annsProject = await ann.collection('projects').insert({ name: 'q' });
      const audit = await admin.collection('audit').insert({ what: 'x' });
      await settle();
      const cells: [string, boolean, boolean][] = [];
      const at = async (db: BlazeDB, collection: string, id: string) => (await db.collection(collection).get(id)) !== undefined;
      const relayDb = await relay.hub.database('team');
      const onRelay = (collection: string, id: string) => relayDb.engine.readDoc(collection, id) !== undefined;
      cells.push(
        ['insert: user, her own bug', onRelay('bugs', annsBug), true],
        ["insert: user, another's bug", onRelay('bugs', bugForBob), false],
        ['insert: other user, his own bug', onRelay('bugs', bobsBug), true],
        ["insert: admin, anyone's bug", onRelay('bugs', adminsBug), true],
        ['insert: admin, a project', onRelay('projects', project), true],
        ['insert: user, a project', onRelay('projects', annsProject), false],
        ['insert: admin, audit (no write rule)', onRelay('audit', audit), false],
      );

      // read: what each device holds.
      cells.push(
        ["read: user, her bug and the admin's bug for her", (await at(ann, 'bugs', annsBug)) && (await at(ann, 'bugs', adminsBug)), true],
        ["read: user, another's bug", await at(ann, 'bugs', bobsBug), false],
        ['read: other user, a bug for him written by a user who may not', await at(bob, 'bugs', bugForBob), false],
        ["read: admin, every user's bug", (await at(admin, 'bugs', annsBug)) && (await at(admin, 'bugs', bobsBug)), true],
        ['read: user, a project', await at(ann, 'projects', project), true],
        ['read: user, a refused project (her own write, voided)', await at(ann, 'projects', annsProject), false],
      );

      // update: her own bug; taking it away; a project (admin only); the admin's update of hers.
      await ann.collection('bugs').update(annsBug, { title: 'ann by ann, renamed' });
      await ann.collection('bugs').update(adminsBug, { assignee: 'bob' });
      await ann.collection('projects').update(project, { name: 'hijacked' });
      await admin.collection('bugs').update(bobsBug, { title: 'bob by bob, edited by admin' });
      await settle();
      cells.push(
        ['update: user, her own bug', relayDb.engine.readDoc('bugs', annsBug)?.title === 'ann by ann, renamed', true],
        ['update: user, giving a bug away', relayDb.engine.readDoc('bugs', adminsBug)?.assignee === 'bob', false],
        ['update: user, a project', relayDb.engine.readDoc('projects', project)?.name === 'hijacked', false],
        [
          "update: admin, another user's bug",
          await eventually(async () => (await bob.collection('bugs').get(bobsBug))?.title === 'bob by bob, edited by admin'),
          true,
        ],
        [
          'update: the refused reassignment is undone at its author',
          (await ann.collection('bugs').get(adminsBug))?.assignee === 'ann',
          true,
        ],
        ['update: the refused rename is undone at its author', (await ann.collection('projects').get(project))?.name === 'p', true],
      );

      // delete: a project (admin only), her own bug.
      await ann.collection('projects').delete(project);
      await ann.collection('bugs').delete(annsBug);
      await settle();
      cells.push(
        ['delete: user, a project', onRelay('projects', project) && (await at(ann, 'projects', project)), true],
        ['delete: user, her own bug', onRelay('bugs', annsBug) || (await at(admin, 'bugs', annsBug)), false],
      );

      // subscribe: live queries fired for readable bugs only, and never for a refused one.
      const annSaw = seenBy.get(ann) as Set<string>;
      const bobSaw = seenBy.get(bob) as Set<string>;
      cells.push(
        ["subscribe: user, the admin's bug for her", annSaw.has('ann by admin'), true],
        ["subscribe: user, another's bug", annSaw.has('bob by bob'), false],
        ['subscribe: other user, a refused bug for him', bobSaw.has('bob by ann'), false],
        ["subscribe: admin, every user's bug", (seenBy.get(admin) as Set<string>).has('bob by bob'), true],
      );
      // initial sync of a new device of ann's: only what she may read (partial replicas take no snapshot).
      const annsPhone = await device(ANNS);
      try {
        await annsPhone.enableSync({ ...FAST, relay: relay.address, token: await token(relay, 'ann') });
        await until(async () => (await annsPhone.collection('bugs').count()) >= 1, "ann's bugs on her new device");
        await new Promise((r) => setTimeout(r, 300));
        cells.push(
          ['initial sync: user, her bugs', (await annsPhone.collection('bugs').find({})).every((b) => b.assignee === 'ann'), true],
          ["initial sync: user, another's bug", await at(annsPhone, 'bugs', bobsBug), false],
          ['initial sync: user, audit', annsPhone.engine.storage.opsOfRecord('audit', audit).length > 0, false],
        );
      } finally {
        await annsPhone.close();
      }

      const wrong = cells.filter(([, got, want]) => got !== want).map(([what, got]) => `${what}: ${got}`);
      assert.deepEqual(wrong, [], 'cells that did not hold');
      assert.deepEqual((rejected.get(ann) ?? []).map((r) => `${r.kind} ${r.collection}`).sort(), [
        'delete projects',
        'insert bugs',
        'insert projects',
        'update bugs',
        'update projects',
      ]);
      assert.deepEqual(rejected.get(bob), []);
      assert.deepEqual(
        (rejected.get(admin) ?? []).map((r) => `${r.kind} ${r.collection}`),
        ['insert audit'],
      );
    } finally {
      for (const db of Object.values(roles)) await db.close();
    }
  });
});
