import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../node/index.ts';
import { tempDir } from '../helpers/db.ts';
import { PeerClient } from '../helpers/peer-client.ts';
import { blazeNode, freePort, RelayProcess } from '../helpers/relay-process.ts';

const BLAZE = new URL('../../node/cli/blaze.ts', import.meta.url).pathname;
function blazeCli(...args: string[]) {
  const r = spawnSync(process.execPath, [BLAZE, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const run = (argv: string[]) => spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });

describe('blaze-node processes', () => {
  it('should init a data directory once, issue tokens on stdout alone, and refuse bad usage and config', () => {
    const dir = tempDir('blaze-node-cli-');
    try {
      const init = blazeNode(['init', '--data', dir.path]);
      assert.equal(init.code, 0, init.stderr);
      assert.match(init.stdout, /peer id: 12D3KooW/);
      const again = blazeNode(['init', '--data', dir.path]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /AlreadyInitializedError/);
      const token = blazeNode([
        'token',
        '--data',
        dir.path,
        '--sub',
        'ann',
        '--db-id',
        'team',
        '--claims',
        '{"role":"admin"}',
        '--ttl',
        '7d',
      ]);
      assert.equal(token.code, 0, token.stderr);
      assert.match(token.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      const payload = JSON.parse(Buffer.from(token.stdout.split('.')[1] as string, 'base64url').toString());
      assert.equal(payload.sub, 'ann');
      assert.equal(payload.aud, 'team');
      assert.equal(payload.role, 'admin');
      assert.equal(payload.exp - payload.iat, 7 * 86_400);
      const query = blazeNode(['token', '--data', dir.path, '--sub', 'ops', '--db-id', 'team', '--query']);
      assert.equal(JSON.parse(Buffer.from(query.stdout.split('.')[1] as string, 'base64url').toString()).use, 'query');
      for (const [args, code, pattern] of [
        [['token', '--data', dir.path, '--sub', 'ann'], 2, /--db-id/],
        [['token', '--data', dir.path, '--sub', 'ann', '--db-id', 'team', '--claims', '{"sub":"root"}'], 1, /claims\.sub/],
        [['token', '--data', dir.path, '--sub', 'ann', '--db-id', 'team', '--peer', 'nope'], 2, /peer id/],
        [['token', '--data', dir.path, '--sub', 'ann', '--db-id', 'team', '--query', '--peer', 'x'], 2, /bound to no --peer/],
        [['token', '--data', dir.path, '--sub', 'ann', '--db-id', 'team', '--claims', '{"use":"query"}'], 1, /claims\.use/],
        [['start', '--data', dir.path, '--http', 'nowhere'], 1, /RelayConfigError: --http/],
        [['launch'], 2, /unknown command/],
      ] as [string[], number, RegExp][]) {
        const result = blazeNode(args);
        assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, pattern, args.join(' '));
        assert.equal(result.stdout, '', args.join(' '));
      }
      const rulesFile = join(dir.path, 'rules.json');
      writeFileSync(
        rulesFile,
        JSON.stringify({ collections: { bugs: { read: { $or: [{ owner: { $auth: 'sub' } }, { '$auth.role': 'admin' }] } } } }),
      );
      const ann = blazeNode(['rules', '--rules', rulesFile, '--sub', 'ann']);
      assert.equal(ann.code, 0, ann.stderr);
      assert.deepEqual(JSON.parse(ann.stdout), { collections: { bugs: { where: { owner: 'ann' } } } });
      assert.deepEqual(JSON.parse(blazeNode(['rules', '--rules', rulesFile, '--sub', 'x', '--claims', '{"role":"admin"}']).stdout), {
        collections: { bugs: {} },
      });
      writeFileSync(rulesFile, JSON.stringify({ collections: { bugs: { read: { owner: { $near: 1 } } } } }));
      const bad = blazeNode(['rules', '--rules', rulesFile, '--sub', 'ann']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /RelayConfigError: --rules: .*read\.owner\.\$near: unknown operator/);
      const configFile = join(dir.path, 'bad.json');
      writeFileSync(configFile, JSON.stringify({ maxConnections: 0 }));
      const fromFile = blazeNode(['start', '--data', join(dir.path, 'fresh'), '--config', configFile]);
      assert.equal(fromFile.code, 1);
      assert.match(fromFile.stderr, /bad\.json: maxConnections/);
      assert.ok(!existsSync(join(dir.path, 'fresh')), 'a refused config creates nothing');
    } finally {
      dir.cleanup();
    }
  });

  it('should lose no acknowledged op when killed -9 mid-stream, let clients resume, and shut down on SIGTERM with a reason', async () => {
    const dir = tempDir('blaze-node-kill-');
    const port = await freePort();
    const args = ['--data', dir.path, '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--http', '127.0.0.1:0', '--gc-authority', 'false'];
    let { relay, started } = await RelayProcess.start(args);
    const clients: PeerClient[] = [];
    try {
      const address = (started.addresses as string[])[0] as string;
      const http = started.http as string;
      const health = await fetch(`http://${http}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, 'ok');
      for (const writer of ['a', 'b']) {
        const token = blazeNode(['token', '--data', dir.path, '--sub', writer, '--db-id', 'team']).stdout.trim();
        clients.push(
          await PeerClient.start(run, {
            dbId: 'team',
            mesh: { relay: address, token, backoffBaseMs: 100, backoffCapMs: 500, batchWindowMs: 5 },
          }),
        );
      }
      const [a, b] = clients as [PeerClient, PeerClient];
      const writes = [
        a.call('writeDurably', { collection: 'bugs', writer: 'a', count: 3000, batch: 50 }),
        b.call('writeDurably', { collection: 'bugs', writer: 'b', count: 3000, batch: 50 }),
      ];
      await a.waitFor((e) => e.event === 'durable' && (e.n as number) >= 500, 60_000);
      assert.equal(await relay.kill('SIGKILL'), null);
      // What the relay had acknowledged when it died: every one must survive.
      const acked = (client: PeerClient) => Math.max(0, ...client.events.filter((e) => e.event === 'durable').map((e) => e.n as number));
      const ackedBeforeKill = { a: acked(a), b: acked(b) };
      ({ relay, started } = await RelayProcess.start(args));
      await Promise.all(writes);
      const metrics = await (await fetch(`http://${started.http as string}/metrics`)).text();
      assert.match(metrics, /blaze_peers_connected\{db="team"\} 2/);
      // Process metrics: what shows an operator a relay that stalls.
      assert.match(metrics, /^nodejs_eventloop_lag_max_seconds \d/m);
      assert.match(metrics, /^# TYPE nodejs_gc_duration_seconds histogram/m);
      // Both clients hold every write of both, once the relay came back.
      const deadline = Date.now() + 30_000;
      while ((await a.call('count', { collection: 'bugs' })) !== 6000 || (await b.call('count', { collection: 'bugs' })) !== 6000) {
        assert.ok(Date.now() < deadline, 'clients converged after the restart');
        await new Promise((r) => setTimeout(r, 200));
      }
      // The blaze CLI with a device token: caught up both ways, or refused with the reason.
      const phone = join(dir.path, 'phone');
      const addressNow = (started.addresses as string[])[0] as string;
      assert.equal(blazeCli('--db', phone, 'init', '--db-id', 'team').code, 0);
      assert.equal(blazeCli('--db', phone, 'insert', 'bugs', '{"writer":"phone"}').code, 0);
      const phoneToken = blazeNode(['token', '--data', dir.path, '--sub', 'phone', '--db-id', 'team']).stdout.trim();
      const synced = blazeCli('--db', phone, 'sync', '--once', '--relay', addressNow, '--token', phoneToken);
      assert.equal(synced.code, 0, synced.stderr);
      assert.equal(blazeCli('--db', phone, 'find', 'bugs', '{}', '--json').stdout.split('"writer"').length - 1, 6001);
      const wrongDb = blazeNode(['token', '--data', dir.path, '--sub', 'phone', '--db-id', 'elsewhere']).stdout.trim();
      const refused = blazeCli('--db', phone, 'sync', '--once', '--relay', addressNow, '--token', wrongDb);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /unauthorized.*audience/);
      // SIGTERM: sessions end with the relay's reason, the process exits 0.
      assert.equal(await relay.kill('SIGTERM'), 0);
      await a.waitFor((e) => e.event === 'disconnected' && /relay shutting down/.test(e.reason as string));
      assert.ok(relay.logs.some((l) => l.msg === 'stopped'));
      const store = await BlazeDB.open({ path: join(dir.path, 'dbs', 'team'), create: false });
      try {
        for (const [writer, n] of Object.entries(ackedBeforeKill))
          assert.ok((await store.collection('bugs').count({ writer })) >= n, writer);
        assert.equal(await store.collection('bugs').count(), 6001);
      } finally {
        await store.close();
      }
    } finally {
      await relay.kill('SIGKILL');
      for (const c of clients) await c.stop();
      dir.cleanup();
    }
  });
});
