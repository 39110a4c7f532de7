/**
 * Authorship across hops at a real relay (docs/relay.md, Authorship): a device that reaches the
 * relay only through another device (a LAN) gets its writes there as signed runs, judged by its
 * own token's claims, not the forwarder's; a refused one is voided everywhere, back to its
 * author; a forwarded author whose token the relay refuses gets nothing in, and the forwarder
 * is not punished for it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../node/index.ts';
import { tokenCredentials } from '../../node/mesh/auth.ts';
import { issueDeviceToken } from '../../relay/token-issuer.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import { Rules } from '../../src/rules/index.ts';
import { createPipe, databaseSource, SyncSession } from '../../src/sync/index.ts';
import { startHub, until } from '../helpers/relay.ts';

const FAST = { listen: ['/ip4/127.0.0.1/tcp/0'], backoffBaseMs: 50, backoffCapMs: 200 };
const MINE = { assignee: { $auth: 'sub' } };
// Everyone reads every bug (so a LAN peer holds them all); each writes only bugs assigned to her.
const RULES = Rules.parse({ collections: { bugs: { read: true, write: MINE } } });
const BUGS = { collections: { bugs: {} } };

type Hub = Awaited<ReturnType<typeof startHub>>;

function token(relay: Hub, sub: string, dbId = 'team'): Promise<string> {
  return issueDeviceToken(relay.keys.tokenKey, { sub, dbId, claims: {}, ttlSeconds: 3600, nowSeconds: Math.floor(Date.now() / 1000) });
}

async function device() {
  const db = await BlazeDB.open({ storage: 'memory', dbId: 'team' });
  await db.setSyncFilter(BUGS);
  return db;
}

/** A LAN session between two devices (in memory), each presenting its token. */
function lan(a: BlazeDB, aToken: string, b: BlazeDB, bToken: string) {
  const [x, y] = createPipe();
  const sa = new SyncSession({ source: databaseSource(a), duplex: x, credentials: tokenCredentials(aToken, 'team', a.nodeId) });
  const sb = new SyncSession({ source: databaseSource(b), duplex: y, credentials: tokenCredentials(bToken, 'team', b.nodeId) });
  sa.start();
  sb.start();
  return () => {
    sa.close('local-close', 'test over');
    sb.close('local-close', 'test over');
  };
}

describe('authorship across hops at the relay', () => {
  it("should judge a forwarded write by its author's claims and void a refused one back to its author", async () => {
    await using relay = await startHub({ rules: RULES });
    const ann = await device(); // on the LAN only
    const bob = await device(); // on the LAN and connected to the relay
    let endLan = () => {};
    try {
      await bob.enableSync({ ...FAST, relay: relay.address, token: await token(relay, 'bob'), filter: BUGS });
      const bugs = ann.collection('bugs');
      // Bob's claims would refuse the first and allow the second: ann's decide.
      const hers = await bugs.insert({ assignee: 'ann', title: 'hers' });
      const forBob = await bugs.insert({ assignee: 'bob', title: 'not hers to assign' });
      endLan = lan(ann, await token(relay, 'ann'), bob, await token(relay, 'bob'));

      const relayDb = await relay.hub.database('team');
      await until(async () => (await relayDb.collection('bugs').get(hers)) !== undefined, "ann's bug at the relay, through bob");
      await until(async () => ann.engine.isVoid(ann.nodeId as NodeId, 2), 'the verdict back at ann, through bob', 10_000);
      assert.equal(await relayDb.collection('bugs').get(forBob), undefined);
      for (const db of [ann, bob, relayDb]) {
        assert.equal(db.engine.storage.opsOfRecord('bugs', forBob).length, 0, 'the refused op is gone');
        assert.equal(await db.collection('bugs').get(forBob), undefined);
      }
      assert.equal((await bob.collection('bugs').get(hers))?.title, 'hers');
      const metrics = await relay.hub.metrics.text();
      assert.match(metrics, /blaze_ops_rejected_total\{db="team",collection="bugs"\} 1/);
      assert.doesNotMatch(metrics, /blaze_auth_failures_total\{reason="authorship"\}/, 'a signed run is no forgery');
    } finally {
      endLan();
      await ann.close();
      await bob.close();
    }
  });

  it("should take nothing of an author whose token it refuses, and keep the forwarder's session and writes", async () => {
    await using relay = await startHub({ rules: RULES });
    const carol = await device();
    const bob = await device();
    let endLan = () => {};
    try {
      const bobSync = await bob.enableSync({ ...FAST, relay: relay.address, token: await token(relay, 'bob'), filter: BUGS });
      const disconnects: string[] = [];
      bobSync.on('peer:disconnected', (e) => disconnects.push(e.reason));
      const hers = await carol.collection('bugs').insert({ assignee: 'carol', title: 'from a token of another database' });
      endLan = lan(carol, await token(relay, 'carol', 'other-db'), bob, await token(relay, 'bob'));
      await until(async () => (await bob.collection('bugs').get(hers)) !== undefined, "carol's bug at bob");
      const relayDb = await relay.hub.database('team');
      await until(async () => /blaze_auth_failures_total\{reason="author"\} 1/.test(await relay.hub.metrics.text()), 'the author refused');
      const mine = await bob.collection('bugs').insert({ assignee: 'bob', title: 'mine' });
      await bob.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      assert.ok(await relayDb.collection('bugs').get(mine));
      assert.equal(await relayDb.collection('bugs').get(hers), undefined);
      assert.equal(relayDb.engine.replica.version.get(carol.nodeId as NodeId) ?? 0, 0);
      assert.deepEqual(disconnects, [], "bob's relay session stayed up");
    } finally {
      endLan();
      await carol.close();
      await bob.close();
    }
  });
});
