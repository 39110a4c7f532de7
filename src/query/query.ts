/**
 * The query language shared by `find`, live queries, and later selective-sync filters and relay
 * rules. A query is a JSON-like object, validated once into a `Condition` tree:
 *
 *   { status: 'open', priority: { $gte: 5 }, 'meta.owner': { $exists: true },
 *     $or: [{ tags: 'ui' }, { tags: 'login' }], $not: { assignee: null } }
 *
 * Field keys are dotted paths into nested maps. A plain value means `$eq`. Operators:
 * $eq $ne $gt $gte $lt $lte $in $nin $exists, and at any level $and $or $not.
 * On an array field, `$eq`/`$in` and the comparisons match when any element does (so
 * `{ tags: 'ui' }` finds records whose tag set holds 'ui'); `$ne`/`$nin` are their negations.
 * Comparisons only match values of the same kind (numbers with numbers, strings with strings...).
 */
import { ValidationError } from '../errors.ts';
import { validateValue } from '../values/validate.ts';
import { isPlainObject, type Value } from '../values/value.ts';

/** A query as the API takes it. */
export type Query = { readonly [key: string]: unknown };

export type CompareOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte';

export type Condition =
  | { readonly op: CompareOp; readonly path: readonly string[]; readonly value: Value }
  | { readonly op: 'in' | 'nin'; readonly path: readonly string[]; readonly values: readonly Value[] }
  | { readonly op: 'exists'; readonly path: readonly string[]; readonly exists: boolean }
  | { readonly op: 'and' | 'or'; readonly items: readonly Condition[] }
  | { readonly op: 'not'; readonly item: Condition };

/** A query that the caller got wrong: names the part and what is wrong with it. */
export class QueryError extends ValidationError {
  override name = 'QueryError';
}

const COMPARE_OPS: Record<string, CompareOp> = { $eq: 'eq', $ne: 'ne', $gt: 'gt', $gte: 'gte', $lt: 'lt', $lte: 'lte' };
const MAX_QUERY_DEPTH = 32;

/** Validates `query` and returns its condition tree. Throws QueryError naming the problem. */
export function parseQuery(query: unknown): Condition {
  if (query === undefined) return { op: 'and', items: [] };
  return parseObject(query, 'query', 0);
}

function parseObject(query: unknown, at: string, depth: number): Condition {
  if (typeof query !== 'object' || query === null || Array.isArray(query) || !isPlainObject(query)) {
    throw new QueryError(at, 'a query is a plain object of field conditions');
  }
  if (depth > MAX_QUERY_DEPTH) throw new QueryError(at, `nested deeper than ${MAX_QUERY_DEPTH}`);
  const items: Condition[] = [];
  for (const [key, spec] of Object.entries(query)) {
    const where = `${at}.${key}`;
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(spec) || spec.length === 0) throw new QueryError(where, `${key} takes a non-empty array of queries`);
      checkNoHoles(spec, where);
      items.push({ op: key === '$and' ? 'and' : 'or', items: spec.map((q, i) => parseObject(q, `${where}[${i}]`, depth + 1)) });
    } else if (key === '$not') {
      items.push({ op: 'not', item: parseObject(spec, where, depth + 1) });
    } else if (key.startsWith('$')) {
      throw new QueryError(where, `unknown operator ${key} (top level takes field paths, $and, $or, $not)`);
    } else {
      items.push(...parseField(key, spec, where));
    }
  }
  return items.length === 1 ? (items[0] as Condition) : { op: 'and', items };
}

function parsePath(key: string, where: string): string[] {
  const path = key.split('.');
  if (path.some((p) => p.length === 0)) throw new QueryError(where, `bad field path '${key}'`);
  return path;
}

function parseField(key: string, spec: unknown, where: string): Condition[] {
  const path = parsePath(key, where);
  const isOperatorObject =
    typeof spec === 'object' &&
    spec !== null &&
    !Array.isArray(spec) &&
    isPlainObject(spec) &&
    Object.keys(spec).some((k) => k.startsWith('$'));
  if (!isOperatorObject) return [{ op: 'eq', path, value: checkValue(spec, where) }];
  const out: Condition[] = [];
  for (const [op, arg] of Object.entries(spec as Record<string, unknown>)) {
    const at = `${where}.${op}`;
    const compare = COMPARE_OPS[op];
    if (compare) {
      out.push({ op: compare, path, value: checkValue(arg, at) });
    } else if (op === '$in' || op === '$nin') {
      if (!Array.isArray(arg)) throw new QueryError(at, `${op} takes an array of values`);
      checkNoHoles(arg, at);
      out.push({ op: op === '$in' ? 'in' : 'nin', path, values: arg.map((v, i) => checkValue(v, `${at}[${i}]`)) });
    } else if (op === '$exists') {
      if (typeof arg !== 'boolean') throw new QueryError(at, '$exists takes true or false');
      out.push({ op: 'exists', path, exists: arg });
    } else {
      throw new QueryError(at, `unknown operator ${op} (one of $eq $ne $gt $gte $lt $lte $in $nin $exists)`);
    }
  }
  return out;
}

/** `map` and `some` skip array holes; a hole in a query is an error, not nothing. */
function checkNoHoles(list: unknown[], where: string): void {
  for (let i = 0; i < list.length; i++) if (!Object.hasOwn(list, i)) throw new QueryError(`${where}[${i}]`, 'sparse array hole');
}

function checkValue(v: unknown, where: string): Value {
  try {
    validateValue(v, where);
  } catch (err) {
    if (err instanceof ValidationError) throw new QueryError(err.path, err.reason);
    throw err;
  }
  return v as Value;
}
