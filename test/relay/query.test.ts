import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../node/index.ts';
import { MeshPeer } from '../../node/mesh/mesh-peer.ts';
import { httpAddress, startHttp } from '../../relay/http.ts';
import { createLogger } from '../../relay/log.ts';
import { issueDeviceToken } from '../../relay/token-issuer.ts';
import { Rules } from '../../src/rules/index.ts';
import { startHub } from '../helpers/relay.ts';

const FAST = { listen: ['/ip4/127.0.0.1/tcp/0'], backoffBaseMs: 50, backoffCapMs: 200 };
const RULES = Rules.parse({
  collections: {
    bugs: { read: { $or: [{ assignee: { $auth: 'sub' } }, { '$auth.role': 'admin' }] }, write: { '$auth.role': 'admin' } },
    audit: { read: false },
  },
});

type Hub = Awaited<ReturnType<typeof startHub>>;

function token(relay: Hub, sub: string, options: { claims?: Record<string, unknown>; query?: boolean; dbId?: string } = {}) {
  return issueDeviceToken(relay.keys.tokenKey, {
    sub,
    dbId: options.dbId ?? 'team',
    claims: options.claims ?? {},
    query: options.query ?? true,
    ttlSeconds: 3600,
    nowSeconds: Math.floor(Date.now() / 1000),
  });
}

/** A relay holding team's bugs (three each for ann and bob, written by an admin device), with HTTP. */
async function relayWithBugs(rules: Rules | null) {
  const relay = await startHub({ rules });
  const http = await startHttp(relay.hub, { host: '127.0.0.1', port: 0 }, createLogger('silent'));
  const admin = await BlazeDB.open({ storage: 'memory', dbId: 'team' });
  try {
    if (rules) await admin.setSyncFilter({ collections: { bugs: {} } });
    await admin.enableSync({
      ...FAST,
      relay: relay.address,
      token: await token(relay, 'root', { claims: { role: 'admin' }, query: false }),
    });
    for (const assignee of ['ann', 'bob']) for (const n of [1, 2, 3]) await admin.collection('bugs').insert({ assignee, n });
    await admin.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    await closeAll(relay, http); // a failed setup must not leave the test process hanging
    throw err;
  } finally {
    await admin.close();
  }
  return { relay, http, url: `http://${httpAddress(http)}/query` };
}

async function post(url: string, body: unknown, auth?: string, method = 'POST') {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    ...(method === 'POST' ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function closeAll(relay: Hub, http: Server) {
  await new Promise((resolve) => http.close(resolve));
  await relay[Symbol.asyncDispose]();
}

describe('relay query endpoint', () => {
  it('should answer a query token within the read rules, and refuse everything else with a status, writing nothing', async () => {
    const { relay, http, url } = await relayWithBugs(RULES);
    try {
      const ann = await token(relay, 'ann');
      const mine = await post(url, { db: 'team', collection: 'bugs', where: { n: { $gte: 2 } }, sort: { n: -1 } }, ann);
      assert.equal(mine.status, 200, JSON.stringify(mine.body));
      assert.deepEqual(
        mine.body.records.map((r: { assignee: string; n: number }) => [r.assignee, r.n]),
        [
          ['ann', 3],
          ['ann', 2],
        ],
      );
      const all = await post(url, { db: 'team', collection: 'bugs', limit: 4 }, await token(relay, 'x', { claims: { role: 'admin' } }));
      assert.equal(all.body.records.length, 4);
      const ops = (await relay.hub.database('team')).stats().opCount;
      const bigWhere = { note: 'x'.repeat(70_000) };
      const cases: [string, unknown, string | undefined, number, RegExp][] = [
        ['no token', { db: 'team', collection: 'bugs' }, undefined, 401, /Bearer/],
        [
          'a sync token',
          { db: 'team', collection: 'bugs' },
          await token(relay, 'ann', { query: false }),
          401,
          /for sync cannot be used for query/,
        ],
        ['garbage', { db: 'team', collection: 'bugs' }, 'aaa.bbb.ccc', 401, /malformed/],
        ['another database', { db: 'team', collection: 'bugs' }, await token(relay, 'ann', { dbId: 'other' }), 401, /audience/],
        [
          'a database not held',
          { db: 'other', collection: 'bugs' },
          await token(relay, 'ann', { dbId: 'other' }),
          404,
          /no database 'other'/,
        ],
        ['a collection the rules close', { db: 'team', collection: 'audit' }, ann, 403, /read nothing of 'audit'/],
        ['an unlisted collection', { db: 'team', collection: 'users' }, ann, 403, /read nothing of 'users'/],
        ['a bad query', { db: 'team', collection: 'bugs', where: { n: { $near: 1 } } }, ann, 400, /unknown operator \$near/],
        ['a bad limit', { db: 'team', collection: 'bugs', limit: -1 }, ann, 400, /limit/],
        ['an unknown key', { db: 'team', collection: 'bugs', drop: true }, ann, 400, /drop: unknown key/],
        ['not JSON', '{', ann, 400, /not JSON/],
        ['too big', { db: 'team', collection: 'bugs', where: bigWhere }, ann, 413, /over 65536 bytes/],
      ];
      for (const [name, body, auth, status, message] of cases) {
        const answer = await post(url, body, auth);
        assert.equal(answer.status, status, `${name}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.error.message, message, name);
      }
      assert.equal((await post(url, undefined, ann, 'GET')).status, 405);
      assert.equal((await relay.hub.database('team')).stats().opCount, ops, 'nothing written');
      assert.match(await relay.hub.metrics.text(), /blaze_auth_failures_total\{reason="rules"\} 2/);

      // A query token cannot sync: a leaked one cannot write.
      const device = await BlazeDB.open({ storage: 'memory', dbId: 'team' });
      await device.setSyncFilter({ collections: { bugs: { where: { assignee: 'ann' } } } });
      const mesh = await MeshPeer.start(device, { ...FAST, relay: relay.address, token: ann });
      const why = await new Promise<string>((resolve) => mesh.on('peer:disconnected', ({ reason }) => resolve(reason)));
      await mesh.stop();
      await device.close();
      assert.match(why, /unauthorized.*for query cannot be used for sync/);
    } finally {
      await closeAll(relay, http);
    }
  });

  it('should let any query token of the database read all of it without rules', async () => {
    const { relay, http, url } = await relayWithBugs(null);
    try {
      const answer = await post(url, { db: 'team', collection: 'bugs', where: { assignee: 'bob' } }, await token(relay, 'ann'));
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.records.map((r: { n: number }) => r.n).sort(), [1, 2, 3]);
    } finally {
      await closeAll(relay, http);
    }
  });
});
