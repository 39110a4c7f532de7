import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeRead, Rules, RulesError } from '../../src/rules/index.ts';
import { SyncFilter } from '../../src/sync/filter.ts';

const RULES = {
  collections: {
    bugs: { read: { $or: [{ assignee: { $auth: 'sub' } }, { '$auth.role': { $in: ['admin', 'lead'] } }] } },
    projects: { read: true },
    notes: { read: { team: { $auth: 'team' }, archived: { $ne: true } } },
    audit: { read: false },
  },
};

const filter = (collections: Record<string, unknown>) => SyncFilter.parse({ collections });
const allowed = (claims: Record<string, unknown>) => Rules.parse(RULES).allowedFilter(claims)?.spec;

describe('read and write rules', () => {
  it('should refuse a bad rules document, naming the part', () => {
    const cases: [unknown, RegExp][] = [
      [null, /^rules:/],
      [{ collections: [] }, /^rules:/],
      [{ collections: {}, extra: 1 }, /rules\.extra/],
      [{ collections: { '': { read: true } } }, /collection name must not be empty/],
      [{ collections: { bugs: true } }, /rules\.collections\.bugs/],
      [{ collections: { bugs: {} } }, /no read rule/],
      [{ collections: { bugs: { read: true, delete: true } } }, /rules\.collections\.bugs\.delete: unknown key/],
      [{ collections: { bugs: { read: true, write: 'yes' } } }, /rules\.collections\.bugs\.write: a rule is true, false or a query/],
      [{ collections: { bugs: { read: true, write: { n: { $near: 1 } } } } }, /bugs\.write\.n\.\$near: unknown operator/],
      [{ collections: { bugs: { read: 'yes' } } }, /true, false or a query/],
      [{ collections: { bugs: { read: { n: { $near: 1 } } } } }, /rules\.collections\.bugs\.read\.n\.\$near: unknown operator \$near/],
      [{ collections: { bugs: { read: { n: { $auth: 'sub', extra: 1 } } } } }, /takes a claim path and nothing else/],
      [{ collections: { bugs: { read: { n: { $auth: 7 } } } } }, /takes a claim path/],
      [{ collections: { bugs: { read: { '$auth.': 'x' } } } }, /names no claim/],
      [{ collections: { bugs: { read: { '$auth.role': 'admin', status: { $in: 5 } } } } }, /status.\$in: \$in takes an array/],
      [{ collections: { bugs: { read: { $or: 'x' } } } }, /\$or takes a non-empty array/],
    ];
    for (const [input, message] of cases) {
      assert.throws(
        () => Rules.parse(input),
        (err: Error) => err instanceof RulesError && message.test(err.message),
        JSON.stringify(input),
      );
    }
  });

  it("should turn the rules into the filter a token's claims may hold", () => {
    assert.deepEqual(allowed({ sub: 'ann', team: 'red' }), {
      collections: {
        bugs: { where: { assignee: 'ann' } },
        projects: {},
        notes: { where: { $and: [{ team: 'red' }, { archived: { $ne: true } }] } },
      },
    });
    // A claim test that holds opens the whole collection; a missing claim closes the rule.
    assert.deepEqual(allowed({ sub: 'lee', role: 'lead' }), { collections: { bugs: {}, projects: {} } });
    assert.deepEqual(allowed({ sub: 'lee', role: ['dev', 'admin'] }), { collections: { bugs: {}, projects: {} } });
  });

  it('should deny a rule whose claim the token lacks, even under $not or $ne', () => {
    const rules = Rules.parse({
      collections: {
        a: { read: { $not: { owner: { $auth: 'org' } } } },
        b: { read: { owner: { $ne: { $auth: 'org' } } } },
        c: { read: { '$auth.org': { $exists: false } } },
        d: { read: { '$auth.meta': 'x' } },
      },
    });
    assert.equal(rules.allowedFilter({ sub: 'x' }), undefined);
    assert.equal(rules.allowedFilter({ sub: 'x', meta: { nested: 1 } }), undefined, 'an object claim is no value');
    assert.deepEqual(rules.allowedFilter({ sub: 'x', org: 'acme' })?.spec, {
      collections: { a: { where: { $not: { owner: 'acme' } } }, b: { where: { owner: { $ne: 'acme' } } } },
    });
  });

  it('should admit a filter within what the claims may read and refuse any wider one', () => {
    const rules = Rules.parse(RULES);
    const ann = { sub: 'ann', team: 'red' };
    assert.equal(judgeRead(rules, ann, filter({ bugs: { where: { assignee: 'ann' } } })), true);
    assert.equal(judgeRead(rules, ann, filter({ bugs: { where: { assignee: 'ann', status: 'open' } }, projects: {} })), true);
    assert.equal(judgeRead(rules, ann, filter({ notes: { where: { archived: { $ne: true }, team: 'red', pinned: true } } })), true);
    assert.equal(judgeRead(rules, ann, filter({ projects: { where: { active: true } } })), true);
    const refusals: [SyncFilter | undefined, RegExp][] = [
      [undefined, /part of the database only/],
      [filter({ bugs: {} }), /asks for more/],
      [filter({ bugs: { where: { assignee: 'bob' } } }), /asks for more/],
      [filter({ bugs: { where: { $or: [{ assignee: 'ann' }, { assignee: 'bob' }] } } }), /asks for more/],
      [filter({ notes: { where: { team: 'red' } } }), /asks for more/],
      [filter({ audit: {} }), /asks for more/],
      [filter({ unlisted: {} }), /asks for more/],
    ];
    for (const [f, message] of refusals) {
      const verdict = judgeRead(rules, ann, f);
      assert.ok(verdict !== true && message.test(verdict), JSON.stringify(f?.spec));
      assert.match(verdict as string, /"assignee":"ann"/, 'the refusal names what may be read');
    }
    assert.match(judgeRead(Rules.parse({ collections: { audit: { read: false } } }), ann, undefined) as string, /read nothing/);
  });

  it('should allow a write only when the record matches the write rule before and after it', () => {
    const rules = Rules.parse({
      collections: {
        bugs: { read: true, write: { $or: [{ assignee: { $auth: 'sub' } }, { '$auth.role': 'admin' }] } },
        projects: { read: true, write: true },
        audit: { read: true },
        notes: { read: true, write: { owner: { $auth: 'team' } } },
      },
    });
    const ann = { sub: 'ann' };
    const mine = { assignee: 'ann', title: 't' };
    const bobs = { assignee: 'bob', title: 't' };
    assert.equal(rules.mayWrite(ann, 'bugs', undefined, mine), true, 'insert of her own');
    assert.equal(rules.mayWrite(ann, 'bugs', undefined, bobs), false, "insert of bob's");
    assert.equal(rules.mayWrite(ann, 'bugs', mine, { ...mine, title: 'u' }), true, 'update of her own');
    assert.equal(rules.mayWrite(ann, 'bugs', mine, bobs), false, 'moving one out of what she may write');
    assert.equal(rules.mayWrite(ann, 'bugs', bobs, mine), false, 'taking one over');
    assert.equal(rules.mayWrite(ann, 'bugs', mine, undefined), true, 'delete of her own');
    assert.equal(rules.mayWrite(ann, 'bugs', bobs, undefined), false, "delete of bob's");
    assert.equal(rules.mayWrite({ sub: 'x', role: 'admin' }, 'bugs', bobs, mine), true, 'an admin writes anything');
    assert.equal(rules.mayWrite(ann, 'projects', undefined, { any: 1 }), true);
    assert.equal(rules.mayWrite(ann, 'audit', undefined, { any: 1 }), false, 'no write rule: not writable');
    assert.equal(rules.mayWrite(ann, 'other', undefined, { any: 1 }), false, 'an unlisted collection');
    assert.equal(rules.mayWrite(ann, 'notes', undefined, { owner: 'ann' }), false, 'a missing claim never allows');
    assert.equal(rules.anyWritable, true);
    assert.equal(Rules.parse({ collections: { a: { read: true } } }).anyWritable, false);
    assert.deepEqual(rules.spec.collections.audit, { read: true }, 'the spec keeps what was written');
  });
});
