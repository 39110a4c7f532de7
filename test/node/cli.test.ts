import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/db.ts';

const BLAZE = new URL('../../node/cli/blaze.ts', import.meta.url).pathname;

function blaze(...args: string[]) {
  const r = spawnSync(process.execPath, [BLAZE, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe('blaze CLI', () => {
  it('should run the local commands end to end, in tables and in JSON', () => {
    const dir = tempDir();
    try {
      const db = ['--db', dir.path];
      assert.equal(blaze(...db, 'init', '--db-id', 'bugs-db').code, 0);
      const id = blaze(...db, 'insert', 'bugs', '{"title":"Login broken","priority":5,"views":0}').out;
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.equal(blaze(...db, 'insert', 'bugs', '{"title":"Crash","priority":9}', '--id', 'b2').out, 'b2');
      assert.equal(blaze(...db, 'update', 'bugs', id, '{"priority":10}').code, 0);
      assert.equal(blaze(...db, 'incr', 'bugs', id, 'views', '3').code, 0);
      assert.equal(blaze(...db, 'add', 'bugs', 'b2', 'tags', 'ui').code, 0);
      assert.equal(blaze(...db, 'add', 'bugs', 'b2', 'tags', '42').code, 0);
      assert.equal(blaze(...db, 'remove', 'bugs', 'b2', 'tags', '42').code, 0);
      assert.deepEqual(JSON.parse(blaze(...db, 'get', 'bugs', id, '--json').out), {
        _id: id,
        title: 'Login broken',
        priority: 10,
        views: 3,
      });
      assert.deepEqual(JSON.parse(blaze(...db, 'get', 'bugs', 'b2', '--json').out).tags, ['ui']);
      const found = JSON.parse(blaze(...db, 'find', 'bugs', '{"priority":{"$gte":9}}', '--sort', '{"priority":-1}', '--json').out);
      assert.deepEqual(
        found.map((r: { _id: string }) => r._id),
        [id, 'b2'],
      );
      const table = blaze(...db, 'find', 'bugs', '{"priority":9}').out.split('\n');
      assert.match(table[0] as string, /^_id\s+priority\s+tags\s+title$/);
      assert.match(table[2] as string, /^b2\s+9\s+\["ui"\]\s+Crash$/);
      const history = JSON.parse(blaze(...db, 'history', 'bugs', id, '--json').out);
      assert.deepEqual(
        history.map((e: { kind: string }) => e.kind),
        ['insert', 'update', 'update'],
      );
      const stats = JSON.parse(blaze(...db, 'stats', '--json').out);
      assert.equal(stats.dbId, 'bugs-db');
      assert.deepEqual(stats.collections, { bugs: 2 });
      assert.equal(stats.opCount, 7);
      assert.match(blaze(...db, 'stats').out, /database id\s+bugs-db/);
      assert.equal(blaze(...db, 'conflicts').out, '(no conflicts)');
      assert.equal(blaze(...db, 'delete', 'bugs', 'b2').code, 0);
      assert.equal(blaze(...db, 'get', 'bugs', 'b2').code, 1);
      assert.equal(blaze(...db, 'filter').out, '(none: a full replica)');
      const filter = '{"collections":{"bugs":{"where":{"priority":{"$gte":10}},"exclude":["views"]}}}';
      assert.deepEqual(JSON.parse(blaze(...db, 'filter', filter, '--json').out).filter, JSON.parse(filter));
      assert.deepEqual(JSON.parse(blaze(...db, 'get', 'bugs', id, '--json').out), { _id: id, title: 'Login broken', priority: 10 });
    } finally {
      dir.cleanup();
    }
  });

  it('should compact on the home relay, keep the data, and show GC state in stats', () => {
    const dir = tempDir();
    try {
      const db = ['--db', dir.path];
      assert.equal(blaze(...db, 'init', '--db-id', 'gc-db').code, 0);
      const id = blaze(...db, 'insert', 'bugs', '{"title":"a"}').out;
      assert.equal(blaze(...db, 'update', 'bugs', id, '{"title":"b"}').code, 0);
      // Not the home relay: no frontier, nothing removed.
      assert.equal(JSON.parse(blaze(...db, 'compact', '--json').out).removed, 0);
      // Its own home relay with no other member: everything it holds is stable.
      const result = JSON.parse(blaze(...db, 'compact', '--gc-authority', '--json').out);
      assert.equal(result.removed, 2);
      assert.equal(result.opCount, 0);
      assert.equal(JSON.parse(blaze(...db, 'get', 'bugs', id, '--json').out).title, 'b');
      const stats = JSON.parse(blaze(...db, 'stats', '--json').out);
      assert.equal(stats.opCount, 0);
      assert.equal(Object.values(stats.gc.frontier)[0], 2);
      assert.equal(stats.gc.lastCompaction.removed, 2);
      assert.match(blaze(...db, 'stats').out, /gc frontier/);
      assert.equal(blaze(...db, 'history', 'bugs', id, '--json').out, '[]');
      const misuse = blaze(...db, 'get', 'bugs', id, '--gc-authority');
      assert.equal(misuse.code, 2);
    } finally {
      dir.cleanup();
    }
  });

  it('should exit non-zero with a one-line message on bad input, changing nothing', () => {
    const dir = tempDir();
    try {
      const db = ['--db', dir.path];
      blaze(...db, 'init', '--db-id', 'x');
      const cases: [string[], number, RegExp][] = [
        [[...db, 'frob'], 2, /unknown command 'frob'/],
        [[...db, 'insert', 'bugs'], 2, /usage: blaze --db DIR insert COLLECTION JSON/],
        [[...db, 'insert', 'bugs', '{nope'], 2, /not valid JSON/],
        [[...db, 'insert', 'bugs', '[1]'], 2, /JSON object/],
        [[...db, 'incr', 'bugs', 'a', 'n', 'x'], 2, /N must be an integer/],
        [[...db, 'find', 'bugs', '{"a":{"$regex":1}}'], 1, /QueryError: .*unknown operator \$regex/],
        [[...db, 'update', 'bugs', 'missing', '{"a":1}'], 1, /NotFoundError/],
        [[...db, 'insert', '_schema', '{}'], 1, /ValidationError/],
        [[...db, 'get', 'bugs', 'a', '--bogus'], 2, /Unknown option '--bogus'/],
        [['get', 'bugs', 'a'], 2, /--db DIR is required/],
        [['--db', `${dir.path}/elsewhere`, 'get', 'bugs', 'a'], 1, /no BlazeDB store/],
        [[...db, 'init', '--db-id', 'other'], 1, /DatabaseIdMismatchError/],
        [[...db, 'filter', '{"collections":{}}'], 1, /FilterError/],
        [[...db, 'filter', '{nope'], 2, /not valid JSON/],
      ];
      for (const [args, code, message] of cases) {
        const r = blaze(...args);
        assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, ${r.err}`);
        assert.match(r.err, message);
        assert.equal(r.err.split('\n').length, 1, 'one line');
      }
      assert.equal(JSON.parse(blaze(...db, 'stats', '--json').out).opCount, 0);
      assert.match(blaze('--help').out, /usage: blaze --db DIR COMMAND/);
      assert.match(blaze('find', '--help').out, /find COLLECTION \[QUERY_JSON\]/);
    } finally {
      dir.cleanup();
    }
  });
});
