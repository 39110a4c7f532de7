/**
 * Row-level rules: which records of which collections a device may read and write, as predicates
 * over record fields and the claims of its device token, in the query language of `find`.
 *
 *   { "collections": {
 *       "bugs":     { "read":  { "$or": [ { "assignee": { "$auth": "sub" } },
 *                                        { "$auth.role": { "$in": ["admin"] } } ] },
 *                     "write": { "assignee": { "$auth": "sub" } } },
 *       "projects": { "read": true, "write": { "$auth.role": "admin" } } } }
 *
 * - `read` and `write` are `true` (every record), `false`, or a query. No `write`: not writable. A field key is a record field path; a
 *   key `$auth.<claim path>` tests the token's claims instead; the value `{ "$auth": "<claim
 *   path>" }` stands for a claim's value wherever a query takes a value.
 * - What the rules do not list is denied: unlisted collections, and a test that names a claim
 *   the token lacks counts as failed, so a missing claim never widens a rule (under `$not` the
 *   test counts as passed, so the `$not` fails).
 * - For one token a rule becomes a plain query over record fields (claims substituted, claim
 *   tests decided), and the collections' read rules together a selective-sync filter: the most
 *   that device may hold (`allowedFilter`). It syncs as a partial replica within it.
 * - A write (one op) is allowed when the record matches the collection's write rule both before
 *   it (if the record existed) and after it (unless it deleted the record): a device cannot move
 *   a record out of what it may write, nor into it (`judgeWrite`).
 *
 * Declarative only: nothing is evaluated but the query language.
 */
import { ValidationError } from '../errors.ts';
import { type Condition, parseQuery, type Query } from '../query/index.ts';
import { matches } from '../query/match.ts';
import { type CollectionFilterSpec, SyncFilter } from '../sync/filter.ts';
import { validateName } from '../values/validate.ts';
import { isRecordObject, type Value, type ValueMap } from '../values/value.ts';

/** A bad rules file: names the part and what is wrong with it. */
export class RulesError extends ValidationError {
  override name = 'RulesError';
}

/** The token claims rules read (a JWT payload). */
export type Claims = Readonly<Record<string, unknown>>;

type Rule = boolean | Query;

const AUTH_KEY = '$auth.';
const AUTH_VALUE = '$auth';
/** Stands in for claim values while a rule is checked at load time. */
const PLACEHOLDER = 'claim';

/** A claim a rule names is not in the token (see `fold`). */
class MissingClaim extends Error {}

type CollectionSpec = { readonly read: Rule; readonly write?: Rule };

export class Rules {
  /** The rules as given (checked): what a relay signs and serves to peers. */
  readonly spec: { readonly collections: Readonly<Record<string, CollectionSpec>> };
  readonly #read: ReadonlyMap<string, Rule>;
  readonly #write: ReadonlyMap<string, Rule>;
  /** Write conditions per token (claims object), per collection: a relay judges every op. */
  readonly #writeFor = new WeakMap<Claims, Map<string, Condition | boolean>>();

  private constructor(collections: Map<string, CollectionSpec>) {
    this.#read = new Map([...collections].map(([name, c]) => [name, c.read]));
    this.#write = new Map([...collections].map(([name, c]) => [name, c.write ?? false]));
    this.spec = { collections: Object.fromEntries(collections) };
  }

  /** Checks a rules document (parsed JSON). Throws RulesError naming the problem. */
  static parse(input: unknown): Rules {
    if (!isRecordObject(input) || !isRecordObject(input.collections))
      throw new RulesError('rules', 'rules are { "collections": { name: { "read": rule, "write": rule } } }');
    const extra = Object.keys(input).find((k) => k !== 'collections');
    if (extra !== undefined) throw new RulesError(`rules.${extra}`, 'unknown key (only collections)');
    const collections = new Map<string, CollectionSpec>();
    for (const [name, entry] of Object.entries(input.collections)) {
      const at = `rules.collections.${name}`;
      asRulesError(() => validateName(name, at, 'collection name'));
      if (!isRecordObject(entry)) throw new RulesError(at, 'takes { "read": true | false | query, "write": true | false | query }');
      const unknown = Object.keys(entry).find((key) => key !== 'read' && key !== 'write');
      if (unknown !== undefined) throw new RulesError(`${at}.${unknown}`, 'unknown key (read, write)');
      if (entry.read === undefined) throw new RulesError(at, 'has no read rule');
      const read = checkRule(entry.read, `${at}.read`);
      collections.set(name, entry.write === undefined ? { read } : { read, write: checkRule(entry.write, `${at}.write`) });
    }
    return new Rules(collections);
  }

  /** Whether any collection may be written by someone (a rule other than false). */
  get anyWritable(): boolean {
    return [...this.#write.values()].some((rule) => rule !== false);
  }

  /**
   * Whether a device with these claims may make this change to a record of `collection`:
   * `before`/`after` are the record without and with the op (undefined: absent or deleted).
   */
  mayWrite(claims: Claims, collection: string, before: ValueMap | undefined, after: ValueMap | undefined): boolean {
    let perToken = this.#writeFor.get(claims);
    if (!perToken) {
      perToken = new Map();
      this.#writeFor.set(claims, perToken);
    }
    let condition = perToken.get(collection);
    if (condition === undefined) {
      const rule = forClaims(this.#write.get(collection) ?? false, claims);
      condition = typeof rule === 'boolean' ? rule : parseQuery(rule);
      perToken.set(collection, condition);
    }
    if (typeof condition === 'boolean') return condition;
    return (before === undefined || matches(before, condition)) && (after === undefined || matches(after, condition));
  }

  /**
   * The most a device with these claims may hold: a selective-sync filter of the collections it
   * may read, each with its rule as `where`. Undefined when it may read none.
   */
  allowedFilter(claims: Claims): SyncFilter | undefined {
    const collections: Record<string, CollectionFilterSpec> = {};
    for (const [name, rule] of this.#read) {
      const where = forClaims(rule, claims);
      if (where === false) continue;
      collections[name] = where === true ? {} : { where };
    }
    return Object.keys(collections).length === 0 ? undefined : SyncFilter.parse({ collections });
  }
}

/**
 * Whether a device with these claims may sync with this filter (undefined: a full replica):
 * true, or why not. Its filter must lie within `allowedFilter` (see SyncFilter.isSubsetOf).
 */
export function judgeRead(rules: Rules, claims: Claims, filter: SyncFilter | undefined): true | string {
  const allowed = rules.allowedFilter(claims);
  if (!allowed) return 'the rules let this device read nothing';
  const within = `sync with a filter within ${JSON.stringify(allowed.spec)}`;
  if (!filter) return `the rules let this device read part of the database only: ${within}`;
  if (!filter.isSubsetOf(allowed)) return `the filter asks for more than the rules let this device read: ${within}`;
  return true;
}

/** A rule as written, checked: every part now, so a bad query fails at load, not on some token later. */
function checkRule(rule: unknown, at: string): Rule {
  if (typeof rule === 'boolean') return rule;
  if (!isRecordObject(rule)) throw new RulesError(at, 'a rule is true, false or a query');
  asRulesError(() => parseQuery(checkable(rule, at)), at);
  return rule as Query;
}

/** A rule for one token: true, false, or a query over record fields. */
function forClaims(rule: Rule, claims: Claims): Rule {
  return typeof rule === 'boolean' ? rule : fold(rule, (path) => claimAt(claims, path), 'rule');
}

/**
 * A query for one token: a decided claim test drops out (true) or makes the conjunction false;
 * `$and`, `$or` and `$not` fold decided parts the same way. The parts left are and-ed. A test
 * that names a claim the token lacks is decided the way that narrows what may be read (false,
 * or true under an odd number of `$not`s), so a missing claim never widens a rule.
 */
function fold(query: Query, claim: (path: string) => Value, at: string, negated = false): Query | boolean {
  const parts: Query[] = [];
  for (const [key, spec] of Object.entries(query)) {
    const where = `${at}.${key}`;
    let part: Query | boolean;
    if (key === '$and' || key === '$or') {
      const items = (spec as unknown[]).map((item, i) => fold(item as Query, claim, `${where}[${i}]`, negated));
      part = combine(key, items);
    } else if (key === '$not') {
      const item = fold(spec as Query, claim, where, !negated);
      part = typeof item === 'boolean' ? !item : { $not: item };
    } else {
      try {
        part = key.startsWith(AUTH_KEY)
          ? claimTest(key.slice(AUTH_KEY.length), spec, claim, where)
          : { [key]: substitute(spec, claim, where) };
      } catch (err) {
        if (!(err instanceof MissingClaim)) throw err;
        part = negated;
      }
    }
    if (part === false) return false;
    if (part !== true) parts.push(part);
  }
  if (parts.length === 0) return true;
  return parts.length === 1 ? (parts[0] as Query) : { $and: parts };
}

/** `$and`/`$or` of folded items: decided ones drop out or decide it. */
function combine(key: '$and' | '$or', items: (Query | boolean)[]): Query | boolean {
  const decides = key === '$or';
  if (items.some((i) => i === decides)) return decides;
  const open = items.filter((i): i is Query => typeof i !== 'boolean');
  if (open.length === 0) return !decides;
  return open.length === 1 ? (open[0] as Query) : { [key]: open };
}

/**
 * A rule's query with claim tests as fields and claim values as placeholders, for parseQuery to
 * check: every part is checked, whatever a token's claims would decide.
 */
function checkable(query: Query, at: string): Query {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(query)) {
    const where = `${at}.${key}`;
    if (key.startsWith(AUTH_KEY)) {
      if (key.length === AUTH_KEY.length) throw new RulesError(where, 'names no claim');
      out[`auth.${key.slice(AUTH_KEY.length)}`] = substitute(spec, () => PLACEHOLDER, where);
    } else if (key === '$and' || key === '$or') {
      if (!Array.isArray(spec)) throw new RulesError(where, `${key} takes a non-empty array of queries`);
      out[key] = spec.map((item, i) => (isRecordObject(item) ? checkable(item, `${where}[${i}]`) : item));
    } else if (key === '$not') {
      out[key] = isRecordObject(spec) ? checkable(spec, where) : spec;
    } else {
      out[key] = substitute(spec, () => PLACEHOLDER, where);
    }
  }
  return out;
}

/** `$auth.<path>: spec`: the query `{ path: spec }` over the token's claims, decided now. */
function claimTest(path: string, spec: unknown, claim: (path: string) => Value, where: string): boolean {
  const value = claim(path);
  const condition = asRulesError(() => parseQuery({ claim: substitute(spec, claim, where) }));
  return matches({ claim: value } as ValueMap, condition);
}

/** A field condition with every `{ $auth: path }` replaced by that claim's value. */
function substitute(spec: unknown, claim: (path: string) => Value, where: string): unknown {
  if (Array.isArray(spec)) return spec.map((item, i) => substitute(item, claim, `${where}[${i}]`));
  if (!isRecordObject(spec)) return spec;
  const keys = Object.keys(spec);
  if (keys.includes(AUTH_VALUE)) {
    if (keys.length !== 1 || typeof spec.$auth !== 'string' || spec.$auth.length === 0)
      throw new RulesError(`${where}.$auth`, '{ "$auth": "<claim path>" } takes a claim path and nothing else');
    return claim(spec.$auth);
  }
  return Object.fromEntries(keys.map((k) => [k, substitute(spec[k], claim, `${where}.${k}`)]));
}

/** A claim's value by dotted path; throws MissingClaim (see `fold`). */
function claimAt(claims: Claims, path: string): Value {
  let v: unknown = claims;
  for (const key of path.split('.')) {
    if (!isRecordObject(v) || !Object.hasOwn(v, key)) throw new MissingClaim(path);
    v = v[key];
  }
  if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) return v as Value;
  if (Array.isArray(v) && v.every((e) => e === null || ['string', 'number', 'boolean'].includes(typeof e))) return v as Value;
  throw new MissingClaim(path); // an object claim is not a value a rule can compare
}

/** Runs `fn`, its ValidationErrors as RulesErrors; a query's paths (`query.x`) put under `at`. */
function asRulesError<T>(fn: () => T, at?: string): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof ValidationError) || err instanceof RulesError) throw err;
    const path = at !== undefined && err.path.startsWith('query') ? at + err.path.slice('query'.length) : err.path;
    throw new RulesError(path, err.reason);
  }
}
