import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG, loadConfig } from '../../relay/config.ts';
import { initDataDir, loadDataDir } from '../../relay/data-dir.ts';
import { tempDir } from '../helpers/db.ts';

describe('blaze-node configuration', () => {
  it('should take defaults, then the file, then the environment, then flags', () => {
    const dir = tempDir('blaze-node-config-');
    try {
      assert.deepEqual(loadConfig({}, {}), DEFAULT_CONFIG);
      const file = join(dir.path, 'relay.json');
      writeFileSync(
        file,
        JSON.stringify({
          maxConnections: 10,
          http: null,
          databases: ['team', 'ops'],
          listen: ['/ip4/127.0.0.1/tcp/5000'],
          logLevel: 'warn',
        }),
      );
      const fromFile = loadConfig({}, {}, file);
      assert.equal(fromFile.maxConnections, 10);
      assert.equal(fromFile.http, null);
      assert.deepEqual(fromFile.databases, ['team', 'ops']);
      const layered = loadConfig(
        { logLevel: 'debug' },
        { BLAZE_NODE_MAX_CONNECTIONS: '20', BLAZE_NODE_LOG_LEVEL: 'error', BLAZE_NODE_HTTP: '[::1]:9000' },
        file,
      );
      assert.equal(layered.maxConnections, 20);
      assert.equal(layered.logLevel, 'debug');
      assert.deepEqual(layered.http, { host: '::1', port: 9000 });
      assert.equal(loadConfig({ evictAfterSeconds: '7d', gcAuthority: 'false', databases: '*' }, {}).evictAfterSeconds, 7 * 86_400);
      assert.equal(loadConfig({ gcIntervalSeconds: '5s' }, {}).gcIntervalSeconds, 5);
      assert.equal(loadConfig({}, {}).gcIntervalSeconds, 60);
      const rulesFile = join(dir.path, 'rules.json');
      writeFileSync(rulesFile, JSON.stringify({ collections: { bugs: { read: { owner: { $auth: 'sub' } } } } }));
      writeFileSync(file, JSON.stringify({ rules: rulesFile }));
      assert.deepEqual(loadConfig({}, {}, file).rules?.allowedFilter({ sub: 'ann' })?.spec, {
        collections: { bugs: { where: { owner: 'ann' } } },
      });
      assert.equal(loadConfig({ rules: 'none' }, {}, file).rules, null);
    } finally {
      dir.cleanup();
    }
  });

  it('should refuse every bad value, naming where it came from', () => {
    const dir = tempDir('blaze-node-config-');
    try {
      const cases: [Parameters<typeof loadConfig>[0], Record<string, string>, RegExp][] = [
        [{ http: 'nowhere' }, {}, /--http/],
        [{ http: 'host:99999' }, {}, /--http/],
        [{ listen: 'not-an-address' }, {}, /--listen/],
        [{ maxConnections: '0' }, {}, /--max-connections/],
        [{ maxConnections: '1.5' }, {}, /--max-connections/],
        [{ databases: 'ok,bad id' }, {}, /--databases/],
        [{ evictAfterSeconds: 'soon' }, {}, /--evict-after/],
        [{ gcIntervalSeconds: '0s' }, {}, /--gc-interval/],
        [{ stallTimeoutSeconds: 'never' }, {}, /--stall-timeout/],
        [{ gcAuthority: 'yes' }, {}, /--gc-authority/],
        [{}, { BLAZE_NODE_DURABILITY: 'sometimes' }, /BLAZE_NODE_DURABILITY/],
        [{}, { BLAZE_NODE_LOG_LEVEL: 'loud' }, /BLAZE_NODE_LOG_LEVEL/],
      ];
      for (const [flags, env, source] of cases) assert.throws(() => loadConfig(flags, env), { name: 'RelayConfigError', message: source });
      const files: [string, string, RegExp][] = [
        ['unknown.json', '{"maxConections": 3}', /maxConections: unknown setting/],
        ['array.json', '[1]', /not a JSON object/],
        ['broken.json', '{', /not JSON/],
        ['nested.json', '{"http": {"host": "x"}}', /http: unexpected value/],
      ];
      for (const [name, text, source] of files) {
        const file = join(dir.path, name);
        writeFileSync(file, text);
        assert.throws(() => loadConfig({}, {}, file), { name: 'RelayConfigError', message: source }, name);
      }
      assert.throws(() => loadConfig({}, {}, join(dir.path, 'missing.json')), { name: 'RelayConfigError', message: /cannot read/ });
      const rules: [string, string, RegExp][] = [
        ['rules-broken.json', '{', /--rules: .*rules-broken.json: not JSON/],
        [
          'rules-write.json',
          '{"collections":{"bugs":{"read":true,"write":"yes"}}}',
          /rules\.collections\.bugs\.write: a rule is true, false or a query/,
        ],
        ['rules-query.json', '{"collections":{"bugs":{"read":{"n":{"$near":1}}}}}', /--rules: .*unknown operator \$near/],
      ];
      for (const [name, text, message] of rules) {
        const file = join(dir.path, name);
        writeFileSync(file, text);
        assert.throws(() => loadConfig({ rules: file }, {}), { name: 'RelayConfigError', message }, name);
      }
      assert.throws(() => loadConfig({}, { BLAZE_NODE_RULES: join(dir.path, 'none.json') }), {
        name: 'RelayConfigError',
        message: /BLAZE_NODE_RULES: .*cannot read/,
      });
    } finally {
      dir.cleanup();
    }
  });

  it('should create keys once, keep them across loads, and share a token key on request', async () => {
    const dir = tempDir('blaze-node-keys-');
    try {
      await assert.rejects(loadDataDir(join(dir.path, 'a')), { name: 'NotInitializedError' });
      const a = await initDataDir(join(dir.path, 'a'));
      await assert.rejects(initDataDir(join(dir.path, 'a')), { name: 'AlreadyInitializedError' });
      const loaded = await loadDataDir(join(dir.path, 'a'));
      assert.equal(loaded.peerId, a.peerId);
      assert.deepEqual(loaded.tokenKey, a.tokenKey);
      const b = await initDataDir(join(dir.path, 'b'), { tokenKeyFrom: join(dir.path, 'a') });
      assert.notEqual(b.peerId, a.peerId);
      assert.deepEqual(b.tokenKey, a.tokenKey);
      writeFileSync(join(dir.path, 'a', 'identity.key'), 'not hex\n');
      await assert.rejects(loadDataDir(join(dir.path, 'a')), { name: 'RelayConfigError' });
    } finally {
      dir.cleanup();
    }
  });
});
